package chainenrichprocessor

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/semconv"
)

// secretKeyVariants spell the default secrets the ways instrumentation does.
var secretKeyVariants = []string{
	"Authorization", "http.request.header.authorization", "proxy-authorization", "Cookie",
	"http.response.header.set-cookie", "auth.token", "access_token", "X-Api-Key", "apiKey",
	"db.password", "PASSWD", "client_secret", "node.private_key", "PrivateKey", "wallet.mnemonic",
	"seed-phrase",
}

// planted values: each must be gone from the output.
func plantedValue(r *rand.Rand, i int) (string, string) {
	switch r.IntN(4) {
	case 0:
		return fmt.Sprintf("user%d@mail%d.example.org", i, i), "email"
	case 1:
		return luhnNumber(r), "card"
	case 2:
		return fmt.Sprintf("+%d %d %03d %04d", 1+r.IntN(98), 10+r.IntN(89), r.IntN(1000), r.IntN(10000)), "phone"
	default:
		return fmt.Sprintf("(0%d) %04d %04d", 10+r.IntN(89), r.IntN(10000), r.IntN(10000)), "phone"
	}
}

// luhnNumber makes a 16-digit number with a valid Luhn check digit,
// grouped like a card.
func luhnNumber(r *rand.Rand) string {
	d := make([]int, 16)
	d[0] = 4
	for i := 1; i < 15; i++ {
		d[i] = r.IntN(10)
	}
	sum := 0
	for i := 14; i >= 0; i-- {
		v := d[i]
		if (14-i)%2 == 0 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	d[15] = (10 - sum%10) % 10
	var b strings.Builder
	for i, v := range d {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteByte(byte('0' + v))
	}
	return b.String()
}

type planter struct {
	r       *rand.Rand
	n       int
	planted []string
}

// fill puts ordinary attributes, secrets (under secret keys, with unique
// values) and personal data (inside strings) into m, nested up to depth.
func (p *planter) fill(m pcommon.Map, depth int) {
	m.PutStr(semconv.BlockHashKey, fmt.Sprintf("0x%064x", p.r.Uint64()))
	m.PutInt(semconv.BlockHeightKey, p.r.Int64N(1<<40))
	for range 1 + p.r.IntN(3) {
		p.n++
		secret := fmt.Sprintf("s3cr3t-%d-%d", p.n, p.r.Uint32())
		p.planted = append(p.planted, secret)
		m.PutStr(secretKeyVariants[p.r.IntN(len(secretKeyVariants))]+fmt.Sprint(p.n%3), secret)
		v, _ := plantedValue(p.r, p.n)
		p.planted = append(p.planted, v)
		m.PutStr(fmt.Sprintf("note.%d", p.n), "contact: "+v+" (ok)")
	}
	if depth > 0 {
		p.fill(m.PutEmptyMap(fmt.Sprintf("nested.%d", p.n)), depth-1)
		sl := m.PutEmptySlice(fmt.Sprintf("list.%d", p.n))
		v, _ := plantedValue(p.r, p.n)
		p.planted = append(p.planted, v)
		sl.AppendEmpty().SetStr(v)
		p.fill(sl.AppendEmpty().SetEmptyMap(), depth-1)
	}
}

// TestNoSecretSurvivesLargeBatch generates a large batch of spans and logs
// with secrets and personal data everywhere they can hide, and checks that
// none of it is left anywhere in what comes out.
func TestNoSecretSurvivesLargeBatch(t *testing.T) {
	p := newPipeline(t, defaultConfig())
	pl := &planter{r: rand.New(rand.NewPCG(1, 2))}

	td := ptrace.NewTraces()
	for range 6 {
		rs := td.ResourceSpans().AppendEmpty()
		pl.fill(rs.Resource().Attributes(), 0)
		ss := rs.ScopeSpans().AppendEmpty()
		pl.fill(ss.Scope().Attributes(), 0)
		for range 60 {
			s := ss.Spans().AppendEmpty()
			s.SetName(semconv.SpanBlockApply)
			pl.fill(s.Attributes(), 2)
			if pl.r.IntN(3) == 0 {
				s.Status().SetCode(ptrace.StatusCodeError)
				v, _ := plantedValue(pl.r, 0)
				pl.planted = append(pl.planted, v)
				s.Status().SetMessage("failed for " + v)
			}
			pl.fill(s.Events().AppendEmpty().Attributes(), 1)
			pl.fill(s.Links().AppendEmpty().Attributes(), 1)
		}
	}
	ld := plog.NewLogs()
	for range 6 {
		rl := ld.ResourceLogs().AppendEmpty()
		pl.fill(rl.Resource().Attributes(), 0)
		sl := rl.ScopeLogs().AppendEmpty()
		for i := range 60 {
			lr := sl.LogRecords().AppendEmpty()
			lr.SetSeverityNumber(plog.SeverityNumber(1 + pl.r.IntN(24)))
			pl.fill(lr.Attributes(), 2)
			switch i % 3 {
			case 0:
				v, _ := plantedValue(pl.r, i)
				pl.planted = append(pl.planted, v)
				lr.Body().SetStr("login by " + v)
			case 1:
				pl.fill(lr.Body().SetEmptyMap(), 2)
			default:
				sl := lr.Body().SetEmptySlice()
				v, _ := plantedValue(pl.r, i)
				pl.planted = append(pl.planted, v)
				sl.AppendEmpty().SetStr(v)
				pl.fill(sl.AppendEmpty().SetEmptyMap(), 1)
			}
		}
	}
	require.Greater(t, len(pl.planted), 5000)

	tj, err := (&ptrace.JSONMarshaler{}).MarshalTraces(p.consumeTraces(td))
	require.NoError(t, err)
	lj, err := (&plog.JSONMarshaler{}).MarshalLogs(p.consumeLogs(ld))
	require.NoError(t, err)
	out := string(tj) + string(lj)
	// Every planted value has one of these shapes (checked on the input),
	// so scanning the output for the shapes finds any survivor in one pass.
	shapes := regexp.MustCompile(`s3cr3t-\d+-\d+|user\d+@mail\d+\.example\.org|4\d{3} \d{4} \d{4} \d{4}|` +
		`\+\d{1,2} \d{2} \d{3} \d{4}|\(0\d{2}\) \d{4} \d{4}`)
	for _, s := range pl.planted {
		require.Truef(t, shapes.MatchString(s), "planted %q has no known shape", s)
	}
	if m := shapes.FindAllString(out, 5); len(m) > 0 {
		t.Fatalf("%d+ planted values survived redaction, e.g. %q", len(m), m)
	}
	// Independent of the redactor's own matching: no key that names a
	// secret is left, at any depth.
	lower := strings.ToLower(out)
	for _, k := range secretKeyVariants {
		require.NotContainsf(t, lower, `"key":"`+strings.ToLower(k), "key %s survived", k)
	}
	// What is not secret is still there.
	require.Contains(t, out, semconv.BlockHashKey)
	require.Contains(t, out, "(ok)")
}
