package api

import (
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Health is the answer of GET /health.
type Health struct {
	Status  string `json:"status"` // "up" while the process serves
	Peers   int    `json:"peers"`  // live cluster members, this node included
	Members int    `json:"members"`
	NodeID  string `json:"node_id"`
	Leader  string `json:"leader"`
	Height  uint64 `json:"height"`
}

// Ready is the answer of GET /ready.
type Ready struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
}

// HealthHandler serves /health, /ready and /metrics on the health port, and
// Go's profiler under /debug/pprof/ (the health port is for operators, not
// clients), which is where a CPU profile of a loaded node comes from.
func (a *API) HealthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		st := a.status()
		writeJSON(w, http.StatusOK, Health{Status: "up", Peers: st.PeersUp, Members: st.Members,
			NodeID: st.NodeID, Leader: st.Leader, Height: st.Height})
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		st := a.cfg.Engine.Status()
		switch {
		case st.Leader == "":
			writeJSON(w, http.StatusServiceUnavailable, Ready{Reason: "no leader elected yet"})
		case st.PeersUp*2 <= st.Members:
			writeJSON(w, http.StatusServiceUnavailable, Ready{Reason: "fewer than a quorum of members reachable"})
		default:
			writeJSON(w, http.StatusOK, Ready{Ready: true})
		}
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.cfg.Gatherer, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	handleUnrouted(mux)
	return mux
}
