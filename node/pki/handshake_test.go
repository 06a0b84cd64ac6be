package pki

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// handshake runs one TLS connection over loopback between a server with
// serverCfg and a client with clientCfg and returns each side's error. The
// client reads one byte the server writes after a successful handshake: in
// TLS 1.3 a server's refusal of the client certificate reaches the client
// only after the client's own handshake has finished.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = ln.Close() }()

	deadline := time.Now().Add(10 * time.Second)
	serverDone := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			serverDone <- err
			return
		}
		defer func() { _ = conn.Close() }()
		_ = conn.SetDeadline(deadline)
		tc := tls.Server(conn, serverCfg)
		if err := tc.Handshake(); err != nil {
			serverDone <- err
			return
		}
		_, err = tc.Write([]byte{1})
		serverDone <- err
	}()

	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(deadline)
	tc := tls.Client(conn, clientCfg)
	clientErr = tc.Handshake()
	if clientErr == nil {
		buf := make([]byte, 1)
		_, clientErr = tc.Read(buf)
	}
	if clientErr != nil {
		_ = conn.Close() // unblock a server still waiting for the client
	}
	return <-serverDone, clientErr
}

func TestHandshakeBetweenClusterNodes(t *testing.T) {
	dir := writeCluster(t, Options{})
	node0, err := LoadNode(dir, "node0")
	require.NoError(t, err)
	node1, err := LoadNode(dir, "node1")
	require.NoError(t, err)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = ln.Close() }()
	peerID := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			peerID <- err.Error()
			return
		}
		defer func() { _ = conn.Close() }()
		tc := tls.Server(conn, node0.ServerConfig())
		if err := tc.Handshake(); err != nil {
			peerID <- err.Error()
			return
		}
		id, err := PeerNodeID(tc.ConnectionState())
		if err != nil {
			id = err.Error()
		}
		peerID <- id
		_, _ = tc.Write([]byte{1})
	}()

	conn, err := tls.Dial("tcp", ln.Addr().String(), node1.ClientConfig("node0"))
	require.NoError(t, err)
	cs := conn.ConnectionState()
	assert.Equal(t, uint16(tls.VersionTLS13), cs.Version)
	id, err := PeerNodeID(cs)
	require.NoError(t, err)
	assert.Equal(t, "node0", id)
	one := make([]byte, 1)
	_, err = conn.Read(one) // the server accepted node1's certificate too
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	assert.Equal(t, "node1", <-peerID)
}

func TestHandshakeByAnyLoopbackName(t *testing.T) {
	dir := writeCluster(t, Options{})
	node0, err := LoadNode(dir, "node0")
	require.NoError(t, err)
	node1, err := LoadNode(dir, "node1")
	require.NoError(t, err)

	// Without an expected node id, the host name check uses the address
	// dialled: every loopback name is in the certificate.
	for _, name := range []string{"localhost", "127.0.0.1", "node0"} {
		cfg := node1.ClientConfig("")
		cfg.ServerName = name
		serverErr, clientErr := handshake(t, node0.ServerConfig(), cfg)
		require.NoError(t, serverErr, name)
		require.NoError(t, clientErr, name)
	}
}

func TestHandshakeRefusals(t *testing.T) {
	dir := writeCluster(t, Options{})
	other := writeCluster(t, Options{})
	load := func(dir, id string) *Bundle {
		b, err := LoadNode(dir, id)
		require.NoError(t, err)
		return b
	}
	node0, node1 := load(dir, "node0"), load(dir, "node1")
	stranger := load(other, "node1") // right name, wrong CA
	expired := expiredBundle(t, dir, "node2")

	tls12 := node1.ClientConfig("node0")
	tls12.MinVersion, tls12.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	noCert := node1.ClientConfig("node0")
	noCert.Certificates = nil
	// The stranger knows the cluster CA's public certificate, so it gets as
	// far as presenting its own certificate for the server to refuse.
	strangerClient := stranger.ClientConfig("node0")
	strangerClient.RootCAs = node0.CAPool
	// A name the certificate does hold, so that only the node id check refuses.
	wrongIDByIP := node1.ClientConfig("node2")
	wrongIDByIP.ServerName = "127.0.0.1"

	tests := []struct {
		name         string
		server       *tls.Config
		client       *tls.Config
		serverErr    string // substring of the server's error, "" if none expected
		clientErr    string
		clientErrAny bool // the client sees some error (an alert) but its text is not ours
	}{
		{name: "client cert from another CA", server: node0.ServerConfig(), client: strangerClient,
			serverErr: "certificate signed by unknown authority", clientErrAny: true},
		{name: "server cert from another CA", server: stranger.ServerConfig(), client: node0.ClientConfig("node1"),
			clientErr: "certificate signed by unknown authority", serverErr: "bad certificate"},
		{name: "expired client cert", server: node0.ServerConfig(), client: expired.ClientConfig("node0"),
			serverErr: "expired", clientErrAny: true},
		{name: "expired server cert", server: expired.ServerConfig(), client: node0.ClientConfig("node2"),
			clientErr: "expired", serverErr: "bad certificate"},
		{name: "server is not the expected node", server: node0.ServerConfig(), client: node1.ClientConfig("node2"),
			clientErr: "certificate is valid for localhost, node0, not node2", serverErr: "bad certificate"},
		{name: "server node id is not the expected one", server: node0.ServerConfig(), client: wrongIDByIP,
			clientErr: `peer presented "node0", expected "node2"`, serverErr: "bad certificate"},
		{name: "TLS 1.2 client", server: node0.ServerConfig(), client: tls12,
			serverErr: "client offered only unsupported versions", clientErrAny: true},
		{name: "client without certificate", server: node0.ServerConfig(), client: noCert,
			serverErr: "didn't provide a certificate", clientErrAny: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			serverErr, clientErr := handshake(t, tc.server, tc.client)
			if tc.serverErr != "" {
				require.ErrorContains(t, serverErr, tc.serverErr)
			}
			if tc.clientErr != "" {
				require.ErrorContains(t, clientErr, tc.clientErr)
			}
			if tc.clientErrAny {
				require.Error(t, clientErr)
			}
		})
	}
}
