package node

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/chainotel/chainotel/internal/testproc"
	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus/raft"
	"github.com/chainotel/chainotel/node/p2p"
	"github.com/chainotel/chainotel/node/pki"
)

// rawMessage is a peer message of arbitrary bytes, sent as they are by the
// peer codec (it has MarshalBinary), to play a broken or hostile peer.
type rawMessage []byte

func (m rawMessage) MarshalBinary() ([]byte, error) { return m, nil }
func (m *rawMessage) UnmarshalBinary(b []byte) error {
	*m = append((*m)[:0], b...)
	return nil
}

// issue makes a certificate signed by the cluster CA in certs: for the node
// id in uri (none when nil), valid from notBefore to notAfter.
func issue(t *testing.T, certs string, uri *url.URL, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	ca, err := tls.LoadX509KeyPair(filepath.Join(certs, "ca.crt"), filepath.Join(certs, "ca.key"))
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "intruder"},
		NotBefore:    notBefore, NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if uri != nil {
		tmpl.URIs = []*url.URL{uri}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Leaf, &key.PublicKey, ca.PrivateKey)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// refusedHandshake dials addr with cfg and requires the node to refuse it: in
// TLS 1.3 the refusal of a client certificate reaches the client on its
// first read, so a read that times out means the node accepted it.
func refusedHandshake(t *testing.T, addr string, cfg *tls.Config) {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err == nil {
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, err = conn.Read(make([]byte, 1))
		_ = conn.Close()
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "the node neither answered nor refused")
	}
	require.Error(t, err)
}

// TestPeerPortRefusesBadPeersAndKeepsCommitting plays hostile peers against
// a running 3-node cluster: certificates that are expired or carry no node
// id (both signed by the cluster CA, so only those checks refuse them),
// garbage HTTP/2 frames after a valid handshake, and from a valid peer a
// message over the size limit, undecodable messages and a raft message in
// another node's name. Each is refused, and logged by the node (the garbage
// frames only by gRPC's transport, which closes the connection), and the
// cluster goes on committing with identical chains.
func TestPeerPortRefusesBadPeersAndKeepsCommitting(t *testing.T) {
	c := newTestCluster(t)
	target := 1 // any node; the test does not depend on who leads
	c.postTx(c.leader(), `{"from":"0xabc","to":"0xdef","amount":1}`)
	addr := fmt.Sprintf("127.0.0.1:%d", c.ports[target])
	certs := filepath.Join(c.dir, "certs")
	node0, err := pki.LoadNode(certs, "node0")
	require.NoError(t, err)
	logStart := len(c.running[target].logs.String())

	expired := node0.ClientConfig(c.ids[target])
	expired.Certificates = []tls.Certificate{issue(t, certs, pki.NodeURI("node0"), time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))}
	refusedHandshake(t, addr, expired)

	noID := node0.ClientConfig(c.ids[target])
	noID.Certificates = []tls.Certificate{issue(t, certs, nil, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))}
	refusedHandshake(t, addr, noID)

	// A valid peer's handshake, then bytes that are no HTTP/2: the node
	// closes the connection rather than waiting on it.
	h2 := node0.ClientConfig(c.ids[target])
	h2.NextProtos = []string{"h2"}
	conn, err := tls.Dial("tcp", addr, h2)
	require.NoError(t, err)
	_, err = conn.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff\xff\x09\x00\x00\x00\x00\x01garbage frame"))
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = io.ReadAll(conn) // returns once the node closes the connection
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the node kept a connection of garbage frames open")
	_ = conn.Close()

	// Messages from a peer with a valid certificate: over the size limit,
	// and not decodable as what the method takes.
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(node0.ClientConfig(c.ids[target]))),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(peerCodec{}), grpc.MaxCallSendMsgSize(2*p2p.MaxMessageBytes)))
	require.NoError(t, err)
	defer func() { _ = cc.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out rawMessage
	err = cc.Invoke(ctx, "/"+p2p.ServiceName+"/Raft", rawMessage(make([]byte, p2p.MaxMessageBytes+1)), &out)
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	for _, method := range []string{"Raft", "Forward", "Fetch", "Hello"} {
		err = cc.Invoke(ctx, "/"+p2p.ServiceName+"/"+method, rawMessage("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xffnot a message"), &out)
		require.Error(t, err, "%s accepted garbage", method)
		require.NotEqual(t, codes.OK, status.Code(err))
	}

	// A valid peer that claims its own id correctly, but whose raft message
	// names another node as sender: refused before raft sees it.
	g, err := chain.LoadGenesis(filepath.Join(c.dir, "genesis.json"))
	require.NoError(t, err)
	spoof, err := (&raftpb.Message{Type: raftpb.MsgVoteResp, From: raft.RaftID("node2"), To: raft.RaftID(c.ids[target]), Term: 1}).Marshal()
	require.NoError(t, err)
	batch := binary.AppendUvarint(binary.AppendUvarint(nil, 1), uint64(len(spoof)))
	// The peer service's metadata keys, as p2p's client stamps them.
	md := metadata.AppendToOutgoingContext(ctx, "x-chainotel-node-id", "node0", "x-chainotel-genesis", g.Hash().String())
	err = cc.Invoke(md, "/"+p2p.ServiceName+"/Raft", rawMessage(append(batch, spoof...)), &out)
	require.Error(t, err)
	require.Contains(t, err.Error(), "in another node's name")

	testproc.WaitFor(t, 10*time.Second, "the refusals in the log", func() error {
		logs := c.running[target].logs.String()[logStart:]
		for _, want := range []string{"expired", pki.ErrNoNodeID.Error(), "peer message refused", "raft message in another node's name"} {
			if !strings.Contains(logs, want) {
				return fmt.Errorf("no %q in %s's log", want, c.ids[target])
			}
		}
		return nil
	})

	// The cluster still commits, on every node alike.
	for i := range 3 {
		c.postTx(c.leader(), fmt.Sprintf(`{"from":"0xabc","to":"0xdef","amount":%d}`, i+2))
	}
	require.GreaterOrEqual(t, c.chainsAgree(), uint64(4))
}

