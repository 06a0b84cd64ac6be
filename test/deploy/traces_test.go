//go:build integration

package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/chainotel/chainotel/semconv"
)

// span is what the whole-trace check needs of a span.
type span struct {
	node   string // service.instance.id of its resource
	name   string
	txHash string // chain.tx.hash, when it has one
}

// spanSet is the spans of one or more files of the file exporter, by trace and span id.
type spanSet map[pcommon.TraceID]map[pcommon.SpanID]span

// completeLines returns the lines of data that end in a newline: the file
// exporter may be half-way through writing the last one.
func completeLines(data []byte) [][]byte {
	end := bytes.LastIndexByte(data, '\n')
	if end < 0 {
		return nil
	}
	var lines [][]byte
	for _, l := range bytes.Split(data[:end], []byte{'\n'}) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, l)
		}
	}
	return lines
}

// readSpans adds the spans of a file exporter's traces file to s; a file not
// written yet adds nothing.
func (s spanSet) readFile(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var u ptrace.JSONUnmarshaler
	for i, line := range completeLines(data) {
		td, err := u.UnmarshalTraces(line)
		if err != nil {
			return fmt.Errorf("%s line %d: %w", path, i+1, err)
		}
		s.add(td)
	}
	return nil
}

func (s spanSet) add(td ptrace.Traces) {
	for _, rs := range td.ResourceSpans().All() {
		node := ""
		if v, ok := rs.Resource().Attributes().Get(semconv.ServiceInstanceIDKey); ok {
			node = v.Str()
		}
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				got := span{node: node, name: sp.Name()}
				if v, ok := sp.Attributes().Get(semconv.TxHashKey); ok {
					got.txHash = v.Str()
				}
				if s[sp.TraceID()] == nil {
					s[sp.TraceID()] = map[pcommon.SpanID]span{}
				}
				s[sp.TraceID()][sp.SpanID()] = got
			}
		}
	}
}

// tracesOfTx returns the ids of the traces holding a span about the transaction.
func (s spanSet) tracesOfTx(hash string) []pcommon.TraceID {
	var ids []pcommon.TraceID
	for id, spans := range s {
		for _, sp := range spans {
			if sp.txHash == hash {
				ids = append(ids, id)
				break
			}
		}
	}
	return ids
}

// nodes returns the sorted node ids of a trace's spans.
func (s spanSet) nodes(id pcommon.TraceID) []string {
	seen := map[string]bool{}
	for _, sp := range s[id] {
		seen[sp.node] = true
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// missing returns the spans of want's trace id that got lacks, as "name@node".
func missing(want, got map[pcommon.SpanID]span) []string {
	var out []string
	for id, sp := range want {
		if _, ok := got[id]; !ok {
			out = append(out, sp.name+"@"+sp.node)
		}
	}
	sort.Strings(out)
	return out
}

// logNodes returns the node ids (service.instance.id) of the log records in a
// file exporter's logs file, with how many records each sent.
func logNodes(data []byte) (map[string]int, error) {
	got := map[string]int{}
	var u plog.JSONUnmarshaler
	for i, line := range completeLines(data) {
		ld, err := u.UnmarshalLogs(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		for _, rl := range ld.ResourceLogs().All() {
			node := "(none)"
			if v, ok := rl.Resource().Attributes().Get(semconv.ServiceInstanceIDKey); ok {
				node = v.Str()
			}
			for _, sl := range rl.ScopeLogs().All() {
				got[node] += sl.LogRecords().Len()
			}
		}
	}
	return got, nil
}

func describeNodes(m map[string]int) string {
	var parts []string
	for n, c := range m {
		parts = append(parts, fmt.Sprintf("%s:%d", n, c))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
