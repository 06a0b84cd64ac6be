package consensus

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainotel/chainotel/node/chain"
)

// TxLinks returns span links to the traces that submitted txs (each tx's
// traceparent rides in the block), at most max of them: a block's
// consensus.propose and block.apply spans link to their transactions this way.
func TxLinks(txs []chain.Tx, max int) []trace.Link {
	var links []trace.Link
	prop := propagation.TraceContext{}
	for i := range txs {
		if len(links) == max {
			break
		}
		if txs[i].TraceParent == "" {
			continue
		}
		ctx := prop.Extract(context.Background(), propagation.MapCarrier{"traceparent": txs[i].TraceParent})
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	return links
}
