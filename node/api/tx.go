package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus"
	"github.com/chainotel/chainotel/node/telemetry"
	"github.com/chainotel/chainotel/semconv"
)

// TxRequest is the body of POST /tx and each element of POST /txs. Numbers
// are read as json.Number so a negative, fractional or overflowing amount
// gets an error that says so, instead of a generic type error.
type TxRequest struct {
	From      string       `json:"from"`
	To        string       `json:"to"`
	Amount    json.Number  `json:"amount"`
	Type      string       `json:"type,omitempty"`
	Nonce     *json.Number `json:"nonce,omitempty"`
	Fee       *json.Number `json:"fee,omitempty"`
	PubKey    string       `json:"pubkey,omitempty"`
	Signature string       `json:"signature,omitempty"`
}

// BatchRequest is the body of POST /txs.
type BatchRequest struct {
	Txs []TxRequest `json:"txs"`
}

// BatchResult is one transaction's outcome in a POST /txs answer: a receipt,
// or the status and error it would have had alone.
type BatchResult struct {
	*Receipt
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
	Field  string `json:"field,omitempty"`
}

func parseUint(field string, n json.Number, positive bool) (uint64, error) {
	if n == "" {
		return 0, badRequest(field, "%s is required", field)
	}
	v, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil || (positive && v == 0) {
		lo := 0
		if positive {
			lo = 1
		}
		return 0, badRequest(field, "%s must be a whole number from %d to %d, got %s", field, lo, uint64(1<<64-1), n)
	}
	return v, nil
}

// toTx checks the numbers and builds the transaction.
func (r *TxRequest) toTx() (chain.Tx, error) {
	tx := chain.Tx{From: r.From, To: r.To, Type: r.Type, PubKey: r.PubKey, Signature: r.Signature}
	var err error
	if tx.Amount, err = parseUint("amount", r.Amount, true); err != nil {
		return tx, err
	}
	if r.Fee != nil {
		if tx.Fee, err = parseUint("fee", *r.Fee, false); err != nil {
			return tx, err
		}
	}
	if r.Nonce != nil {
		n, err := parseUint("nonce", *r.Nonce, false)
		if err != nil {
			return tx, err
		}
		tx.Nonce = &n
	}
	return tx, nil
}

func decodeStrict(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return badRequest("", "unexpected data after the JSON value")
	}
	return nil
}

func (a *API) postTx(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxTxBytes)
	var req TxRequest
	if err := decodeStrict(r, &req); err != nil {
		a.writeError(ctx, w, err)
		return
	}
	confirm, err := confirmations(r)
	if err != nil {
		a.writeError(ctx, w, err)
		return
	}
	res := a.submit(ctx, []TxRequest{req})[0]
	if res.err == nil && confirm > 1 {
		res.receipt, res.err = a.awaitConfirmations(ctx, res.receipt, confirm)
	}
	if res.err != nil {
		a.writeError(ctx, w, res.err)
		return
	}
	writeJSON(w, http.StatusOK, res.receipt)
}

func (a *API) postTxs(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxBatchBytes)
	var req BatchRequest
	if err := decodeStrict(r, &req); err != nil {
		a.writeError(ctx, w, err)
		return
	}
	switch {
	case len(req.Txs) == 0:
		a.writeError(ctx, w, badRequest("txs", "txs is empty"))
		return
	case len(req.Txs) > a.cfg.MaxBatchTxs:
		a.writeError(ctx, w, &httpError{status: http.StatusRequestEntityTooLarge, field: "txs",
			msg: fmt.Sprintf("%d transactions in one batch, at most %d", len(req.Txs), a.cfg.MaxBatchTxs)})
		return
	}
	results := a.submit(ctx, req.Txs)
	out := struct {
		Results []BatchResult `json:"results"`
	}{Results: make([]BatchResult, len(results))}
	for i, res := range results {
		if res.err != nil {
			status, body, _ := statusOf(res.err)
			out.Results[i] = BatchResult{Status: status, Error: body.Error, Field: body.Field}
			continue
		}
		out.Results[i] = BatchResult{Receipt: res.receipt, Status: http.StatusOK}
	}
	writeJSON(w, http.StatusOK, out)
}

type result struct {
	receipt *Receipt
	err     error
}

