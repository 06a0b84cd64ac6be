package chainenrichprocessor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/chainotel/chainotel/processors/chainenrichprocessor/internal/metadatatest"
)

// A card number that passes the Luhn check, and one that does not.
const (
	validCard   = "4111 1111 1111 1111"
	invalidCard = "4111 1111 1111 1112"
)

func TestRedactAttributeValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   map[string]any
		want map[string]any
	}{
		{"authorization header", map[string]any{"http.request.header.authorization": "Bearer abc", "http.route": "/tx"}, map[string]any{"http.route": "/tx"}},
		{"case and separators", map[string]any{"X-Api-Key": "k", "apiKey": "k", "API_KEY": "k", "keep": "v"}, map[string]any{"keep": "v"}},
		{"cookies", map[string]any{"http.request.header.cookie": "a=b", "Set-Cookie": "c=d"}, map[string]any{}},
		{"tokens passwords private keys", map[string]any{"auth.token": "t", "db.password": "p", "node.private_key": "0xkey", "wallet.mnemonic": "w"}, map[string]any{}},
		{"valid card masked", map[string]any{"note": "paid with " + validCard + " today"}, map[string]any{"note": "paid with [REDACTED:card] today"}},
		{"card with dashes", map[string]any{"note": "4111-1111-1111-1111"}, map[string]any{"note": "[REDACTED:card]"}},
		{"non-Luhn digits kept", map[string]any{"note": invalidCard}, map[string]any{"note": invalidCard}},
		{"email", map[string]any{"user": "mail alice.smith+tx@example.co.uk now"}, map[string]any{"user": "mail [REDACTED:email] now"}},
		{"phone", map[string]any{"contact": "call +1 415-555-2671 or (030) 1234 5678"}, map[string]any{"contact": "call [REDACTED:phone] or [REDACTED:phone]"}},
		{"chain values untouched", map[string]any{
			"chain.block.hash": "0x9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			"chain.tx.amount":  "1234567890", "chain.block.height": int64(4111111111111111), "sync.height_range": "120-180",
		}, map[string]any{
			"chain.block.hash": "0x9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			"chain.tx.amount":  "1234567890", "chain.block.height": int64(4111111111111111), "sync.height_range": "120-180",
		}},
		{"nested maps and slices", map[string]any{
			"request": map[string]any{
				"headers": map[string]any{"Authorization": "Basic x", "accept": "json"},
				"users":   []any{"bob@example.com", map[string]any{"password": "p", "name": "b"}, []any{validCard}},
			},
		}, map[string]any{
			"request": map[string]any{
				"headers": map[string]any{"accept": "json"},
				"users":   []any{"[REDACTED:email]", map[string]any{"name": "b"}, []any{"[REDACTED:card]"}},
			},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipeline(t, defaultConfig())
			td := ptrace.NewTraces()
			s := newSpan(td, "c", "n0", "POST /tx")
			ev := s.Events().AppendEmpty()
			link := s.Links().AppendEmpty()
			rs := td.ResourceSpans().At(0)
			maps := map[string]pcommon.Map{
				"span": s.Attributes(), "event": ev.Attributes(), "link": link.Attributes(),
				"scope": rs.ScopeSpans().At(0).Scope().Attributes(),
			}
			for _, m := range maps {
				assert.NoError(t, m.FromRaw(tc.in))
			}
			ld := plog.NewLogs()
			lr := newLog(ld, "c", "n0", plog.SeverityNumberInfo, "")
			assert.NoError(t, lr.Attributes().FromRaw(tc.in))
			assert.NoError(t, lr.Body().SetEmptyMap().FromRaw(tc.in))

			p.consumeTraces(td)
			p.consumeLogs(ld)
			for where, m := range maps {
				assert.Equal(t, tc.want, m.AsRaw(), where)
			}
			assert.Equal(t, tc.want, lr.Attributes().AsRaw(), "log attributes")
			assert.Equal(t, tc.want, lr.Body().Map().AsRaw(), "log body map")
		})
	}
}

