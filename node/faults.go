package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/semconv"
)

// FaultPath is the debug fault endpoint on the health port, served only with
// Config.DebugFaults (--debug-faults): POST /debug/fault?kind=<kind>[&peer=<node id>]
// makes the node fail on purpose so that tests and operators can watch the
// failure travel through the telemetry pipeline. It answers 202 with a
// FaultReport; an unknown kind answers 400.
const FaultPath = "/debug/fault"

// Fault kinds, named after the error categories they produce.
const (
	// FaultPanic panics in a guarded goroutine: the panic span and log are
	// recorded, telemetry flushed, and the process exits non-zero.
	FaultPanic = semconv.ErrorGoroutinePanic
	// FaultConsensusTimeout records a consensus.timeout as the engine does
	// when a leader is lost or a proposal is not committed in time.
	FaultConsensusTimeout = semconv.ErrorConsensusTimeout
	// FaultP2PDisconnect records a p2p.disconnect for a peer (the peer query
	// parameter, default the first other validator) as a dead probe does.
	FaultP2PDisconnect = semconv.ErrorP2PDisconnect
	// FaultStorageError records a failed store write (error.type=storage_error).
	FaultStorageError = semconv.ErrorStorage
	// FaultHTTPPanic panics in the fault endpoint's own HTTP handler: the
	// request is answered 500, the panic span and log are recorded, and the
	// node goes on serving.
	FaultHTTPPanic = "http_panic"
	// FaultGRPCPanic makes the next peer Hello call this node serves panic
	// in its gRPC handler: the call fails with codes.Internal, the panic
	// span and log are recorded, and the node goes on serving.
	FaultGRPCPanic = "grpc_panic"
)

// faultKinds lists the kinds FaultPath accepts. The short forms
// (panic, ...) are accepted too.
func faultKinds() []string {
	return []string{FaultPanic, FaultConsensusTimeout, FaultP2PDisconnect, FaultStorageError, FaultHTTPPanic, FaultGRPCPanic}
}

// errInjected is the error the injected faults carry.
var errInjected = errors.New("injected by POST " + FaultPath)

// FaultReport is the answer of FaultPath.
type FaultReport struct {
	Kind string `json:"kind"`
	// TraceID is the trace of the error span (empty for a panic, whose span
	// is made by the panic guard, and when tracing is off).
	TraceID string `json:"trace_id,omitempty"`
}

// healthHandler is the API's health handler plus Config.HealthRoutes and,
// when enabled, the fault endpoint. ctx is the node's run context (the panic
// goroutine's).
func (n *Node) healthHandler(ctx context.Context) http.Handler {
	h := n.api.HealthHandler()
	if !n.cfg.DebugFaults && len(n.cfg.HealthRoutes) == 0 {
		return h
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	for pattern, route := range n.cfg.HealthRoutes {
		mux.Handle(pattern, route)
	}
	if !n.cfg.DebugFaults {
		return mux
	}
	mux.HandleFunc("POST "+FaultPath, func(w http.ResponseWriter, r *http.Request) { n.serveFault(ctx, w, r) })
	return mux
}

func (n *Node) serveFault(runCtx context.Context, w http.ResponseWriter, r *http.Request) {
	kind := normalizeFault(r.URL.Query().Get("kind"))
	var rep FaultReport
	switch kind {
	case FaultPanic:
		writeJSONStatus(w, http.StatusAccepted, FaultReport{Kind: kind})
		// The answer goes out before the process ends.
		_ = http.NewResponseController(w).Flush()
		n.log.Warn("panicking on purpose", "path", FaultPath)
		n.cfg.Go.Start(runCtx, nil, "debug.fault", func(context.Context) {
			panic(fmt.Sprintf("debug fault: %v", errInjected))
		})
		return
	case FaultHTTPPanic:
		n.log.Warn("panicking on purpose in an HTTP handler", "path", FaultPath)
		panic(fmt.Sprintf("debug fault %s: %v", kind, errInjected))
	case FaultGRPCPanic:
		n.log.Warn("the next peer hello call will panic on purpose", "path", FaultPath)
		n.panicNextCall.Store(true)
	case FaultConsensusTimeout:
		rep = n.faultConsensusTimeout()
	case FaultP2PDisconnect:
		peer := r.URL.Query().Get("peer")
		if peer == "" {
			peer = n.otherValidator()
		}
		ctx, span := n.tracer.Start(context.Background(), "debug.fault "+kind)
		n.peers.Disconnected(ctx, peer, fmt.Errorf("peer %s: %w", peer, errInjected))
		span.End()
		rep = FaultReport{TraceID: traceIDOf(span)}
	case FaultStorageError:
		rep = n.faultStorage()
	default:
		writeJSONStatus(w, http.StatusBadRequest, map[string]string{
			"error": fmt.Sprintf("kind %q: want one of %s (or panic for goroutine_panic)",
				r.URL.Query().Get("kind"), strings.Join(faultKinds(), ", ")),
		})
		return
	}
	rep.Kind = kind
	writeJSONStatus(w, http.StatusAccepted, rep)
}

// normalizeFault accepts "panic" for goroutine_panic, and the categories.
func normalizeFault(kind string) string {
	if kind == "panic" {
		return FaultPanic
	}
	if slices.Contains(faultKinds(), kind) {
		return kind
	}
	return ""
}

func (n *Node) faultConsensusTimeout() FaultReport {
	head, _ := n.store.Head()
	st := n.engine.Status()
	ctx, span := n.tracer.Start(context.Background(), semconv.SpanConsensusTimeout, trace.WithAttributes(
		attribute.String(semconv.ErrorTypeKey, semconv.ErrorConsensusTimeout),
		attribute.Int64(semconv.BlockHeightKey, int64(head.Height)),
		attribute.Int64(semconv.HeadHeightKey, int64(head.Height)),
		attribute.Int64(semconv.ConsensusTermKey, int64(st.Term)),
		attribute.String(semconv.ConsensusValidatorKey, n.cfg.NodeID)))
	defer span.End()
	span.RecordError(errInjected)
	span.SetStatus(codes.Error, "no commit within the deadline: "+errInjected.Error())
	n.log.ErrorContext(ctx, "no commit within the deadline", "term", st.Term,
		semconv.ErrorTypeKey, semconv.ErrorConsensusTimeout, semconv.ExceptionMessageKey, errInjected.Error())
	return FaultReport{TraceID: traceIDOf(span)}
}

func (n *Node) faultStorage() FaultReport {
	head, _ := n.store.Head()
	ctx, span := n.tracer.Start(context.Background(), semconv.SpanStoreWrite, trace.WithAttributes(
		attribute.String(semconv.ErrorTypeKey, semconv.ErrorStorage),
		attribute.Int64(semconv.BlockHeightKey, int64(head.Height+1)),
		attribute.Int64(semconv.HeadHeightKey, int64(head.Height))))
	defer span.End()
	err := fmt.Errorf("badger write: %w", errInjected)
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
	n.log.ErrorContext(ctx, "store write failed", "err", err,
		semconv.ErrorTypeKey, semconv.ErrorStorage, semconv.ExceptionMessageKey, err.Error())
	return FaultReport{TraceID: traceIDOf(span)}
}

// otherValidator is a validator other than this node, for p2p_disconnect.
func (n *Node) otherValidator() string {
	for _, v := range n.genesis.Validators {
		if v != n.cfg.NodeID {
			return v
		}
	}
	return n.cfg.NodeID
}

func traceIDOf(span trace.Span) string {
	if sc := span.SpanContext(); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
