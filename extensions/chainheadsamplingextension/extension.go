package chainheadsamplingextension

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/chainotel/chainotel/extensions/chainheadsamplingextension/internal/metadata"
	"github.com/chainotel/chainotel/extensions/chainheadsamplingextension/internal/strategy"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/policyfile"
)

const (
	// SamplingPath is where strategies are served: GET
	// /sampling?service=NAME, Jaeger's remote sampling path.
	SamplingPath = "/sampling"
	// reloadDebounce matches the chainsampling processor's: a refused edit
	// is logged within a second of being saved.
	reloadDebounce = 100 * time.Millisecond
)

// headSampling is the extension: the head section in force, the HTTP server
// that serves it and the watch that follows the file.
type headSampling struct {
	cfg *Config
	set extension.Settings
	tel *metadata.TelemetryBuilder

	head atomic.Pointer[policyfile.Head] // in force; never nil

	reloadMu sync.Mutex // serialises reloads
	lastSeen []byte     // content of the file at the last reload attempt
	unread   bool       // the last read failed (logged once until it succeeds)

	server *http.Server
	served chan struct{} // closed when Serve returns
	stop   func()
	done   <-chan struct{} // the watch's; nil without one
}

var _ extension.Extension = (*headSampling)(nil)

func newHeadSampling(set extension.Settings, cfg *Config) (*headSampling, error) {
	head, data, err := policyfile.LoadHead(cfg.PolicyFile)
	if err != nil {
		return nil, fmt.Errorf("policy_file: %w", err)
	}
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	h := &headSampling{cfg: cfg, set: set, tel: tel, lastSeen: data, stop: func() {}}
	h.head.Store(head)
	return h, nil
}

func (h *headSampling) Start(ctx context.Context, host component.Host) error {
	ln, err := h.cfg.HTTP.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("chainheadsampling: listen on %s: %w", h.cfg.HTTP.NetAddr.Endpoint, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(SamplingPath, h.serveStrategy)
	h.server, err = h.cfg.HTTP.ToServer(ctx, host.GetExtensions(), h.set.TelemetrySettings, mux)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("chainheadsampling: http server: %w", err)
	}
	if h.cfg.WatchPolicyFile {
		wctx, cancel := context.WithCancel(context.Background())
		done, err := policyfile.Watch(wctx, h.cfg.PolicyFile, reloadDebounce, h.reload, func(err error) {
			h.set.Logger.Warn("watching the sampling policy file", zap.String("policy_file", h.cfg.PolicyFile), zap.Error(err))
		})
		if err != nil {
			cancel()
			_ = ln.Close()
			return fmt.Errorf("chainheadsampling: %w", err)
		}
		h.stop, h.done = cancel, done
	}
	h.served = make(chan struct{})
	go func() {
		defer close(h.served)
		if err := h.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.set.Logger.Error("serving head sampling strategies", zap.Error(err))
		}
	}()
	h.set.Logger.Info("serving head sampling strategies",
		zap.String("url", "http://"+ln.Addr().String()+SamplingPath+"?service=NAME"),
		zap.String("policy_file", h.cfg.PolicyFile))
	return nil
}

func (h *headSampling) Shutdown(ctx context.Context) error {
	var err error
	if h.server != nil {
		err = h.server.Shutdown(ctx)
		<-h.served
	}
	h.stop()
	if h.done != nil {
		<-h.done
	}
	h.tel.Shutdown()
	return err
}

// serveStrategy answers GET /sampling?service=NAME with the service's
// strategy from the file as it is now.
func (h *headSampling) serveStrategy(w http.ResponseWriter, r *http.Request) {
	code := h.writeStrategy(w, r)
	h.tel.ExtensionChainheadsamplingRequests.Add(r.Context(), 1, metric.WithAttributes(attribute.Int("code", code)))
}

func (h *headSampling) writeStrategy(w http.ResponseWriter, r *http.Request) int {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "only GET is served", http.StatusMethodNotAllowed)
		return http.StatusMethodNotAllowed
	}
	service := r.URL.Query().Get("service")
	if service == "" {
		http.Error(w, "the service query parameter is required: "+SamplingPath+"?service=NAME", http.StatusBadRequest)
		return http.StatusBadRequest
	}
	if h.cfg.WatchPolicyFile {
		// An edit is served on the next poll even before the watch fires.
		h.reload()
	}
	body, err := strategy.Marshal(h.head.Load().Service(service))
	if err != nil {
		http.Error(w, "encoding the strategy: "+err.Error(), http.StatusInternalServerError)
		return http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
	return http.StatusOK
}

// reload reads the policy file and serves its head section if the file
// changed and is valid. A refused file is logged with file, line and
// problem, counted, and the previous strategies stay.
func (h *headSampling) reload() {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	ctx := context.Background()
	data, err := os.ReadFile(h.cfg.PolicyFile)
	if err != nil {
		if !h.unread {
			h.tel.ExtensionChainheadsamplingPolicyReloadFailures.Add(ctx, 1)
			h.set.Logger.Error("sampling policy file unreadable; previous head strategies stay served", zap.String("policy_file", h.cfg.PolicyFile), zap.Error(err))
		}
		h.unread = true
		return
	}
	h.unread = false
	if bytes.Equal(data, h.lastSeen) {
		return
	}
	h.lastSeen = data
	head, err := policyfile.ParseHead(h.cfg.PolicyFile, data)
	if err != nil {
		h.tel.ExtensionChainheadsamplingPolicyReloadFailures.Add(ctx, 1)
		h.set.Logger.Error("sampling policy refused; previous head strategies stay served", zap.String("policy_file", h.cfg.PolicyFile), zap.Error(err))
		return
	}
	h.head.Store(head)
	h.tel.ExtensionChainheadsamplingPolicyReloads.Add(ctx, 1)
	h.set.Logger.Info("head sampling strategies reloaded", zap.String("policy_file", h.cfg.PolicyFile), zap.Int("services", len(head.Services)), zap.Float64("keep", head.Keep))
}
