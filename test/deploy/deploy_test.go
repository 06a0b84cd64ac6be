//go:build integration

// Package deploy tests deploy/: the docker compose testnet as `make testnet-up` runs it,
// with the images built from this tree. They skip, saying why, where there is
// no Docker daemon or no docker-compose.
package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/node/api"
)

const (
	txCount     = 6
	logsWait    = 60 * time.Second // node batch + collector batch + file exporter flush
	samplerWait = 90 * time.Second // chainsampling's decision wait (10 s) + retries + flushes
)

// TestTestnet brings up deploy/docker-compose.yml, submits transfers through
// the nodes' published 127.0.0.1 ports, and checks that the nodes agree (also
// after a node restarts), that nothing but the nodes' ports is published (and
// only on 127.0.0.1), and that each node's telemetry reaches its own sidecar
// collector.
func TestTestnet(t *testing.T) {
	requireDocker(t)
	buildImages(t)
	n := startTestnet(t, nil, "docker-compose.yml")

	requireLoopbackPorts(t, n)
	receipts := submit(t, n, []int{0, 1, 2})
	n.requireAgreement(receipts)

	// A node restarted by compose comes back from its own data volume, rejoins
	// and takes transactions again.
	if _, err := n.compose(composeTimeout, "restart", "--timeout", "20", "node1"); err != nil {
		t.Fatalf("restarting node1: %v", err)
	}
	n.waitHealthy(1, "node1")
	receipts = append(receipts, n.postTx(1, txCount+1))
	n.requireAgreement(receipts)

	// The node's OTLP goes to its sidecar: each sidecar's logs come from its
	// node alone (config.yaml's file/logs, in the sidecar's volume).
	for _, name := range nodeNames() {
		sidecar := name + "-otel"
		var got map[string]int
		testproc.WaitFor(t, logsWait, sidecar+" holding "+name+"'s OTLP logs", func() error {
			data, err := n.containerFile(sidecar, "/out/logs.jsonl")
			if err != nil {
				return err
			}
			if got, err = logNodes(data); err != nil {
				return fmt.Errorf("%s:/out/logs.jsonl: %w", sidecar, err)
			}
			if got[name] == 0 {
				return fmt.Errorf("no log record of %s yet (records by node: %s)", name, describeNodes(got))
			}
			return nil
		})
		if len(got) != 1 {
			t.Errorf("%s received logs from %s; want only %s's", sidecar, describeNodes(got), name)
		}
		t.Logf("%s holds %d log records, all from %s", sidecar, got[name], name)
	}
}

