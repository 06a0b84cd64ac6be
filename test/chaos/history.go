//go:build integration

package chaos

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Op kinds of the account model.
const (
	opTransfer = "transfer"
	opRead     = "read"
)

// input is what a client asked: a transfer of Amount into Account, or a read
// of Account's balance.
type input struct {
	Kind    string
	Account string
	Amount  uint64
}

// output is what the client learnt. Unknown marks a transfer whose outcome
// the client never learnt (503, timeout, dropped connection): it may take
// effect at any point after it was sent, which porcupine expresses as a
// return time of +infinity.
type output struct {
	Unknown bool
	Balance uint64
}

// Ack is an acknowledged transfer: the node answered with its receipt.
type Ack struct {
	Hash      string
	BlockHash string
	Height    uint64
	Node      string // the node that acknowledged it
	TraceID   string // the W3C trace id the client sent
	Call      time.Duration
	Return    time.Duration
}

// History records every operation with its invocation and answer times,
// measured from its start on the monotonic clock. Safe for concurrent use.
type History struct {
	start time.Time

	mu       sync.Mutex
	ops      []porcupine.Operation
	pending  []porcupine.Operation // transfers of unknown outcome, until Resolve
	acks     []Ack
	unknown  int // resolved unknown outcomes
	resolved int // of which the chain holds
	rejected []string
	locals   []localRead // checked by CheckLocal, not porcupine
}

// NewHistory starts the clock.
func NewHistory() *History { return &History{start: time.Now()} }

// Now is the time since the history started.
func (h *History) Now() time.Duration { return time.Since(h.start) }

// Transfer records a transfer answered with a receipt.
func (h *History) Transfer(client int, account string, amount uint64, a Ack) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client,
		Input: input{Kind: opTransfer, Account: account, Amount: amount},
		Call:  int64(a.Call), Output: output{}, Return: int64(a.Return)})
	h.acks = append(h.acks, a)
}

// TransferUnknown records a transfer whose outcome is unknown. It stays out
// of the history until Resolve says what the chain shows of it.
func (h *History) TransferUnknown(client int, account string, amount uint64, call time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending = append(h.pending, porcupine.Operation{ClientId: client,
		Input: input{Kind: opTransfer, Account: account, Amount: amount},
		Call:  int64(call), Output: output{Unknown: true}, Return: math.MaxInt64})
}

// Resolve moves the transfers of unknown outcome into the history, once the
// load has stopped and the chains have converged. applied maps the amount of
// every transfer into a target account found in the chain to its block
// height (the suite makes amounts unique, so an amount names one transfer).
//
// An unknown transfer is an operation with an infinite return time: it may
// take effect at any point after its call. The chain, now final and
// identical on every node, narrows that down, which porcupine needs: each
// open-ended operation doubles the states it must consider, and a run with a
// no-quorum period leaves a hundred.
//   - One the chain holds took effect when its block committed, which was
//     before any receipt for that height or a later one came back: the
//     earliest such return time bounds it (end, when none came later).
//   - One the chain does not hold never took effect, and nothing can apply
//     it any more; in the history it could only be placed after every
//     operation, where it changes nothing. It is left out and counted.
func (h *History) Resolve(applied map[uint64]uint64, end time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, op := range h.pending {
		height, ok := applied[op.Input.(input).Amount]
		if !ok {
			continue
		}
		op.Return = int64(end)
		for _, a := range h.acks {
			if a.Height >= height && int64(a.Return) < op.Return {
				op.Return = int64(a.Return)
			}
		}
		if op.Return < op.Call { // cannot happen in a correct cluster; let porcupine say so
			op.Return = op.Call
		}
		h.resolved++
		h.ops = append(h.ops, op)
	}
	h.unknown += len(h.pending)
	h.pending = nil
}

// Amounts returns the amount of every transfer sent, acknowledged or not.
func (h *History) Amounts() map[uint64]bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[uint64]bool{}
	for _, list := range [][]porcupine.Operation{h.ops, h.pending} {
		for _, op := range list {
			if in := op.Input.(input); in.Kind == opTransfer {
				out[in.Amount] = true
			}
		}
	}
	return out
}

// Rejected records a transfer the node refused with a 4xx: the suite sends
// only valid transfers, so any is reported as a finding.
func (h *History) Rejected(msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rejected = append(h.rejected, msg)
}

// Read records a read of account's balance.
func (h *History) Read(client int, account string, balance uint64, call, ret time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client,
		Input: input{Kind: opRead, Account: account},
		Call:  int64(call), Output: output{Balance: balance}, Return: int64(ret)})
}

// Acks returns the acknowledged transfers in order of acknowledgement.
func (h *History) Acks() []Ack {
	h.mu.Lock()
	out := append([]Ack(nil), h.acks...)
	h.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Return < out[j].Return })
	return out
}

// Counts returns how many operations, unknown transfers (and how many of
// those the chain holds) and rejections were recorded.
func (h *History) Counts() (ops, unknown, applied int, rejected []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ops), h.unknown, h.resolved, append([]string(nil), h.rejected...)
}

// accountModel is a set of accounts that only receive transfers: each
// account is independent of the others, so the history is checked one
// account at a time (porcupine's Partition), which keeps the search small.
func accountModel() porcupine.Model {
	return porcupine.Model{
		Partition: func(ops []porcupine.Operation) [][]porcupine.Operation {
			by := map[string][]porcupine.Operation{}
			var keys []string
			for _, op := range ops {
				a := op.Input.(input).Account
				if _, ok := by[a]; !ok {
					keys = append(keys, a)
				}
				by[a] = append(by[a], op)
			}
			out := make([][]porcupine.Operation, 0, len(keys))
			for _, k := range keys {
				out = append(out, by[k])
			}
			return out
		},
		Init: func() any { return uint64(0) },
		Step: func(state, in, out any) (bool, any) {
			bal, i, o := state.(uint64), in.(input), out.(output)
			if i.Kind == opTransfer {
				return true, bal + i.Amount
			}
			return o.Balance == bal, bal
		},
		DescribeOperation: func(in, out any) string {
			i, o := in.(input), out.(output)
			switch {
			case i.Kind == opRead:
				return fmt.Sprintf("read %s -> %d", i.Account, o.Balance)
			case o.Unknown:
				return fmt.Sprintf("transfer %d to %s -> unknown", i.Amount, i.Account)
			default:
				return fmt.Sprintf("transfer %d to %s -> ok", i.Amount, i.Account)
			}
		},
	}
}

// CheckLinearizable runs porcupine over the history. On a violation it writes
// porcupine's visualisation to vizPath (if set) and names it in the error.
func (h *History) CheckLinearizable(timeout time.Duration, vizPath string) error {
	h.mu.Lock()
	ops := append(append([]porcupine.Operation(nil), h.ops...), h.pending...)
	h.mu.Unlock()
	res, info := porcupine.CheckOperationsVerbose(accountModel(), ops, timeout)
	switch res {
	case porcupine.Ok:
		return nil
	case porcupine.Unknown:
		return fmt.Errorf("%w after %v over %d operations", ErrCheckTimeout, timeout, len(ops))
	}
	err := fmt.Errorf("%w (%d operations)", ErrNotLinearizable, len(ops))
	if vizPath != "" {
		if verr := porcupine.VisualizePath(accountModel(), info, vizPath); verr == nil {
			err = fmt.Errorf("%w; see %s", err, vizPath)
		}
	}
	return err
}
