package gen

import (
	"math/rand/v2"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestAppendSpanLinksToTheRoot(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	id := RandomTraceID(rng)
	if id.IsEmpty() {
		t.Fatal("empty trace id")
	}
	spans := ptrace.NewSpanSlice()
	root := AppendSpan(spans, id, pcommon.NewSpanIDEmpty(), rng)
	child := AppendSpan(spans, id, root.SpanID(), rng)
	if spans.Len() != 2 || root.TraceID() != id || child.TraceID() != id {
		t.Fatalf("%d spans, trace ids %v %v, want 2 of %v", spans.Len(), root.TraceID(), child.TraceID(), id)
	}
	if root.SpanID().IsEmpty() || child.SpanID().IsEmpty() || root.SpanID() == child.SpanID() {
		t.Errorf("span ids %v %v, want two distinct non-empty", root.SpanID(), child.SpanID())
	}
	if !root.ParentSpanID().IsEmpty() || child.ParentSpanID() != root.SpanID() {
		t.Errorf("parents %v %v, want none and %v", root.ParentSpanID(), child.ParentSpanID(), root.SpanID())
	}
}

func TestBatchIsDeterministic(t *testing.T) {
	var m ptrace.ProtoMarshaler
	a, err := m.MarshalTraces(New(Default(7)).Batch(50))
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.MarshalTraces(New(Default(7)).Batch(50))
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Error("the same seed gave different batches")
	}
}