// peerCodec sends rawMessage bytes as they are; it stands in for p2p's
// unexported codec, which would do the same for a MarshalBinary type.
type peerCodec struct{}

func (peerCodec) Name() string                    { return "chainotel" }
func (peerCodec) Marshal(v any) ([]byte, error)   { return v.(rawMessage).MarshalBinary() }
func (peerCodec) Unmarshal(b []byte, v any) error { return v.(*rawMessage).UnmarshalBinary(b) }

// TestOneClientFloodIsBounded: a client holding its whole allowance of
// requests in flight gets 429 with a JSON error, counted and logged once,
// while another client (another loopback address) still commits.
func TestOneClientFloodIsBounded(t *testing.T) {
	const limit = 4
	logs := &testproc.SyncBuffer{}
	node := startSingle(t, []string{"node0"}, func(_ *chain.Genesis, c *Config) {
		c.Logger = newTestLogger(logs)
		c.MaxClientRequests = limit
	})
	waitLeader(t, node.base)

	// The flooding client opens requests whose bodies never finish, each
	// holding a slot until its connection closes, until one is refused.
	// Nothing else of its runs meanwhile, so the slots are all its own.
	addr := strings.TrimPrefix(node.base, "http://")
	var held []net.Conn
	defer func() {
		for _, conn := range held {
			_ = conn.Close()
		}
	}()
	testproc.WaitFor(t, 10*time.Second, "the flooding client to be refused", func() error {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		_, err = io.WriteString(conn, "POST /tx HTTP/1.1\r\nHost: node0\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"from\":")
		require.NoError(t, err)
		// No answer soon means the request is in flight: keep it open. A
		// slow 429 taken for that only adds a connection that holds nothing.
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(250*time.Millisecond)))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			held = append(held, conn)
			return fmt.Errorf("%d requests in flight, none refused yet", len(held))
		}
		require.NoError(t, err)
		raw, _ := io.ReadAll(resp.Body)
		_ = conn.Close()
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "%s", raw)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		require.Contains(t, string(raw), `"error":"too many requests in flight from 127.0.0.1 (at most 4); retry later"`)
		return nil
	})
	require.GreaterOrEqual(t, len(held), limit)
	code, raw := post(t, node.base+"/tx", `{"from":"0xabc","to":"0xdef","amount":1}`)
	require.Equal(t, http.StatusTooManyRequests, code, "refused again (and logged once per burst): %s", raw)

	// Another client is not affected.
	other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}
	resp, err := other.Post(node.base+"/tx", "application/json", strings.NewReader(`{"from":"0xabc","to":"0xdef","amount":7}`))
	require.NoError(t, err)
	raw, _ = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", raw)

	for _, conn := range held {
		require.NoError(t, conn.Close())
	}
	held = nil
	// A slot is freed when its handler returns, just after the client saw
	// the answer; so wait for the allowance to come back.
	testproc.WaitFor(t, 10*time.Second, "the client's allowance back once its requests ended", func() error {
		if code, raw = post(t, node.base+"/tx", `{"from":"0xabc","to":"0xdef","amount":2}`); code != http.StatusOK {
			return fmt.Errorf("status %d: %s", code, raw)
		}
		return nil
	})

	metrics, err := http.Get(node.health + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(metrics.Body)
	_ = metrics.Body.Close() // read to the end above
	// Headers past the cap are refused before any handler runs.
	req, err := http.NewRequest(http.MethodGet, node.base+"/status", nil)
	require.NoError(t, err)
	req.Header.Set("X-Padding", strings.Repeat("a", 128<<10))
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)

	m := regexp.MustCompile(`(?m)^chainotel_http_throttled_requests_total (\d+)$`).FindSubmatch(body)
	require.NotNil(t, m, "no throttled counter in /metrics")
	throttled, err := strconv.Atoi(string(m[1]))
	require.NoError(t, err)
	require.GreaterOrEqual(t, throttled, 2, "both refusals counted")
	require.Equal(t, 1, strings.Count(logs.String(), "client throttled"), "one log line per burst")
}
