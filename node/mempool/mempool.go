// Package mempool holds the transactions the leader has admitted but not yet
// seen applied. It keeps them in arrival order, refuses duplicates and, per
// sender, counts what is pending, so a transaction is checked against the
// sender's state as it will be once everything before it is applied: a nonce
// must be the next one after the pending ones, and the balance must cover the
// pending spending too. That is what lets many clients send from one account
// at once and a transaction without a nonce take the next one in commit order.
package mempool

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus"
	"github.com/chainotel/chainotel/node/telemetry"
	"github.com/chainotel/chainotel/semconv"
)

// State is the committed state the pool checks admissions against.
type State interface {
	chain.StateReader
	// HasTx reports whether a transaction with this hash is committed.
	HasTx(h chain.Hash) (bool, error)
}

type entry struct {
	tx       chain.Tx
	hash     chain.Hash
	cost     uint64 // what it takes from the sender's balance
	size     int    // encoded bytes, for cutting blocks by size
	added    time.Time
	inflight bool // taken into a proposed block
}

type sender struct {
	pending int    // admitted, not yet applied
	spend   uint64 // their total cost
}

// Pool is the mempool. It is safe for concurrent use.
type Pool struct {
	tracer trace.Tracer

	mu      sync.Mutex
	max     int      // changed by SetMax while running
	queue   []*entry // admitted and not taken, oldest first
	byHash  map[chain.Hash]*entry
	senders map[string]*sender
	ready   chan struct{} // signalled when the queue gains a transaction
}

// New makes a pool that holds at most max transactions.
func New(max int, tracer trace.Tracer) *Pool {
	return &Pool{
		max:     max,
		tracer:  tracer,
		byHash:  make(map[chain.Hash]*entry),
		senders: make(map[string]*sender),
		ready:   make(chan struct{}, 1),
	}
}

// Add admits tx (whose hash is h, whose format was checked) after the
// state-transition and gas checks against state plus what is pending. It
// returns ErrDuplicate, ErrFull, or the chain validation error.
//
// Its spans are made outside the pool's lock, which every admission waits
// for: the two checks are timed under the lock and become spans with those
// times once the lock is released. mempool.add is a child of ctx's span; the
// validation stages continue the chain the submitting node started,
// validate.transaction -> validate.state_transition -> validate.gas_usage:
// their parent is tx.TraceParent (the validate.transaction span, possibly on
// another node) when it is in ctx's trace, else mempool.add.
func (p *Pool) Add(ctx context.Context, tx chain.Tx, h chain.Hash, state State, params *chain.Params) error {
	// The node times its spans here itself (telemetry.StartSpanAt): with the
	// node's tracer they skip the SDK's recording span and its snapshot.
	ctx, span := telemetry.StartSpanAt(ctx, p.tracer, semconv.SpanMempoolAdd, time.Now())
	var st *stages
	if span.IsRecording() {
		st = new(stages)
	}
	size, err := p.add(tx, h, state, params, st)
	code, desc := codes.Unset, ""
	if err != nil {
		code, desc = codes.Error, err.Error()
	}
	if st == nil {
		span.End(time.Now(), code, desc)
		return err
	}
	if st.transition.ran {
		p.traceStages(validationParent(ctx, tx.TraceParent), st, params.GasPerTx, tx.Fee)
	}
	// The attributes only for a recording span: the hash is hex-encoded
	// for nothing with OTEL_SDK_DISABLED otherwise.
	span.End(time.Now(), code, desc, attribute.String(semconv.TxHashKey, h.String()), attribute.Int(semconv.MempoolSizeKey, size))
	return err
}

