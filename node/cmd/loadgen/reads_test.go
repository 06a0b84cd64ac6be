package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestReadRatioNeedsBothReadModes(t *testing.T) {
	linear := result{mode: modeRead, acked: 1000, elapsed: time.Second}
	local := result{mode: modeReadLocal, acked: 3500, elapsed: time.Second}
	var out bytes.Buffer
	printReadRatio(&out, []result{linear, local})
	require.Equal(t, "reads: 1000 linearizable/s, 3500 local/s: local/linearizable = 3.50\n", out.String())
	out.Reset()
	printReadRatio(&out, []result{linear})
	require.Empty(t, out.String())
}

func TestReadModesAreKnown(t *testing.T) {
	_, err := parseFlags([]string{"--targets", "http://127.0.0.1:1", "--modes", "read,read-local"}, &bytes.Buffer{})
	require.NoError(t, err)
	_, err = parseFlags([]string{"--targets", "http://127.0.0.1:1", "--modes", "read-stale"}, &bytes.Buffer{})
	require.ErrorContains(t, err, `--modes: unknown mode "read-stale"; use single, batch, read or read-local`)
}
