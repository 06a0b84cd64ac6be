//go:build integration

package chaos

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/anishathalye/porcupine"
)

// dumpedOp is one operation of a saved history.
type dumpedOp struct {
	Client  int    `json:"client"`
	Kind    string `json:"kind"`
	Account string `json:"account"`
	Amount  uint64 `json:"amount,omitempty"`
	Unknown bool   `json:"unknown,omitempty"`
	Balance uint64 `json:"balance,omitempty"`
	Call    int64  `json:"call"`
	Return  int64  `json:"return"`
}

// Save writes the history's operations as JSON, so a failed or slow check
// can be replayed (TestReplayHistory) without running the cluster again.
func (h *History) Save(path string) error {
	h.mu.Lock()
	ops := append(append([]porcupine.Operation(nil), h.ops...), h.pending...)
	h.mu.Unlock()
	out := make([]dumpedOp, len(ops))
	for i, op := range ops {
		in, o := op.Input.(input), op.Output.(output)
		out[i] = dumpedOp{Client: op.ClientId, Kind: in.Kind, Account: in.Account, Amount: in.Amount,
			Unknown: o.Unknown, Balance: o.Balance, Call: op.Call, Return: op.Return}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("save history: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("save history: %w", err)
	}
	return nil
}

// LoadHistory reads a history Save wrote.
func LoadHistory(path string) (*History, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load history: %w", err)
	}
	var in []dumpedOp
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("load history %s: %w", path, err)
	}
	h := NewHistory()
	for _, d := range in {
		h.ops = append(h.ops, porcupine.Operation{ClientId: d.Client,
			Input: input{Kind: d.Kind, Account: d.Account, Amount: d.Amount},
			Call:  d.Call, Output: output{Unknown: d.Unknown, Balance: d.Balance}, Return: d.Return})
	}
	return h, nil
}
