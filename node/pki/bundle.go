package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Bundle is what a node needs for mutual TLS: its own certificate and key, and
// the cluster CA to check its peers against.
type Bundle struct {
	NodeID string
	Cert   tls.Certificate
	CAPool *x509.CertPool
	Leaf   *x509.Certificate
	CA     *x509.Certificate
}

// LoadNode loads nodeID's certificate, key and the cluster CA from dir and
// checks that they belong together: the certificate is for nodeID, the key
// matches it, the CA signed it and it is valid now.
func LoadNode(dir, nodeID string) (*Bundle, error) {
	if err := ValidateNodeID(nodeID); err != nil {
		return nil, fmt.Errorf("pki: load %s: %w", nodeID, err)
	}
	ca, err := readCert(filepath.Join(dir, caCertFile))
	if err != nil {
		return nil, fmt.Errorf("pki: load CA: %w", err)
	}
	b, err := loadBundle(dir, nodeID, ca, time.Now())
	if err != nil {
		return nil, fmt.Errorf("pki: load %s: %w", nodeID, err)
	}
	return b, nil
}

func loadBundle(dir, nodeID string, ca *x509.Certificate, now time.Time) (*Bundle, error) {
	certPath, keyPath := filepath.Join(dir, certFile(nodeID)), filepath.Join(dir, keyFile(nodeID))
	certPEM, err := readFile(certPath)
	if err != nil {
		return nil, err
	}
	keyPEM, err := readFile(keyPath)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s with %s: %w", certPath, keyPath, err)
	}
	leaf := pair.Leaf
	if leaf == nil { // X509KeyPair fills Leaf since Go 1.23; parse for older behaviour
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%s: %w: %v", certPath, ErrMalformed, err)
		}
		pair.Leaf = leaf
	}
	got, err := NodeIDFromCert(leaf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	if got != nodeID {
		return nil, fmt.Errorf("%s: %w: it is for %q, not %q", certPath, ErrWrongNode, got, nodeID)
	}
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("%s: %w: expired on %s; rerun `make certs` to reissue it",
			certPath, ErrUntrusted, leaf.NotAfter.Format(time.RFC3339))
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:       pool,
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return nil, fmt.Errorf("%s: %w (%v); rerun `make certs` to reissue it", certPath, ErrUntrusted, err)
	}
	return &Bundle{NodeID: nodeID, Cert: pair, CAPool: pool, Leaf: leaf, CA: ca}, nil
}

func readFile(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w: %s", path, ErrMissing, missingHint)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return raw, nil
}

// ServerConfig is the TLS configuration of a node's peer listener: TLS 1.3
// only, a client certificate from the cluster CA required and verified, and
// one that carries a node id. Which node id a peer may claim is the caller's
// check (see PeerNodeID), since only the caller knows what the peer claims.
func (b *Bundle) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		Certificates:     []tls.Certificate{b.Cert},
		ClientAuth:       tls.RequireAndVerifyClientCert,
		ClientCAs:        b.CAPool,
		VerifyConnection: requireNodeID(""),
	}
}

// ClientConfig is the TLS configuration for dialling a peer: TLS 1.3 only,
// the server checked against the cluster CA, b's certificate presented. If
// expectNodeID is not empty the server's certificate must carry that node id,
// and ServerName is set to it so the host name check does not depend on the
// address dialled (":8081", "127.0.0.1:8081" and "localhost:8081" all work).
func (b *Bundle) ClientConfig(expectNodeID string) *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		Certificates:     []tls.Certificate{b.Cert},
		RootCAs:          b.CAPool,
		ServerName:       expectNodeID,
		VerifyConnection: requireNodeID(expectNodeID),
	}
}

// requireNodeID returns a VerifyConnection hook, run after the chain was
// verified, that refuses a peer certificate without a node id, or whose node
// id is not want when want is set.
func requireNodeID(want string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		got, err := PeerNodeID(cs)
		if err != nil {
			return err
		}
		if want != "" && got != want {
			return fmt.Errorf("pki: %w: peer presented %q, expected %q", ErrWrongNode, got, want)
		}
		return nil
	}
}

// PeerNodeID is the node id in the certificate the other side of a TLS
// connection presented.
func PeerNodeID(cs tls.ConnectionState) (string, error) {
	if len(cs.PeerCertificates) == 0 {
		return "", fmt.Errorf("pki: %w: the peer presented no certificate", ErrNoNodeID)
	}
	return NodeIDFromCert(cs.PeerCertificates[0])
}

// NodeIDFromCert returns the node id of the spiffe://chainotel/node/<id> URI
// SAN of c. It does not check who signed c.
func NodeIDFromCert(c *x509.Certificate) (string, error) {
	if c == nil {
		return "", fmt.Errorf("pki: %w: no certificate", ErrNoNodeID)
	}
	for _, u := range c.URIs {
		if u.Scheme != "spiffe" || u.Host != SPIFFETrustDomain || !strings.HasPrefix(u.Path, spiffeNodePath) {
			continue
		}
		id := strings.TrimPrefix(u.Path, spiffeNodePath)
		if err := ValidateNodeID(id); err != nil {
			return "", fmt.Errorf("pki: %s in certificate %q: %w", u, c.Subject.CommonName, err)
		}
		return id, nil
	}
	return "", fmt.Errorf("pki: %w (certificate %q)", ErrNoNodeID, c.Subject.CommonName)
}