func TestRedactResourceStatusAndBodies(t *testing.T) {
	p := newPipeline(t, defaultConfig())
	td := ptrace.NewTraces()
	s := newSpan(td, "c", "n0", "POST /tx")
	res := td.ResourceSpans().At(0).Resource().Attributes()
	res.PutStr("deployment.token", "secret")
	res.PutStr("owner", "ops@example.com")
	s.Status().SetCode(ptrace.StatusCodeError)
	s.Status().SetMessage("charge " + validCard + " failed")
	p.consumeTraces(td)
	assert.Equal(t, map[string]any{"chain.id": "c", "service.instance.id": "n0", "owner": "[REDACTED:email]"}, res.AsRaw())
	assert.Equal(t, "charge [REDACTED:card] failed", s.Status().Message())

	ld := plog.NewLogs()
	str := newLog(ld, "c", "n0", plog.SeverityNumberInfo, "user bob@example.com called +44 20 7946 0958")
	sl := newLog(ld, "c", "n0", plog.SeverityNumberInfo, "")
	require.NoError(t, sl.Body().SetEmptySlice().FromRaw([]any{"x", validCard, map[string]any{"cookie": "c", "k": "v"}}))
	ld.ResourceLogs().At(0).Resource().Attributes().PutStr("Authorization", "x")
	p.consumeLogs(ld)
	assert.Equal(t, "user [REDACTED:email] called [REDACTED:phone]", str.Body().Str())
	assert.Equal(t, []any{"x", "[REDACTED:card]", map[string]any{"k": "v"}}, sl.Body().Slice().AsRaw())
	_, ok := ld.ResourceLogs().At(0).Resource().Attributes().Get("Authorization")
	assert.False(t, ok)
}

func TestRedactionCustomAndMetrics(t *testing.T) {
	cfg := defaultConfig()
	cfg.Redaction.SecretKeys = []string{"x-session"}
	cfg.Redaction.Patterns = []PatternConfig{{Name: "iban", Regex: `\bDE\d{20}\b`, Replacement: "<iban>"}}
	p := newPipeline(t, cfg)
	td := ptrace.NewTraces()
	s := newSpan(td, "c", "n0", "op")
	s.Attributes().PutStr("http.request.header.x_session", "s")
	s.Attributes().PutStr("authorization", "kept: not configured any more")
	s.Attributes().PutStr("iban", "DE89370400440532013000 and DE89370400440532013001")
	s.Attributes().PutStr("mail", "a@b.example")
	p.consumeTraces(td)
	assert.Equal(t, map[string]any{
		"authorization": "kept: not configured any more",
		"iban":          "<iban> and <iban>",
		"mail":          "a@b.example",
	}, s.Attributes().AsRaw())

	metadatatest.AssertEqualProcessorChainenrichRedactions(t, p.tt, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("kind", "secret_key"))},
		{Value: 2, Attributes: attribute.NewSet(attribute.String("kind", "pattern:iban"))},
	}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

func TestFillResource(t *testing.T) {
	cfg := defaultConfig()
	cfg.Environment, cfg.Release = "prod", "9.9.9"
	p := newPipeline(t, cfg)
	td := ptrace.NewTraces()
	newSpan(td, "c", "n0", "a")
	withOwn := newSpan(td, "c", "n1", "b")
	_ = withOwn
	own := td.ResourceSpans().At(1).Resource().Attributes()
	own.PutStr("deployment.environment.name", "dev")
	own.PutStr("service.version", "0.3.0")
	p.consumeTraces(td)
	first := td.ResourceSpans().At(0).Resource().Attributes()
	assert.Equal(t, "prod", attr(first, "deployment.environment.name"))
	assert.Equal(t, "9.9.9", attr(first, "service.version"))
	assert.Equal(t, "dev", attr(own, "deployment.environment.name"), "an existing value is kept")
	assert.Equal(t, "0.3.0", attr(own, "service.version"))

	ld := plog.NewLogs()
	newLog(ld, "c", "n0", plog.SeverityNumberInfo, "x")
	p.consumeLogs(ld)
	assert.Equal(t, "prod", attr(ld.ResourceLogs().At(0).Resource().Attributes(), "deployment.environment.name"))
	assert.Equal(t, "9.9.9", attr(ld.ResourceLogs().At(0).Resource().Attributes(), "service.version"))
}
