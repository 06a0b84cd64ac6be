//go:build integration

package chaos

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The model must refuse what a broken node would show, or the suite's
// "linearizable: yes" would prove nothing.
func TestModelCatchesWhatABrokenNodeShows(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name  string
		build func(h *History)
		ok    bool
	}{
		{"a read after an acknowledged transfer sees it", func(h *History) {
			h.Transfer(0, "0xa", 5, Ack{Call: 0, Return: 10 * ms})
			h.Read(1, "0xa", 5, 20*ms, 30*ms)
		}, true},
		{"a stale read after an acknowledged transfer", func(h *History) {
			h.Transfer(0, "0xa", 5, Ack{Call: 0, Return: 10 * ms})
			h.Read(1, "0xa", 0, 20*ms, 30*ms)
		}, false},
		{"a transfer applied twice", func(h *History) {
			h.Transfer(0, "0xa", 5, Ack{Call: 0, Return: 10 * ms})
			h.Read(1, "0xa", 10, 20*ms, 30*ms)
		}, false},
		{"a concurrent read may see it or not", func(h *History) {
			h.Transfer(0, "0xa", 5, Ack{Call: 0, Return: 30 * ms})
			h.Read(1, "0xa", 0, 10*ms, 20*ms)
			h.Read(2, "0xa", 5, 10*ms, 40*ms)
		}, true},
		{"an unknown transfer may apply late", func(h *History) {
			h.TransferUnknown(0, "0xa", 7, 0)
			h.Read(1, "0xa", 0, 20*ms, 30*ms)
			h.Read(1, "0xa", 7, 40*ms, 50*ms)
			h.Resolve(map[uint64]uint64{7: 3}, 60*ms)
		}, true},
		{"an unknown transfer left out of the chain may have never applied", func(h *History) {
			h.TransferUnknown(0, "0xa", 7, 0)
			h.Read(1, "0xa", 0, 20*ms, 30*ms)
			h.Resolve(nil, 60*ms)
		}, true},
		{"an unknown transfer cannot apply before it was sent", func(h *History) {
			h.Read(1, "0xa", 7, 0, 10*ms)
			h.TransferUnknown(0, "0xa", 7, 20*ms)
			h.Resolve(map[uint64]uint64{7: 1}, 60*ms)
		}, false},
		{"an unknown transfer applied before a receipt at its height or above returned", func(h *History) {
			h.TransferUnknown(0, "0xa", 7, 0)
			h.Transfer(1, "0xb", 1, Ack{Height: 4, Call: 0, Return: 10 * ms})
			h.Read(2, "0xa", 0, 20*ms, 30*ms) // too late to miss it: a stale read
			h.Resolve(map[uint64]uint64{7: 3, 1: 4}, 60*ms)
		}, false},
		{"a read cannot go back", func(h *History) {
			h.TransferUnknown(0, "0xa", 7, 0)
			h.Read(1, "0xa", 7, 20*ms, 30*ms)
			h.Read(1, "0xa", 0, 40*ms, 50*ms)
			h.Resolve(map[uint64]uint64{7: 2}, 60*ms)
		}, false},
		{"accounts are independent", func(h *History) {
			h.Transfer(0, "0xa", 5, Ack{Call: 0, Return: 10 * ms})
			h.Read(1, "0xb", 0, 20*ms, 30*ms)
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHistory()
			tc.build(h)
			err := h.CheckLinearizable(10*time.Second, "")
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrNotLinearizable)
			}
		})
	}
}

// TestReplayHistory re-checks a history saved by a chaos run (the path in
// CHAINOTEL_CHAOS_HISTORY), to study a violation without the cluster.
func TestReplayHistory(t *testing.T) {
	path := os.Getenv(envHistory)
	if path == "" {
		t.Skipf("set %s to the path of a saved history to replay it", envHistory)
	}
	h, err := LoadHistory(path)
	require.NoError(t, err)
	require.NoError(t, h.CheckLinearizable(5*time.Minute, path+".html"))
}
