// Package sentrytest is a local Sentry endpoint for tests: an HTTP server
// that speaks the envelope protocol (POST /api/<project>/envelope/), checks
// each request the way Sentry's ingestion does (auth header, envelope and
// item headers, lengths), keeps the events it accepted, and answers what the
// test tells it to (503 while "down", 429 with Retry-After, ...).
package sentrytest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
)

// Key and Project are the public key and project id in the server's DSN.
const (
	Key     = "testpublickey"
	Project = "42"
)

// Response is what the server answers to one request.
type Response struct {
	Status int
	Header http.Header
}

// Responder decides the response to the n-th request (1-based). Only
// events of requests answered 2xx count as accepted.
type Responder func(n int) Response

// EnvelopeHeader is the first line of an envelope.
type EnvelopeHeader struct {
	EventID string            `json:"event_id"`
	SentAt  time.Time         `json:"sent_at"`
	DSN     string            `json:"dsn"`
	SDK     map[string]string `json:"sdk"`
	Trace   map[string]string `json:"trace"`
}

// ItemHeader is the header line of an envelope item.
type ItemHeader struct {
	Type   string `json:"type"`
	Length *int   `json:"length"`
}

// Event is one accepted event.
type Event struct {
	sentry.Event
	// Raw is the event payload as generic JSON, for fields sentry.Event
	// does not decode.
	Raw      map[string]any
	Envelope EnvelopeHeader
	Item     ItemHeader
	// UserAgent and Auth are the request's User-Agent and X-Sentry-Auth.
	UserAgent string
	Auth      string
}

// Server is the fake Sentry endpoint.
type Server struct {
	srv *httptest.Server

	mu        sync.Mutex
	responder Responder
	requests  int
	events    []Event
	problems  []string
	seen      map[string]int
}

// NewServer starts a server on a loopback port, closed at test cleanup.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{seen: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	tb.Cleanup(s.srv.Close)
	return s
}

// DSN is the DSN that points at this server.
func (s *Server) DSN() string {
	return strings.Replace(s.srv.URL, "http://", "http://"+Key+"@", 1) + "/" + Project
}

// Respond sets how the server answers from now on; nil: 200 OK.
func (s *Server) Respond(r Responder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responder = r
}

// Requests is the number of envelope requests received so far.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Events returns the events accepted so far, in arrival order.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Attempts returns, per event id, how many well-formed requests carried the
// event, whatever the server answered (accepted or not).
func (s *Server) Attempts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.seen))
	for k, v := range s.seen {
		out[k] = v
	}
	return out
}

// Problems lists the protocol violations seen (malformed envelopes, wrong
// auth): a correct client leaves it empty.
func (s *Server) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.problems...)
}

// WaitForEvents waits until at least n events were accepted and returns them.
func (s *Server) WaitForEvents(tb testing.TB, n int, timeout time.Duration) []Event {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		evs := s.Events()
		if len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			tb.Fatalf("sentrytest: waited %v for %d events, got %d (requests %d, problems %q)",
				timeout, n, len(evs), s.Requests(), s.Problems())
		}
		<-tick.C
	}
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	n, responder := s.requests, s.responder
	s.mu.Unlock()

	evs, err := parseRequest(r)
	if err != nil {
		s.mu.Lock()
		s.problems = append(s.problems, fmt.Sprintf("request %d: %v", n, err))
		s.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	for _, ev := range evs {
		s.seen[string(ev.EventID)]++
	}
	s.mu.Unlock()
	resp := Response{Status: http.StatusOK}
	if responder != nil {
		resp = responder(n)
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if resp.Status >= 200 && resp.Status < 300 {
		s.mu.Lock()
		s.events = append(s.events, evs...)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.Status)
		id := ""
		if len(evs) > 0 {
			id = evs[0].Envelope.EventID
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"id": id})
		return
	}
	w.WriteHeader(resp.Status)
}

// parseRequest checks the request as Sentry would and parses its envelope.
func parseRequest(r *http.Request) ([]Event, error) {
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("method %s, want POST", r.Method)
	}
	if want := "/api/" + Project + "/envelope/"; r.URL.Path != want {
		return nil, fmt.Errorf("path %q, want %q", r.URL.Path, want)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-sentry-envelope" {
		return nil, fmt.Errorf("content type %q, want application/x-sentry-envelope", ct)
	}
	auth := r.Header.Get("X-Sentry-Auth")
	if !strings.HasPrefix(auth, "Sentry ") || !strings.Contains(auth, "sentry_key="+Key) ||
		!strings.Contains(auth, "sentry_version=7") {
		return nil, fmt.Errorf("X-Sentry-Auth %q lacks sentry_key=%s or sentry_version=7", auth, Key)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	evs, err := ParseEnvelope(body)
	if err != nil {
		return nil, err
	}
	for i := range evs {
		evs[i].UserAgent, evs[i].Auth = r.UserAgent(), auth
	}
	return evs, nil
}

// ParseEnvelope parses an envelope and returns its event items. Other item
// types (client reports, attachments) are checked for framing and skipped.
func ParseEnvelope(body []byte) ([]Event, error) {
	rd := bufio.NewReader(bytes.NewReader(body))
	line, err := readLine(rd)
	if err != nil {
		return nil, fmt.Errorf("envelope header: %w", err)
	}
	var eh EnvelopeHeader
	if err := json.Unmarshal(line, &eh); err != nil {
		return nil, fmt.Errorf("envelope header %q: %w", line, err)
	}
	var evs []Event
	for item := 1; ; item++ {
		line, err := readLine(rd)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("item %d header: %w", item, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var ih ItemHeader
		if err := json.Unmarshal(line, &ih); err != nil {
			return nil, fmt.Errorf("item %d header %q: %w", item, line, err)
		}
		var payload []byte
		if ih.Length != nil {
			payload = make([]byte, *ih.Length)
			if _, err := io.ReadFull(rd, payload); err != nil {
				return nil, fmt.Errorf("item %d: payload shorter than its length %d: %w", item, *ih.Length, err)
			}
			if b, err := rd.ReadByte(); err == nil && b != '\n' {
				return nil, fmt.Errorf("item %d: payload longer than its length %d", item, *ih.Length)
			}
		} else if payload, err = readLine(rd); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("item %d payload: %w", item, err)
		}
		if ih.Type != "event" {
			continue
		}
		ev := Event{Envelope: eh, Item: ih}
		if err := json.Unmarshal(payload, &ev.Event); err != nil {
			return nil, fmt.Errorf("item %d: event payload: %w", item, err)
		}
		if err := json.Unmarshal(payload, &ev.Raw); err != nil {
			return nil, fmt.Errorf("item %d: event payload: %w", item, err)
		}
		if string(ev.EventID) != eh.EventID {
			return nil, fmt.Errorf("item %d: event_id %q differs from the envelope's %q", item, ev.EventID, eh.EventID)
		}
		if len(ev.EventID) != 32 {
			return nil, fmt.Errorf("item %d: event_id %q is not 32 hex digits", item, ev.EventID)
		}
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		return nil, errors.New("envelope holds no event item")
	}
	return evs, nil
}

// readLine reads one line without its newline; io.EOF only when nothing
// was left.
func readLine(rd *bufio.Reader) ([]byte, error) {
	line, err := rd.ReadBytes('\n')
	if errors.Is(err, io.EOF) && len(line) > 0 {
		return line, nil
	}
	if err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(line, []byte("\n")), nil
}