// validationParent is the context the validation stages of a transaction
// submitted with traceParent hang under: its validate.transaction span when
// that is in ctx's trace, else ctx (a batch's transaction, or one
// re-admitted after a reorganisation).
func validationParent(ctx context.Context, traceParent string) context.Context {
	sc, ok := consensus.ParseTraceParent(traceParent)
	if !ok || sc.TraceID() != trace.SpanContextFromContext(ctx).TraceID() {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// stages is what the validation stages under the pool's lock did, recorded
// for the spans made after it.
type stages struct {
	transition stage
	gas        stage
	nonce      uint64 // the account's nonce with its pending transactions
}

type stage struct {
	ran        bool
	start, end time.Time
	err        error
}

// run times check as s.
func (s *stage) run(check func() error) error {
	s.ran, s.start = true, time.Now()
	s.err = check()
	s.end = time.Now()
	return s.err
}

// traceStages writes the validate.state_transition span of st under ctx's
// span, and the validate.gas_usage span under it when the gas check ran.
func (p *Pool) traceStages(ctx context.Context, st *stages, gas, fee uint64) {
	ctx, span := telemetry.StartSpanAt(ctx, p.tracer, semconv.SpanValidateStateTransition, st.transition.start)
	if st.gas.ran {
		_, gspan := telemetry.StartSpanAt(ctx, p.tracer, semconv.SpanValidateGasUsage, st.gas.start)
		endStage(gspan, st.gas, st.gas.end, attribute.Int64(semconv.TxGasKey, int64(gas)), attribute.Int64(semconv.TxFeeKey, int64(fee)))
	}
	// The parent ends last, so it spans its child.
	endStage(span, st.transition, latest(st.transition.end, st.gas.end, st.transition.start), attribute.Int64(semconv.AccountNonceKey, int64(st.nonce)))
}

func latest(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// endStage ends span at end with s's outcome and attrs.
func endStage(span telemetry.LateSpan, s stage, end time.Time, attrs ...attribute.KeyValue) {
	if s.err != nil {
		span.End(end, codes.Error, s.err.Error(), append(attrs, attribute.String(semconv.ErrorTypeKey, semconv.ErrorValidation))...)
		return
	}
	span.End(end, codes.Unset, "", attrs...)
}

// checkStages runs the validate.state_transition stage, then the
// validate.gas_usage stage, recording them in st when st is not nil.
func checkStages(tx *chain.Tx, acct chain.Account, params *chain.Params, st *stages) error {
	if st == nil {
		if err := chain.CheckTransition(tx, acct); err != nil {
			return err
		}
		return params.CheckGas(tx)
	}
	st.nonce = acct.Nonce
	if err := st.transition.run(func() error { return chain.CheckTransition(tx, acct) }); err != nil {
		return err
	}
	return st.gas.run(func() error { return params.CheckGas(tx) })
}

// AddUntraced is Add without its spans, for the transactions of a batch
// after the first: a batch of thousands would otherwise make thousands of
// spans (the API does not trace them one by one either).
func (p *Pool) AddUntraced(tx chain.Tx, h chain.Hash, state State, params *chain.Params) error {
	_, err := p.add(tx, h, state, params, nil)
	return err
}

// add admits tx under the pool's lock and returns the number of pending
// transactions it found there.
func (p *Pool) add(tx chain.Tx, h chain.Hash, state State, params *chain.Params, st *stages) (size int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	size = len(p.byHash)
	if _, dup := p.byHash[h]; dup {
		return size, fmt.Errorf("%w: %s is already pending", ErrDuplicate, h)
	}
	if len(p.byHash) >= p.max {
		return size, fmt.Errorf("%w: %d transactions pending, try again shortly", ErrFull, len(p.byHash))
	}
	committed, err := state.HasTx(h)
	if err != nil {
		return size, fmt.Errorf("check tx %s: %w", h, err)
	}
	if committed {
		return size, fmt.Errorf("%w: %s is already committed", ErrDuplicate, h)
	}
	acct, err := state.Account(tx.From)
	if err != nil {
		return size, fmt.Errorf("read account %s: %w", tx.From, err)
	}
	s := p.senders[tx.From]
	if s != nil { // as the account will be once the pending ones are applied
		acct.Nonce += uint64(s.pending)
		acct.Balance -= min(acct.Balance, s.spend)
	}
	// The validate.state_transition stage runs here, on the leader, where
	// the pending transactions of the sender are known.
	if err := checkStages(&tx, acct, params, st); err != nil {
		return size, err
	}
	if s == nil {
		s = &sender{}
		p.senders[tx.From] = s
	}
	e := &entry{tx: tx, hash: h, cost: tx.Amount + tx.Fee, added: time.Now()}
	if tx.TypeOrDefault() == semconv.TxTypeUnstake {
		e.cost = tx.Fee
	}
	e.size = 64 + len(tx.From) + len(tx.To) + len(tx.PubKey) + len(tx.Signature) + len(tx.ID) + len(tx.TraceParent)
	s.pending++
	s.spend += e.cost
	p.byHash[h] = e
	p.queue = append(p.queue, e)
	select {
	case p.ready <- struct{}{}:
	default:
	}
	return size, nil
}

// Ready is signalled when a transaction joins the queue.
func (p *Pool) Ready() <-chan struct{} { return p.ready }

// Queued is how many admitted transactions wait to be taken, and how long the
// oldest of them has waited.
func (p *Pool) Queued() (int, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 {
		return 0, 0
	}
	return len(p.queue), time.Since(p.queue[0].added)
}

// Len is the number of transactions in the pool, queued or in flight.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.byHash)
}

// Take removes up to maxTxs transactions, at most maxBytes of them, from the
// front of the queue for a block. They stay counted as pending until Settle
// or Release.
func (p *Pool) Take(maxTxs, maxBytes int) []chain.Tx {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, size := 0, 0
	for n < len(p.queue) && n < maxTxs && (n == 0 || size+p.queue[n].size <= maxBytes) {
		size += p.queue[n].size
		n++
	}
	out := make([]chain.Tx, n)
	for i, e := range p.queue[:n] {
		e.inflight = true
		out[i] = e.tx
	}
	p.queue = append(p.queue[:0:0], p.queue[n:]...)
	return out
}

// Settle runs apply (which applies a committed block to the state) and then
// forgets the block's transactions, under the pool's lock, so no admission
// sees the state with the block applied and its transactions still pending.
func (p *Pool) Settle(txs []chain.Tx, apply func() error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := apply(); err != nil {
		return err
	}
	for i := range txs {
		p.forget(txs[i].Hash())
	}
	return nil
}

// Release forgets transactions that were taken but will not be applied (the
// leader lost the proposal), so they stop counting against their senders.
// The caller decides whether to admit them again.
func (p *Pool) Release(txs []chain.Tx) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range txs {
		p.forget(txs[i].Hash())
	}
}

// Drain empties the pool and returns the queued transactions, for a leader
// that stepped down to hand them to its successor.
func (p *Pool) Drain() []chain.Tx {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]chain.Tx, len(p.queue))
	for i, e := range p.queue {
		out[i] = e.tx
	}
	p.queue = nil
	p.byHash = make(map[chain.Hash]*entry)
	p.senders = make(map[string]*sender)
	return out
}

func (p *Pool) forget(h chain.Hash) {
	e, ok := p.byHash[h]
	if !ok {
		return
	}
	delete(p.byHash, h)
	if s := p.senders[e.tx.From]; s != nil {
		s.pending--
		s.spend -= e.cost
		if s.pending == 0 {
			delete(p.senders, e.tx.From)
		}
	}
	if !e.inflight { // still queued: take it out of the queue too
		for i, q := range p.queue {
			if q == e {
				p.queue = append(p.queue[:i], p.queue[i+1:]...)
				break
			}
		}
	}
}

// Max is the most transactions the pool holds now.
func (p *Pool) Max() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.max
}

// SetMax changes the most transactions the pool holds (SIGHUP reloads
// --mempool-size). Lowering it below the pending count drops nothing: new
// transactions are refused with ErrFull until blocks take the pool below it.
func (p *Pool) SetMax(max int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.max = max
}
