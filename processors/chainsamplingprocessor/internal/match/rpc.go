package match

import "strings"

// RPCMethod matches traces with a span whose rpc.method passes Test
// (`rpc_method: Forward` or `rpc_method: chainotel.p2p.v1.Peer/Forward`).
//
// otelgrpc writes rpc.method fully qualified, "chainotel.p2p.v1.Peer/Forward",
// as the current RPC conventions say; under
// OTEL_SEMCONV_STABILITY_OPT_IN=rpc/old it writes the bare "Forward" with
// the service in rpc.service. A recorded value is therefore tried as it is,
// by its bare method name (after the last "/"), and, when it is bare, as
// "<service>/<method>" with each recorded rpc.service, so that a rule in
// either form matches spans in either form.
type RPCMethod struct {
	Slot        int // of rpc.method
	ServiceSlot int // of rpc.service
	Test        ValueTest
}

var _ Matcher = (*RPCMethod)(nil)

// Match implements Matcher.
func (m *RPCMethod) Match(s *Summary, _ Env) bool {
	if m.Slot >= len(s.Span) {
		return false
	}
	for _, v := range s.Span[m.Slot] {
		if m.Test.Test(v) {
			return true
		}
		if v.Kind != KindStr {
			continue
		}
		if i := strings.LastIndexByte(v.Str, '/'); i >= 0 {
			if m.Test.TestString(v.Str[i+1:]) {
				return true
			}
			continue
		}
		if m.ServiceSlot >= len(s.Span) {
			continue
		}
		for _, svc := range s.Span[m.ServiceSlot] {
			if svc.Kind == KindStr && m.Test.TestString(svc.Str+"/"+v.Str) {
				return true
			}
		}
	}
	return false
}
