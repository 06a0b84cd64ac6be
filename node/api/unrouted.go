package api

import (
	"fmt"
	"net/http"
	"strings"
)

// probeMethods are the methods tried when a request matches no route, to
// tell a wrong method on a known path (405) from an unknown path (404).
var probeMethods = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

// handleUnrouted registers the catch-all of mux: 405 with an Allow header
// when the path has routes for other methods, else 404, both with a JSON
// ErrorBody. The catch-all matches every method, so without it ServeMux
// would answer its own 405 in plain text, and with a bare catch-all a wrong
// method would look like an unknown path.
func handleUnrouted(mux *http.ServeMux) {
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeJSON(w, http.StatusMethodNotAllowed, ErrorBody{
				Error: fmt.Sprintf("method %s not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allow, ", ")),
			})
			return
		}
		writeJSON(w, http.StatusNotFound, ErrorBody{Error: fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)})
	})
}

// allowedMethods lists the methods for which mux has a route, other than
// the catch-all, that matches r's path.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, m := range probeMethods {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	return allow
}
