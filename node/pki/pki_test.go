package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var nodes = []string{"node0", "node1", "node2"}

func writeCluster(t *testing.T, opts Options) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	rep, err := WriteCluster(dir, nodes, opts)
	require.NoError(t, err)
	require.True(t, rep.CACreated)
	require.Equal(t, nodes, rep.Issued)
	require.Empty(t, rep.Kept)
	return dir
}

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func TestWriteClusterMakesCAAndNodeCerts(t *testing.T) {
	dir := writeCluster(t, Options{})

	for _, name := range []string{"ca.key", "node0.key", "node1.key", "node2.key"} {
		st, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), name)
	}
	ca, err := readCert(filepath.Join(dir, "ca.crt"))
	require.NoError(t, err)
	assert.True(t, ca.IsCA)

	for _, id := range nodes {
		b, err := LoadNode(dir, id)
		require.NoError(t, err)
		leaf := b.Leaf
		assert.Equal(t, id, leaf.Subject.CommonName)
		assert.ElementsMatch(t, []string{"localhost", id}, leaf.DNSNames)
		require.Len(t, leaf.IPAddresses, 2)
		assert.True(t, leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)))
		assert.True(t, leaf.IPAddresses[1].Equal(net.IPv6loopback))
		require.Len(t, leaf.URIs, 1)
		assert.Equal(t, "spiffe://chainotel/node/"+id, leaf.URIs[0].String())
		assert.ElementsMatch(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, leaf.ExtKeyUsage)
		pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
		require.True(t, ok, "node key is %T", leaf.PublicKey)
		assert.Equal(t, elliptic.P256(), pub.Curve)
		assert.WithinDuration(t, time.Now().Add(DefaultValidity), leaf.NotAfter, time.Hour)
		got, err := NodeIDFromCert(leaf)
		require.NoError(t, err)
		assert.Equal(t, id, got)
	}
}

func TestWriteClusterRerunKeepsCAAndValidCerts(t *testing.T) {
	dir := writeCluster(t, Options{})
	caBefore := readBytes(t, filepath.Join(dir, "ca.crt"))
	node1Before := readBytes(t, filepath.Join(dir, "node1.crt"))

	rep, err := WriteCluster(dir, append(nodes, "node3"), Options{})
	require.NoError(t, err)
	assert.False(t, rep.CACreated)
	assert.Equal(t, nodes, rep.Kept)
	assert.Equal(t, []string{"node3"}, rep.Issued)
	assert.Equal(t, caBefore, readBytes(t, filepath.Join(dir, "ca.crt")))
	assert.Equal(t, node1Before, readBytes(t, filepath.Join(dir, "node1.crt")))
	_, err = LoadNode(dir, "node3")
	require.NoError(t, err)
}

func TestWriteClusterRotateReplacesCAAndReissuesAll(t *testing.T) {
	dir := writeCluster(t, Options{})
	caBefore := readBytes(t, filepath.Join(dir, "ca.crt"))
	old, err := LoadNode(dir, "node0")
	require.NoError(t, err)

	rep, err := WriteCluster(dir, nodes, Options{RotateCA: true})
	require.NoError(t, err)
	assert.True(t, rep.CACreated)
	assert.Equal(t, nodes, rep.Issued)
	assert.Empty(t, rep.Kept)
	assert.NotEqual(t, caBefore, readBytes(t, filepath.Join(dir, "ca.crt")))

	fresh, err := LoadNode(dir, "node1")
	require.NoError(t, err)
	// A node still holding the old CA's certificate is now a stranger.
	serverErr, _ := handshake(t, fresh.ServerConfig(), old.ClientConfig("node1"))
	require.Error(t, serverErr)
}

func TestWriteClusterReissuesMissingExpiredAndForeignCerts(t *testing.T) {
	dir := writeCluster(t, Options{})
	other := writeCluster(t, Options{})
	node2Before := readBytes(t, filepath.Join(dir, "node2.crt"))

	// node0: a certificate from another CA.
	for _, f := range []string{"node0.crt", "node0.key"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), readBytes(t, filepath.Join(other, f)), 0o600))
	}
	// node1: missing.
	require.NoError(t, os.Remove(filepath.Join(dir, "node1.crt")))
	// node2: expired, though signed by the right CA.
	writeExpired(t, dir, "node2")

	rep, err := WriteCluster(dir, nodes, Options{})
	require.NoError(t, err)
	assert.False(t, rep.CACreated)
	assert.Equal(t, nodes, rep.Issued)
	assert.NotEqual(t, node2Before, readBytes(t, filepath.Join(dir, "node2.crt")))
	for _, id := range nodes {
		_, err := LoadNode(dir, id)
		require.NoError(t, err, id)
	}
}

