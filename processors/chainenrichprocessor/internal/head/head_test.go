package head

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func TestEvictsLeastRecentlyUpdated(t *testing.T) {
	tr, err := New(2)
	require.NoError(t, err)
	a, b, c := Key{"x", "a"}, Key{"x", "b"}, Key{"x", "c"}
	tr.Observe(a, Head{Height: 1})
	tr.Observe(b, Head{Height: 1})
	tr.Observe(a, Head{Height: 2}) // a is now the most recent
	tr.Observe(c, Head{Height: 1})
	_, ok := tr.Get(b)
	assert.False(t, ok, "b was least recently updated")
	h, ok := tr.Get(a)
	assert.True(t, ok)
	assert.Equal(t, int64(2), h.Height)
	assert.Equal(t, 2, tr.Len())

	_, err = New(0)
	assert.Error(t, err)
}

func TestFromAttributes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		height any
		want   int64
		ok     bool
	}{
		{"int", int64(5), 5, true},
		{"double", 6.0, 6, true},
		{"string", "7", 7, true},
		{"not a number", "seven", 0, false},
		{"negative", int64(-1), 0, false},
		{"bool", true, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := pcommon.NewMap()
			require.NoError(t, m.FromRaw(map[string]any{"h": tc.height, "hash": "0x1", "root": "0x2"}))
			h, ok := FromAttributes(m, "h", "hash", "root")
			assert.Equal(t, tc.ok, ok)
			if ok {
				assert.Equal(t, Head{Height: tc.want, Hash: "0x1", StateRoot: "0x2"}, h)
			}
		})
	}
	_, ok := FromAttributes(pcommon.NewMap(), "h", "hash", "root")
	assert.False(t, ok, "no height, no head")
}
