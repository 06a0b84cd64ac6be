package policyfile

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseHead(t *testing.T) {
	h, err := ParseHead("p.yaml", []byte("rules:\n  - {name: default, keep: 0.1}\n"))
	require.NoError(t, err)
	require.Equal(t, HeadService{Name: "blockchain", Keep: 1}, h.Service("blockchain"), "no head: keep everything")

	h, err = ParseHead("p.yaml", []byte("head: {keep: 0.1}\nrules:\n  - {name: default, keep: 1}\n"))
	require.NoError(t, err)
	require.Equal(t, 0.1, h.Service("blockchain").Keep)

	_, err = ParseHead("p.yaml", []byte("head: {keep: 0.1}\nrules:\n  - {name: default}\n"))
	require.ErrorIs(t, err, ErrInvalid, "a file the processor refuses is refused here")
	var perr *Error
	require.ErrorAs(t, err, &perr)
	require.Equal(t, 3, perr.Line)
}

func TestLoadAndWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	require.NoError(t, os.WriteFile(path, []byte("head: {keep: 0.5}\nrules:\n  - {name: default, keep: 1}\n"), 0o600))
	h, data, err := LoadHead(path)
	require.NoError(t, err)
	require.Equal(t, 0.5, h.Keep)
	require.Contains(t, string(data), "keep: 0.5")

	changed := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done, err := Watch(ctx, path, time.Millisecond, func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}, func(err error) { t.Error(err) })
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte("rules: []\n"), 0o600))
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("no call after the file changed")
	}
	_, _, err = LoadHead(path)
	require.ErrorIs(t, err, ErrInvalid)

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the watch did not stop with its context")
	}
}
