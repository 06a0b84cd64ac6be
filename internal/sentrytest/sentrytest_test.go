package sentrytest

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const id = "0123456789abcdef0123456789abcdef"

func TestParseEnvelope(t *testing.T) {
	payload := `{"event_id":"` + id + `","message":"a\nb"}`
	for _, tc := range []struct {
		name, body, wantErr string
	}{
		{name: "implicit length", body: `{"event_id":"` + id + `"}` + "\n" + `{"type":"event"}` + "\n" + `{"event_id":"` + id + `","level":"error"}` + "\n"},
		{name: "explicit length, client report skipped", body: `{"event_id":"` + id + `"}` + "\n" +
			`{"type":"event","length":` + strconv.Itoa(len(payload)) + `}` + "\n" + payload + "\n" +
			`{"type":"client_report"}` + "\n" + `{"discarded_events":[]}` + "\n"},
		{name: "no trailing newline", body: `{"event_id":"` + id + `"}` + "\n" + `{"type":"event"}` + "\n" + `{"event_id":"` + id + `"}`},
		{name: "bad header", body: "nope\n", wantErr: "envelope header"},
		{name: "no event", body: `{}` + "\n" + `{"type":"client_report"}` + "\n{}\n", wantErr: "no event item"},
		{name: "short payload", body: `{"event_id":"` + id + `"}` + "\n" + `{"type":"event","length":500}` + "\n{}\n", wantErr: "shorter than its length"},
		{name: "ids differ", body: `{"event_id":"` + id + `"}` + "\n" + `{"type":"event"}` + "\n" + `{"event_id":"ffffffffffffffffffffffffffffffff"}` + "\n", wantErr: "differs from the envelope's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := ParseEnvelope([]byte(tc.body))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Len(t, evs, 1)
			assert.Equal(t, id, string(evs[0].EventID))
			assert.Equal(t, "event", evs[0].Item.Type)
		})
	}
}