// submit validates each transaction (format and signature, then gas), hands
// the valid ones to the engine and waits until each commits, fails admission
// or the commit timeout passes.
func (a *API) submit(ctx context.Context, reqs []TxRequest) []result {
	results := make([]result, len(reqs))
	txs := make([]chain.Tx, 0, len(reqs))
	idx := make([]int, 0, len(reqs))
	hashes := make([]chain.Hash, 0, len(reqs))
	traceParent := traceParentOf(ctx)
	// The validate.transaction span of a single transaction: open until
	// its admission answered, and the parent its later stages name.
	var vspan openSpan
	for i := range reqs {
		tx, err := reqs[i].toTx()
		var h chain.Hash
		if err == nil {
			// Before validation, so the id is part of the hash it names.
			if tx.Nonce == nil {
				tx.ID = newTxID()
			}
			h, vspan, err = a.validate(ctx, &tx, len(reqs) == 1)
		}
		if err != nil {
			results[i].err = err
			continue
		}
		tx.TraceParent = traceParent
		if vspan.IsRecording() {
			tx.TraceParent = consensus.FormatTraceParent(vspan.SpanContext())
		}
		txs = append(txs, tx)
		idx = append(idx, i)
		hashes = append(hashes, h)
	}
	if len(txs) == 0 {
		return results
	}
	if span := trace.SpanFromContext(ctx); len(reqs) == 1 && span.IsRecording() {
		span.SetAttributes(
			attribute.String(semconv.TxHashKey, hashes[0].String()),
			attribute.String(semconv.TxTypeKey, txs[0].TypeOrDefault()))
	}
	ctx, cancel := context.WithTimeout(ctx, a.CommitTimeout())
	defer cancel()
	// Register before submitting, so a commit cannot slip past unseen.
	chans := make([]chan Receipt, len(txs))
	for j, h := range hashes {
		chans[j] = a.waiters.add(h)
	}
	errs := a.cfg.Engine.Submit(ctx, txs)
	vspan.End(time.Now(), codes.Unset, "", vspan.attrs[:vspan.n]...)
	for j, i := range idx {
		if errs[j] != nil {
			a.waiters.remove(hashes[j], chans[j])
			results[i].err = errs[j]
			continue
		}
		select {
		case rc := <-chans[j]:
			results[i].receipt = &rc
		case <-ctx.Done():
			a.waiters.remove(hashes[j], chans[j])
			results[i].err = fmt.Errorf("%w: transaction %s not committed within %s; it may still commit, check GET /tx/%s",
				consensus.ErrNoQuorum, hashes[j], a.CommitTimeout(), hashes[j])
		}
	}
	return results
}

// validate runs the stateless checks (format and signature, then gas) and
// returns the transaction's hash. When tracing one tx (a batch would make
// thousands of spans) they are the validate.transaction span, returned open:
// the stateful stages, validate.state_transition and validate.gas_usage, run
// where the transaction is admitted (the leader's mempool) as its children,
// so the caller ends it once admission answered. The hash is taken once,
// after CheckFormat has normalised the transaction (addresses, default
// type), so every span and the commit waiter name the hash the transaction
// is stored under.
func (a *API) validate(ctx context.Context, tx *chain.Tx, spans bool) (chain.Hash, openSpan, error) {
	if !spans {
		if err := tx.CheckFormat(a.cfg.Genesis.ChainID, a.params.RequireSignatures); err != nil {
			return chain.Hash{}, openSpan{}, err
		}
		return tx.Hash(), openSpan{}, a.params.CheckGas(tx)
	}
	// The node times the span itself (telemetry.StartSpanAt): with the
	// node's tracer it skips the SDK's recording span and its snapshot.
	// Its attributes are computed only when it records, and go in at its end.
	_, span := telemetry.StartSpanAt(ctx, a.tracer, semconv.SpanValidateTransaction, time.Now())
	err := tx.CheckFormat(a.cfg.Genesis.ChainID, a.params.RequireSignatures)
	h := tx.Hash()
	open := openSpan{LateSpan: span}
	if span.IsRecording() {
		open.attrs[0] = attribute.String(semconv.TxTypeKey, tx.TypeOrDefault())
		open.attrs[1] = attribute.String(semconv.TxHashKey, h.String())
		open.n = 2
	}
	if err == nil {
		err = a.params.CheckGas(tx) // early, untraced: the leader's validate.gas_usage checks it again
	}
	if err != nil {
		open.attrs[open.n] = attribute.String(semconv.ErrorTypeKey, semconv.ErrorValidation)
		span.End(time.Now(), codes.Error, err.Error(), open.attrs[:open.n+1]...)
		return h, openSpan{}, err
	}
	return h, open, nil
}

// openSpan is a validate.transaction span not yet ended, with the
// attributes it ends with; the zero value is no span.
type openSpan struct {
	telemetry.LateSpan
	attrs [3]attribute.KeyValue // tx.type, tx.hash when recording; room for error.type
	n     int
}

func recordError(ctx context.Context, err error, errType string) {
	span := trace.SpanFromContext(ctx)
	span.SetStatus(codes.Error, err.Error())
	if errType != "" {
		span.SetAttributes(attribute.String(semconv.ErrorTypeKey, errType))
	}
}

// newTxID makes the id that keeps a nonce-less transaction's hash unique.
func newTxID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

func traceParentOf(ctx context.Context) string {
	return consensus.FormatTraceParent(trace.SpanContextFromContext(ctx))
}