// TestScaleOutTracesWhole brings up the scale-out profile with every trace
// kept (testdata/docker-compose.test.yml) and submits transfers to the
// followers, so each one's trace crosses the follower and the leader. Every
// span a sidecar routes is also tapped to a file; each transaction's trace
// must then be written whole by exactly one sampler: the same spans, from
// every node the trace crossed, and no part of it at the other sampler.
func TestScaleOutTracesWhole(t *testing.T) {
	requireDocker(t)
	buildImages(t)
	out := t.TempDir()
	dirs := []string{"sampler0", "sampler1"}
	for _, name := range nodeNames() {
		dirs = append(dirs, filepath.Join("tap", name))
	}
	for _, d := range dirs {
		// The collectors run as an unprivileged user (65532) and write here.
		p := filepath.Join(out, d)
		if err := os.MkdirAll(p, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	n := startTestnet(t, []string{"CHAINOTEL_DEPLOY_OUT=" + out},
		"docker-compose.yml", "docker-compose.scaleout.yml", "testdata/docker-compose.test.yml")

	leader := n.leader()
	var followers []int
	for i := range nodeNames() {
		if i != leader {
			followers = append(followers, i)
		}
	}
	receipts := submit(t, n, followers)
	n.requireAgreement(receipts)

	readAll := func() (tap spanSet, samplers [2]spanSet, err error) {
		tap = spanSet{}
		for _, name := range nodeNames() {
			if err := tap.readFile(filepath.Join(out, "tap", name, "spans.jsonl")); err != nil {
				return nil, samplers, err
			}
		}
		for i := range samplers {
			samplers[i] = spanSet{}
			if err := samplers[i].readFile(filepath.Join(out, fmt.Sprintf("sampler%d", i), "traces.jsonl")); err != nil {
				return nil, samplers, err
			}
		}
		return tap, samplers, nil
	}

	// Each transaction's trace, whole at one sampler. Spans may still be on
	// their way (the node's batch, the sidecar, the sampler's decision wait),
	// so this is waited for; a trace split between the samplers never heals.
	type verdict struct {
		tx      string
		sampler int
		spans   int
		nodes   []string
	}
	var verdicts []verdict
	split := "" // a split never heals: waiting on would only delay the failure
	testproc.WaitFor(t, samplerWait, fmt.Sprintf("the traces of %d transactions whole at one sampler", len(receipts)), func() error {
		tap, samplers, err := readAll()
		if err != nil {
			return err
		}
		verdicts = verdicts[:0]
		for _, r := range receipts {
			tx := r.TxHash.String()
			ids := tap.tracesOfTx(tx)
			if len(ids) == 0 {
				return fmt.Errorf("no span about tx %s has reached a sidecar yet", tx)
			}
			for _, id := range ids {
				want := tap[id]
				var at []int
				for i, s := range samplers {
					if len(s[id]) > 0 {
						at = append(at, i)
					}
				}
				switch {
				case len(at) == 0:
					return fmt.Errorf("tx %s: trace %s (%d spans from %v) at no sampler yet", tx, id, len(want), tap.nodes(id))
				case len(at) > 1:
					split = fmt.Sprintf("tx %s: trace %s split between the samplers: %d spans at sampler0, %d at sampler1",
						tx, id, len(samplers[0][id]), len(samplers[1][id]))
					return nil
				}
				got := samplers[at[0]][id]
				if lack := missing(want, got); len(lack) > 0 {
					return fmt.Errorf("tx %s: trace %s at sampler%d lacks %v", tx, id, at[0], lack)
				}
				if extra := missing(got, want); len(extra) > 0 {
					return fmt.Errorf("tx %s: trace %s at sampler%d has spans no sidecar routed: %v", tx, id, at[0], extra)
				}
				verdicts = append(verdicts, verdict{tx: tx, sampler: at[0], spans: len(got), nodes: tap.nodes(id)})
			}
		}
		return nil
	})
	if split != "" {
		t.Fatal(split)
	}

	crossed := 0
	atSampler := [2]int{}
	for _, v := range verdicts {
		t.Logf("tx %s…: trace whole at sampler%d, %d spans from %s", v.tx[:12], v.sampler, v.spans, strings.Join(v.nodes, ", "))
		atSampler[v.sampler]++
		if len(v.nodes) > 1 {
			crossed++
		}
	}
	// Without traces that cross nodes the check above proves nothing.
	if crossed == 0 {
		t.Fatalf("no transaction's trace crossed more than one node (%d traces); a transfer submitted to a "+
			"follower should carry its context to the leader", len(verdicts))
	}
	t.Logf("%d of %d traces crossed several nodes; sampler0 decided %d, sampler1 %d",
		crossed, len(verdicts), atSampler[0], atSampler[1])

	// And no trace at all, transaction or consensus, is split between the samplers.
	_, samplers, err := readAll()
	if err != nil {
		t.Fatal(err)
	}
	for id := range samplers[0] {
		if len(samplers[1][id]) > 0 {
			t.Errorf("trace %s split: %d spans at sampler0, %d at sampler1", id, len(samplers[0][id]), len(samplers[1][id]))
		}
	}
}

// submit posts txCount transfers, round-robin over the nodes named by index,
// each acknowledged only once committed.
func submit(t *testing.T, n *testnet, to []int) []api.Receipt {
	t.Helper()
	var receipts []api.Receipt
	for k := range txCount {
		i := to[k%len(to)]
		r := n.postTx(i, k+1)
		t.Logf("tx %s via %s (127.0.0.1:%d): committed in block %d", r.TxHash, nodeNames()[i], n.apiPort[i], r.Height)
		receipts = append(receipts, r)
	}
	return receipts
}

// requireLoopbackPorts checks that the nodes' ports are published on
// 127.0.0.1 only, and that the collectors publish none.
func requireLoopbackPorts(t *testing.T, n *testnet) {
	t.Helper()
	out, err := n.compose(time.Minute, "ps", "-q")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range strings.Fields(out) {
		ports, err := run(t, time.Minute, n.dir, nil, "docker", "port", id)
		if err != nil {
			t.Fatal(err)
		}
		name, err := run(t, time.Minute, n.dir, nil, "docker", "inspect", "--format",
			`{{index .Config.Labels "com.docker.compose.service"}}`, id)
		if err != nil {
			t.Fatal(err)
		}
		name = strings.TrimSpace(name)
		for _, line := range strings.Split(strings.TrimSpace(ports), "\n") {
			if line == "" {
				continue
			}
			if !slices.Contains(nodeNames(), name) {
				t.Errorf("%s publishes %s; only the nodes publish ports", name, line)
			} else if !strings.Contains(line, "-> 127.0.0.1:") {
				t.Errorf("%s publishes %q, not on 127.0.0.1 only", name, line)
			}
		}
	}
}
