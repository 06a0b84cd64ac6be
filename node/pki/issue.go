package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"regexp"
	"time"
)

const (
	// DefaultValidity is how long a node certificate is valid when Options.Validity is 0.
	DefaultValidity = 365 * 24 * time.Hour
	// caValidity is the cluster CA's lifetime; it outlives many node certificates
	// so that reissuing them does not mean redistributing the CA.
	caValidity = 10 * 365 * 24 * time.Hour
	// clockSkew backdates NotBefore so a peer whose clock runs slightly
	// behind still accepts a certificate issued a moment ago.
	clockSkew = 5 * time.Minute

	// SPIFFETrustDomain and spiffeNodePath make a node's identity URI:
	// spiffe://chainotel/node/<id>.
	SPIFFETrustDomain = "chainotel"
	spiffeNodePath    = "/node/"

	caCommonName   = "chainotel cluster CA"
	organisation   = "chainotel"
	maxNodeIDBytes = 63
)

// nodeIDPattern keeps node ids usable as a file name, a DNS label and a URI
// path segment at once.
var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?$`)

// ValidateNodeID says why id cannot name a node, or returns nil.
func ValidateNodeID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty", ErrBadNodeID)
	case len(id) > maxNodeIDBytes:
		return fmt.Errorf("%w: %q is longer than %d characters", ErrBadNodeID, id, maxNodeIDBytes)
	case !nodeIDPattern.MatchString(id):
		return fmt.Errorf("%w: %q: use letters, digits, '-' and '_', starting and ending with a letter or digit", ErrBadNodeID, id)
	case id == "ca":
		return fmt.Errorf("%w: %q is the CA's file name", ErrBadNodeID, id)
	}
	return nil
}

// NodeURI is the identity a node's certificate carries: spiffe://chainotel/node/<id>.
func NodeURI(nodeID string) *url.URL {
	return &url.URL{Scheme: "spiffe", Host: SPIFFETrustDomain, Path: spiffeNodePath + nodeID}
}

// authority is the CA that signs node certificates.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return serial, nil
}

// newAuthority makes a self-signed CA valid from now for validity.
func newAuthority(now time.Time, validity time.Duration) (*authority, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: caCommonName, Organization: []string{organisation}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // the CA signs node certificates only, never another CA
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse new CA certificate: %w", err)
	}
	return &authority{cert: cert, key: key}, der, nil
}

// issueNode makes a node key and a certificate for it valid in [notBefore, notAfter].
func (ca *authority) issueNode(nodeID string, notBefore, notAfter time.Time) ([]byte, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key for %s: %w", nodeID, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: nodeID, Organization: []string{organisation}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// Every node is both a server (peers dial it) and a client (it dials peers).
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{"localhost", nodeID},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		URIs:        []*url.URL{NodeURI(nodeID)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate for %s: %w", nodeID, err)
	}
	return der, key, nil
}
