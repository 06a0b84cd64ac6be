// Package strategy writes a service's head sampling probabilities as the
// Jaeger remote sampling protocol's strategy response (api_v2
// SamplingStrategyResponse in its JSON form, with enums as strings, which
// Jaeger's own clients and OpenTelemetry's jaegerremote samplers read).
package strategy

import (
	"encoding/json"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/policyfile"
)

// Response is api_v2.SamplingStrategyResponse.
type Response struct {
	StrategyType          string         `json:"strategyType"`
	ProbabilisticSampling *Probabilistic `json:"probabilisticSampling,omitempty"`
	OperationSampling     *PerOperation  `json:"operationSampling,omitempty"`
}

// Probabilistic is api_v2.ProbabilisticSamplingStrategy.
type Probabilistic struct {
	SamplingRate float64 `json:"samplingRate"`
}

// PerOperation is api_v2.PerOperationSamplingStrategies. The lower bound
// stays 0: a rate the policy file does not state would keep traces the
// operator asked to drop.
type PerOperation struct {
	DefaultSamplingProbability       float64     `json:"defaultSamplingProbability"`
	DefaultLowerBoundTracesPerSecond float64     `json:"defaultLowerBoundTracesPerSecond"`
	PerOperationStrategies           []Operation `json:"perOperationStrategies"`
}

// Operation is api_v2.OperationSamplingStrategy.
type Operation struct {
	Operation             string        `json:"operation"`
	ProbabilisticSampling Probabilistic `json:"probabilisticSampling"`
}

// probabilisticType is api_v2.SamplingStrategyType PROBABILISTIC.
const probabilisticType = "PROBABILISTIC"

// For is the strategy of service s: probabilistic at the service's default,
// and per operation when the service names operations.
func For(s policyfile.HeadService) Response {
	r := Response{StrategyType: probabilisticType, ProbabilisticSampling: &Probabilistic{SamplingRate: s.Keep}}
	if len(s.Operations) == 0 {
		return r
	}
	ops := make([]Operation, 0, len(s.Operations))
	for _, op := range s.Operations {
		ops = append(ops, Operation{Operation: op.Name, ProbabilisticSampling: Probabilistic{SamplingRate: op.Keep}})
	}
	r.OperationSampling = &PerOperation{DefaultSamplingProbability: s.Keep, PerOperationStrategies: ops}
	return r
}

// Marshal is For as JSON.
func Marshal(s policyfile.HeadService) ([]byte, error) {
	return json.Marshal(For(s))
}
