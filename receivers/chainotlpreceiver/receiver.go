package chainotlpreceiver

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor"
)

// retryAfter is the delay a refused request is told to wait (gRPC
// RetryInfo, HTTP Retry-After) while the sampler's buffer is full.
const retryAfter = time.Second

// dataFormatProtobuf is what the receiver metrics call the format.
const (
	dataFormatProtobuf = "protobuf"
	dataFormatJSON     = "json"
)

// chainOTLP is the receiver: its servers and the sampler they feed.
type chainOTLP struct {
	cfg     *Config
	set     receiver.Settings
	sampler *chainsamplingprocessor.OTLPSampler

	obsGRPC, obsHTTP *receiverhelper.ObsReport

	serverGRPC *grpc.Server
	serverHTTP *http.Server
	wg         sync.WaitGroup

	// grpcAddr and httpAddr are where the servers listen, once started.
	grpcAddr, httpAddr net.Addr
}

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Traces) (*chainOTLP, error) {
	sampler, err := chainsamplingprocessor.NewOTLPSampler(processor.Settings{
		ID: set.ID, TelemetrySettings: set.TelemetrySettings, BuildInfo: set.BuildInfo,
	}, &cfg.Sampling, next)
	if err != nil {
		return nil, err
	}
	r := &chainOTLP{cfg: cfg, set: set, sampler: sampler}
	if r.obsGRPC, err = receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID: set.ID, Transport: "grpc", ReceiverCreateSettings: set,
	}); err != nil {
		return nil, err
	}
	if r.obsHTTP, err = receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID: set.ID, Transport: "http", ReceiverCreateSettings: set,
	}); err != nil {
		return nil, err
	}
	return r, nil
}

// Start implements component.Component.
func (r *chainOTLP) Start(ctx context.Context, host component.Host) error {
	if err := r.sampler.Start(ctx, host); err != nil {
		return err
	}
	// On an error the collector calls Shutdown, as for the core receiver.
	if err := r.startGRPC(ctx, host); err != nil {
		return err
	}
	return r.startHTTP(ctx, host)
}

// Shutdown stops the servers, then decides every buffered trace and sends
// the kept ones on.
func (r *chainOTLP) Shutdown(ctx context.Context) error {
	var err error
	if r.serverHTTP != nil {
		err = r.serverHTTP.Shutdown(ctx)
	}
	if r.serverGRPC != nil {
		r.serverGRPC.GracefulStop()
	}
	r.wg.Wait()
	return errors.Join(err, r.sampler.Shutdown(ctx))
}

func (r *chainOTLP) startGRPC(ctx context.Context, host component.Host) error {
	if !r.cfg.Protocols.GRPC.HasValue() {
		return nil
	}
	cfg := r.cfg.Protocols.GRPC.Get()
	var err error
	r.serverGRPC, err = cfg.ToServer(ctx, host.GetExtensions(), r.set.TelemetrySettings,
		configgrpcCodecOption())
	if err != nil {
		return err
	}
	r.serverGRPC.RegisterService(&traceServiceDesc, r)
	ln, err := cfg.NetAddr.Listen(ctx)
	if err != nil {
		return err
	}
	r.grpcAddr = ln.Addr()
	r.set.Logger.Info("Starting GRPC server", zap.String("endpoint", ln.Addr().String()))
	r.wg.Go(func() {
		if err := r.serverGRPC.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	})
	return nil
}

func (r *chainOTLP) startHTTP(ctx context.Context, host component.Host) error {
	if !r.cfg.Protocols.HTTP.HasValue() {
		return nil
	}
	cfg := r.cfg.Protocols.HTTP.Get()
	p, err := tracesPath(cfg.TracesURLPath)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc(p, r.handleTraces)
	if r.serverHTTP, err = cfg.ServerConfig.ToServer(ctx, host.GetExtensions(), r.set.TelemetrySettings, mux,
		confighttpErrorHandler()); err != nil {
		return err
	}
	var ln net.Listener
	if ln, err = cfg.ServerConfig.ToListener(ctx); err != nil {
		return err
	}
	r.httpAddr = ln.Addr()
	r.set.Logger.Info("Starting HTTP server", zap.String("endpoint", ln.Addr().String()))
	r.wg.Go(func() {
		if err := r.serverHTTP.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	})
	return nil
}

// export hands one request's encoded bytes to the sampler, with the
// receiver metrics of the core receiver. errMalformed reports a request
// the decoder refuses, which the caller answers as the core receiver
// answers a request it cannot decode.
func (r *chainOTLP) export(ctx context.Context, obs *receiverhelper.ObsReport, format string, data []byte) error {
	if len(data) == 0 {
		return nil // an empty request: nothing to count, as the core receiver
	}
	ctx = obs.StartTracesOp(ctx)
	n, err := r.sampler.ConsumeOTLP(ctx, data)
	if errors.Is(err, chainsamplingprocessor.ErrMalformed) {
		obs.EndTracesOp(ctx, format, 0, nil)
		return errMalformed{err}
	}
	obs.EndTracesOp(ctx, format, n, err)
	if err != nil {
		return statusOf(err)
	}
	return nil
}

// errMalformed wraps a request the decoder refuses.
type errMalformed struct{ error }

func (e errMalformed) Unwrap() error { return e.error }

// statusOf is the gRPC status of an error of the pipeline, as the core
// receiver makes it (internal/errors.GetStatusFromError): a status as it
// is, Internal for a permanent error, Unavailable (retryable) otherwise.
// A full sampling buffer also says when to retry.
func statusOf(err error) error {
	if s, ok := status.FromError(err); ok {
		return s.Err()
	}
	if consumererror.IsPermanent(err) {
		return status.New(codes.Internal, err.Error()).Err()
	}
	s := status.New(codes.Unavailable, err.Error())
	if errors.Is(err, chainsamplingprocessor.ErrFull) {
		if d, derr := s.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(retryAfter)}); derr == nil {
			s = d
		}
	}
	return s.Err()
}
