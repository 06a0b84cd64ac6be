package chainpolicypreviewextension

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/chainotel/chainotel/extensions/chainpolicypreviewextension/internal/metadata"
	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/preview"
)

const (
	// PreviewPath is where previews are served: GET for the live policy's
	// figures, POST with a candidate policy file as the body for the
	// candidate's beside the live one's.
	PreviewPath = "/preview"
	// defaultCandidateFile names a posted policy in error messages unless
	// the file query parameter names it.
	defaultCandidateFile = "candidate.yaml"
)

// policyPreview is the extension: the registered processors and the HTTP
// server that previews against them.
type policyPreview struct {
	cfg *Config
	set extension.Settings
	tel *metadata.TelemetryBuilder

	mu         sync.Mutex
	previewers map[component.ID]preview.Previewer

	server *http.Server
	served chan struct{} // closed when Serve returns
}

var (
	_ extension.Extension = (*policyPreview)(nil)
	_ preview.Registry    = (*policyPreview)(nil)
)

func newPolicyPreview(set extension.Settings, cfg *Config) (*policyPreview, error) {
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	return &policyPreview{cfg: cfg, set: set, tel: tel, previewers: map[component.ID]preview.Previewer{}}, nil
}

// Register implements preview.Registry.
func (pp *policyPreview) Register(id component.ID, p preview.Previewer) (func(), error) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if _, ok := pp.previewers[id]; ok {
		return nil, fmt.Errorf("%s: %w", id, preview.ErrDuplicate)
	}
	pp.previewers[id] = p
	return func() {
		pp.mu.Lock()
		defer pp.mu.Unlock()
		if pp.previewers[id] == p {
			delete(pp.previewers, id)
		}
	}, nil
}

func (pp *policyPreview) Start(ctx context.Context, host component.Host) error {
	ln, err := pp.cfg.HTTP.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("chainpolicypreview: listen on %s: %w", pp.cfg.HTTP.NetAddr.Endpoint, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(PreviewPath, pp.servePreview)
	pp.server, err = pp.cfg.HTTP.ToServer(ctx, host.GetExtensions(), pp.set.TelemetrySettings, mux)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("chainpolicypreview: http server: %w", err)
	}
	pp.served = make(chan struct{})
	go func() {
		defer close(pp.served)
		if err := pp.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			pp.set.Logger.Error("serving policy previews", zap.Error(err))
		}
	}()
	pp.set.Logger.Info("serving policy previews", zap.String("url", "http://"+ln.Addr().String()+PreviewPath))
	return nil
}

func (pp *policyPreview) Shutdown(ctx context.Context) error {
	var err error
	if pp.server != nil {
		err = pp.server.Shutdown(ctx)
		<-pp.served
	}
	pp.tel.Shutdown()
	return err
}

func (pp *policyPreview) servePreview(w http.ResponseWriter, r *http.Request) {
	code, body := pp.answer(r)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
	pp.tel.ExtensionChainpolicypreviewRequests.Add(r.Context(), 1, metric.WithAttributes(attribute.Int("code", code)))
}

// problem is the body of every answer but 200.
type problem struct {
	Error string `json:"error"`
	*preview.PolicyError
}

func encode(code int, v any) (int, []byte) {
	b, err := json.Marshal(v)
	if err != nil {
		return http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	return code, append(b, '\n')
}

func fail(code int, format string, args ...any) (int, []byte) {
	return encode(code, problem{Error: fmt.Sprintf(format, args...)})
}

func (pp *policyPreview) answer(r *http.Request) (int, []byte) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return fail(http.StatusMethodNotAllowed, "only GET (the live policy) and POST (a candidate policy as the body) are served")
	}
	p, code, msg := pp.previewer(r.URL.Query().Get("processor"))
	if p == nil {
		return fail(code, "%s", msg)
	}
	if r.Method == http.MethodGet {
		return encode(http.StatusOK, p.Live())
	}
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, pp.cfg.MaxPolicyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return fail(http.StatusRequestEntityTooLarge, "the candidate policy is over max_policy_bytes (%d)", pp.cfg.MaxPolicyBytes)
	case err != nil:
		return fail(http.StatusBadRequest, "reading the candidate policy: %v", err)
	}
	file := r.URL.Query().Get("file")
	if file == "" {
		file = defaultCandidateFile
	}
	cmp, err := p.Preview(file, data)
	var perr *preview.PolicyError
	switch {
	case errors.As(err, &perr):
		return encode(http.StatusBadRequest, problem{Error: perr.Error(), PolicyError: perr})
	case err != nil:
		return fail(http.StatusInternalServerError, "preview: %v", err)
	}
	return encode(http.StatusOK, cmp)
}

// previewer picks the processor a request names, or the only one
// registered; otherwise it says why not, with the status to answer.
func (pp *policyPreview) previewer(name string) (preview.Previewer, int, string) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if name != "" {
		var id component.ID
		if err := id.UnmarshalText([]byte(name)); err != nil {
			return nil, http.StatusBadRequest, fmt.Sprintf("processor: %v", err)
		}
		if p, ok := pp.previewers[id]; ok {
			return p, 0, ""
		}
		return nil, http.StatusNotFound, fmt.Sprintf("processor: no chainsampling processor %q is registered (registered: %s)", name, pp.idsLocked())
	}
	switch len(pp.previewers) {
	case 0:
		return nil, http.StatusServiceUnavailable, "no chainsampling processor with preview_traces > 0 is running"
	case 1:
		for _, p := range pp.previewers {
			return p, 0, ""
		}
	}
	return nil, http.StatusBadRequest, fmt.Sprintf("several chainsampling processors run; name one with ?processor= (registered: %s)", pp.idsLocked())
}

func (pp *policyPreview) idsLocked() string {
	ids := make([]string, 0, len(pp.previewers))
	for id := range pp.previewers {
		ids = append(ids, id.String())
	}
	slices.Sort(ids)
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}