func TestWriteClusterRefusesBadInput(t *testing.T) {
	halfCA := t.TempDir()
	full := writeCluster(t, Options{})
	require.NoError(t, os.WriteFile(filepath.Join(halfCA, "ca.crt"), readBytes(t, filepath.Join(full, "ca.crt")), 0o644))
	expiredCA := t.TempDir()
	ca, der, err := newAuthority(time.Now().Add(-48*time.Hour), time.Hour)
	require.NoError(t, err)
	require.NoError(t, writeCertAndKey(expiredCA, caCertFile, caKeyFile, der, ca.key))

	tests := []struct {
		name    string
		dir     string
		ids     []string
		opts    Options
		wantErr string
	}{
		{"no nodes", t.TempDir(), nil, Options{}, "no node ids"},
		{"empty id", t.TempDir(), []string{"node0", ""}, Options{}, "invalid node id: empty"},
		{"slash in id", t.TempDir(), []string{"../evil"}, Options{}, `invalid node id: "../evil"`},
		{"ca as id", t.TempDir(), []string{"ca"}, Options{}, `"ca" is the CA's file name`},
		{"duplicate", t.TempDir(), []string{"node0", "node0"}, Options{}, `node id "node0" given twice`},
		{"negative validity", t.TempDir(), nodes, Options{Validity: -time.Second}, "validity must be > 0, got -1s"},
		{"half a CA", halfCA, nodes, Options{}, "only one of ca.crt and ca.key exists"},
		{"expired CA", expiredCA, nodes, Options{}, "cluster CA expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := WriteCluster(tc.dir, tc.ids, tc.opts)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}

	// Rotation is the way out of a broken CA.
	_, err = WriteCluster(halfCA, nodes, Options{RotateCA: true})
	require.NoError(t, err)
}

func TestLoadNodeErrors(t *testing.T) {
	dir := writeCluster(t, Options{})
	other := writeCluster(t, Options{})

	_, err := LoadNode(t.TempDir(), "node0")
	require.ErrorIs(t, err, ErrMissing)
	require.ErrorContains(t, err, "make certs")

	_, err = LoadNode(dir, "node9")
	require.ErrorIs(t, err, ErrMissing)
	require.ErrorContains(t, err, "node9.crt")

	// node1's files under node0's name.
	wrong := t.TempDir()
	copyFile(t, filepath.Join(dir, "ca.crt"), filepath.Join(wrong, "ca.crt"))
	copyFile(t, filepath.Join(dir, "node1.crt"), filepath.Join(wrong, "node0.crt"))
	copyFile(t, filepath.Join(dir, "node1.key"), filepath.Join(wrong, "node0.key"))
	_, err = LoadNode(wrong, "node0")
	require.ErrorIs(t, err, ErrWrongNode)
	require.ErrorContains(t, err, `it is for "node1", not "node0"`)

	// A certificate from another CA.
	foreign := t.TempDir()
	copyFile(t, filepath.Join(dir, "ca.crt"), filepath.Join(foreign, "ca.crt"))
	copyFile(t, filepath.Join(other, "node0.crt"), filepath.Join(foreign, "node0.crt"))
	copyFile(t, filepath.Join(other, "node0.key"), filepath.Join(foreign, "node0.key"))
	_, err = LoadNode(foreign, "node0")
	require.ErrorIs(t, err, ErrUntrusted)

	// A key that does not match the certificate.
	mismatch := t.TempDir()
	copyFile(t, filepath.Join(dir, "ca.crt"), filepath.Join(mismatch, "ca.crt"))
	copyFile(t, filepath.Join(dir, "node0.crt"), filepath.Join(mismatch, "node0.crt"))
	copyFile(t, filepath.Join(dir, "node1.key"), filepath.Join(mismatch, "node0.key"))
	_, err = LoadNode(mismatch, "node0")
	require.ErrorContains(t, err, "private key does not match public key")

	// Expired.
	writeExpired(t, dir, "node2")
	_, err = LoadNode(dir, "node2")
	require.ErrorIs(t, err, ErrUntrusted)
	require.ErrorContains(t, err, "expired on")

	// Not PEM.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("hello"), 0o644))
	_, err = LoadNode(dir, "node0")
	require.ErrorIs(t, err, ErrMalformed)
	require.ErrorContains(t, err, "ca.crt")
}

func TestNodeIDFromCertWithoutURI(t *testing.T) {
	_, err := NodeIDFromCert(&x509.Certificate{})
	require.ErrorIs(t, err, ErrNoNodeID)
	_, err = NodeIDFromCert(nil)
	require.ErrorIs(t, err, ErrNoNodeID)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	require.NoError(t, os.WriteFile(to, readBytes(t, from), 0o600))
}

// writeExpired replaces nodeID's certificate in dir with one the dir's CA
// signed but that expired an hour ago.
func writeExpired(t *testing.T, dir, nodeID string) {
	t.Helper()
	ca, err := loadAuthority(filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile), time.Now())
	require.NoError(t, err)
	der, key, err := ca.issueNode(nodeID, time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.NoError(t, writeCertAndKey(dir, certFile(nodeID), keyFile(nodeID), der, key))
}

// expiredBundle is a bundle whose certificate the dir's CA signed but that
// has expired: LoadNode refuses to build one, so the test builds it by hand.
func expiredBundle(t *testing.T, dir, nodeID string) *Bundle {
	t.Helper()
	good, err := LoadNode(dir, nodeID)
	require.NoError(t, err)
	writeExpired(t, dir, nodeID)
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, certFile(nodeID)), filepath.Join(dir, keyFile(nodeID)))
	require.NoError(t, err)
	return &Bundle{NodeID: nodeID, Cert: pair, CAPool: good.CAPool, Leaf: pair.Leaf, CA: good.CA}
}
