package p2p

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3/raftpb"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/pki"
)

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// recordingHandler is a test double for the node behind the service: it
// answers hellos, records raft messages and refuses every forwarded tx with
// a field error, so the error's trip over the wire can be checked.
type recordingHandler struct {
	mu   sync.Mutex
	msgs []raftpb.Message
}

var _ Handler = (*recordingHandler)(nil)

func (h *recordingHandler) HandleHello(context.Context) Hello {
	return Hello{NodeID: "node0", GenesisHash: testGenesis.Hash(), Height: 7}
}

func (h *recordingHandler) HandleRaft(_ context.Context, msgs []raftpb.Message) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, msgs...)
	return nil
}

func (h *recordingHandler) HandleForward(_ context.Context, txs []chain.Tx) []error {
	errs := make([]error, len(txs))
	for i := range txs {
		errs[i] = &chain.FieldError{Field: "nonce", Msg: fmt.Sprintf("tx %d refused", i), Err: chain.ErrBadNonce}
	}
	return errs
}

func (h *recordingHandler) HandleFetch(_ context.Context, from, to uint64) ([]*chain.Block, error) {
	var out []*chain.Block
	for i := from; i <= to; i++ {
		out = append(out, &chain.Block{Header: chain.Header{Height: i}})
	}
	return out, nil
}

var testGenesis = chain.DevGenesis([]string{"node0", "node1", "node2"}, time.Unix(1_700_000_000, 0))

type fixture struct {
	certs, foreign string
	addr           string
	logs           *logBuffer
	handler        *recordingHandler
}

func setup(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{certs: filepath.Join(dir, "certs"), foreign: filepath.Join(dir, "foreign"), logs: &logBuffer{}, handler: &recordingHandler{}}
	_, err := pki.WriteCluster(f.certs, []string{"node0", "node1", "node2"}, pki.Options{})
	require.NoError(t, err)
	_, err = pki.WriteCluster(f.foreign, []string{"node1"}, pki.Options{})
	require.NoError(t, err)
	b, err := pki.LoadNode(f.certs, "node0")
	require.NoError(t, err)
	srv := NewServer(ServerConfig{NodeID: "node0", Genesis: testGenesis, TLS: b, Handler: f.handler,
		Logger: slog.New(slog.NewTextHandler(f.logs, nil)), TracerProvider: noop.NewTracerProvider()})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f.addr = lis.Addr().String()
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return f
}

// call says hello as the holder of certDir/certNode's certificate, claiming
// to be claimed, with the given genesis hash.
func (f *fixture) call(t *testing.T, certDir, certNode, claimed, genesis string) error {
	t.Helper()
	b, err := pki.LoadNode(certDir, certNode)
	require.NoError(t, err)
	conn, err := grpc.NewClient(f.addr, grpc.WithTransportCredentials(credentials.NewTLS(b.ClientConfig(""))),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(codec{})))
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, mdNodeID, claimed, mdGenesis, genesis)
	var out Hello
	return conn.Invoke(ctx, "/"+ServiceName+"/Hello", &Hello{}, &out)
}

func TestServerChecksIdentity(t *testing.T) {
	f := setup(t)
	gh := testGenesis.Hash().String()
	require.NoError(t, f.call(t, f.certs, "node1", "node1", gh))

	err := f.call(t, f.certs, "node1", "node2", gh)
	require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
	require.Contains(t, err.Error(), `claims node id "node2" but its certificate is for "node1"`)

	err = f.call(t, f.certs, "node1", "node1", chain.Hash{1}.String())
	require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
	require.Contains(t, err.Error(), "runs genesis")

	err = f.call(t, f.certs, "node0", "node0", gh)
	require.Equal(t, codes.PermissionDenied, status.Code(err), "a node may not call itself: %v", err)

	require.Error(t, f.call(t, f.foreign, "node1", "node1", gh), "a certificate from another CA is refused")
	testproc.WaitFor(t, 5*time.Second, "the refused handshake in the log", func() error {
		if !bytes.Contains([]byte(f.logs.String()), []byte("TLS handshake failed")) {
			return fmt.Errorf("log: %s", f.logs.String())
		}
		return nil
	})
	require.Contains(t, f.logs.String(), "peer call refused")
}

func TestServerRefusesTLS12(t *testing.T) {
	f := setup(t)
	b, err := pki.LoadNode(f.certs, "node1")
	require.NoError(t, err)
	cfg := b.ClientConfig("")
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	_, err = tls.Dial("tcp", f.addr, cfg)
	require.Error(t, err)
	require.Contains(t, err.Error(), "protocol version")
	testproc.WaitFor(t, 5*time.Second, "the refused handshake in the log", func() error {
		if !bytes.Contains([]byte(f.logs.String()), []byte("TLS handshake failed")) {
			return fmt.Errorf("log: %s", f.logs.String())
		}
		return nil
	})
}

func TestPeersTransport(t *testing.T) {
	f := setup(t)
	b, err := pki.LoadNode(f.certs, "node1")
	require.NoError(t, err)
	p, err := NewPeers(ClientConfig{NodeID: "node1", Genesis: testGenesis, TLS: b, Addrs: []string{f.addr},
		Logger: slog.New(slog.DiscardHandler), Tracer: noop.NewTracerProvider().Tracer(""), TracerProvider: noop.NewTracerProvider(),
		Hello: func() Hello { return Hello{NodeID: "node1", GenesisHash: testGenesis.Hash()} }})
	require.NoError(t, err)
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	testproc.WaitFor(t, 10*time.Second, "node0 to answer probes", func() error {
		if p.PeersUp() != 1 {
			return fmt.Errorf("peers up: %d", p.PeersUp())
		}
		return nil
	})

	sent := make(chan error, 1)
	p.Send("node0", []raftpb.Message{{Type: raftpb.MsgHeartbeat, To: 1, From: 2, Term: 3}}, func(err error) { sent <- err })
	require.NoError(t, <-sent)
	f.handler.mu.Lock()
	require.Len(t, f.handler.msgs, 1)
	require.Equal(t, uint64(3), f.handler.msgs[0].Term)
	f.handler.mu.Unlock()

	errs, err := p.Forward(ctx, "node0", []chain.Tx{{From: "0xabc", To: "0xdef", Amount: 1}, {From: "0xabc", To: "0xdef", Amount: 2}})
	require.NoError(t, err)
	require.Len(t, errs, 2)
	require.ErrorIs(t, errs[1], chain.ErrBadNonce)
	var fe *chain.FieldError
	require.ErrorAs(t, errs[1], &fe)
	require.Equal(t, "nonce", fe.Field)
	require.Equal(t, "tx 1 refused", fe.Msg)

	blocks, err := p.FetchBlocks(ctx, "node0", 4, 6)
	require.NoError(t, err)
	require.Len(t, blocks, 3)
	require.Equal(t, uint64(6), blocks[2].Header.Height)

	_, err = p.Forward(ctx, "node2", nil)
	require.ErrorIs(t, err, ErrUnknownPeer)
}
