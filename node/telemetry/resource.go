package telemetry

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/chainotel/chainotel/semconv"
)

// newResource describes the node as CONVENTIONS.md says. OTEL_SERVICE_NAME
// and OTEL_RESOURCE_ATTRIBUTES are merged last, so an operator's explicit
// environment wins over the flags.
func newResource(ctx context.Context, c Config) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{
		attribute.String(semconv.ServiceNameKey, semconv.ServiceName),
		attribute.String(semconv.ServiceInstanceIDKey, c.NodeID),
	}
	for key, v := range map[string]string{
		semconv.ServiceVersionKey:        c.ServiceVersion,
		semconv.DeploymentEnvironmentKey: c.Environment,
		semconv.ChainIDKey:               c.ChainID,
		semconv.ChainConsensusKey:        c.Consensus,
	} {
		if v != "" {
			attrs = append(attrs, attribute.String(key, v))
		}
	}
	r, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(attrs...),
		resource.WithFromEnv(),
	)
	if errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("%w: OTEL_RESOURCE_ATTRIBUTES or OTEL_SERVICE_NAME: %v", errInvalidEnv, err)
	}
	if err != nil {
		return nil, fmt.Errorf("build resource: %w", err)
	}
	return r, nil
}
