// Package pki makes and loads the certificates of a chainotel cluster: one
// cluster CA and one certificate per node, used for TLS 1.3 mutual
// authentication between peers.
//
// A certificate folder holds ca.crt, ca.key, <id>.crt and <id>.key (PEM;
// keys are written 0600). A node's identity is the URI SAN
// spiffe://chainotel/node/<id>; its certificate also names localhost, <id>,
// 127.0.0.1 and ::1 so that peers can dial it by any of them.
package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Options tune WriteCluster.
type Options struct {
	// RotateCA makes a new cluster CA even if one exists, and so reissues
	// every node certificate.
	RotateCA bool
	// Validity is the lifetime of the node certificates; 0 means DefaultValidity.
	Validity time.Duration
}

// Report says what WriteCluster did, for a friendly CLI message.
type Report struct {
	CACreated bool     // a new CA was made (none existed, or RotateCA)
	Issued    []string // node ids whose certificate was (re)issued
	Kept      []string // node ids whose valid certificate was kept
}

// WriteCluster makes the cluster CA in dir (kept if present unless
// opts.RotateCA) and one certificate per node: ECDSA P-256, SANs DNS
// localhost and <id>, IP 127.0.0.1 and ::1, URI spiffe://chainotel/node/<id>,
// CN=<id>, usable for server and client auth.
//
// It is safe to rerun: a valid node certificate signed by the current CA is
// kept; a missing, expired, unreadable or foreign one is reissued; rotating the
// CA reissues all. An expired CA is an error asking for a rotation rather than
// a silent replacement, since every running node trusts the old one.
func WriteCluster(dir string, nodeIDs []string, opts Options) (Report, error) {
	var rep Report
	if len(nodeIDs) == 0 {
		return rep, errors.New("pki: no node ids given")
	}
	seen := make(map[string]bool, len(nodeIDs))
	for _, id := range nodeIDs {
		if err := ValidateNodeID(id); err != nil {
			return rep, fmt.Errorf("pki: %w", err)
		}
		if seen[id] {
			return rep, fmt.Errorf("pki: node id %q given twice", id)
		}
		seen[id] = true
	}
	validity := opts.Validity
	if validity == 0 {
		validity = DefaultValidity
	}
	if validity < 0 {
		return rep, fmt.Errorf("pki: validity must be > 0, got %v", validity)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return rep, fmt.Errorf("pki: create %s: %w", dir, err)
	}

	now := time.Now()
	ca, created, err := loadOrCreateCA(dir, now, max(caValidity, validity), opts.RotateCA)
	if err != nil {
		return rep, fmt.Errorf("pki: %w", err)
	}
	rep.CACreated = created
	for _, id := range nodeIDs {
		if !created && nodeCertUsable(dir, id, ca.cert, now) {
			rep.Kept = append(rep.Kept, id)
			continue
		}
		der, key, err := ca.issueNode(id, now.Add(-clockSkew), now.Add(validity))
		if err != nil {
			return rep, fmt.Errorf("pki: %w", err)
		}
		if err := writeCertAndKey(dir, certFile(id), keyFile(id), der, key); err != nil {
			return rep, fmt.Errorf("pki: %w", err)
		}
		rep.Issued = append(rep.Issued, id)
	}
	return rep, nil
}

// loadOrCreateCA returns the CA in dir, or makes one when there is none or
// rotate is set. created reports whether it made one.
func loadOrCreateCA(dir string, now time.Time, validity time.Duration, rotate bool) (ca *authority, created bool, err error) {
	certPath, keyPath := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	if !rotate {
		_, certErr := os.Stat(certPath)
		_, keyErr := os.Stat(keyPath)
		switch {
		case certErr == nil && keyErr == nil:
			ca, err := loadAuthority(certPath, keyPath, now)
			return ca, false, err
		case certErr == nil || keyErr == nil:
			// Half a CA cannot sign, and replacing it silently would
			// orphan every node that trusts the surviving half.
			return nil, false, fmt.Errorf("%s: only one of %s and %s exists; restore the other or rotate the CA (make certs ROTATE=1)",
				dir, caCertFile, caKeyFile)
		case !errors.Is(certErr, fs.ErrNotExist):
			return nil, false, fmt.Errorf("stat %s: %w", certPath, certErr)
		}
	}
	ca, der, err := newAuthority(now, validity)
	if err != nil {
		return nil, false, err
	}
	if err := writeCertAndKey(dir, caCertFile, caKeyFile, der, ca.key); err != nil {
		return nil, false, err
	}
	return ca, true, nil
}

func loadAuthority(certPath, keyPath string, now time.Time) (*authority, error) {
	cert, err := readCert(certPath)
	if err != nil {
		return nil, err
	}
	key, err := readKey(keyPath)
	if err != nil {
		return nil, err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s does not match %s; restore the pair or rotate the CA (make certs ROTATE=1)", keyPath, certPath)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("%s: %w: not a CA certificate", certPath, ErrMalformed)
	}
	if now.After(cert.NotAfter) {
		return nil, fmt.Errorf("%s: %w on %s; rotate it (make certs ROTATE=1)", certPath, ErrCAExpired, cert.NotAfter.Format(time.RFC3339))
	}
	return &authority{cert: cert, key: key}, nil
}

// nodeCertUsable reports whether dir holds a certificate and matching key for
// nodeID that the CA signed and that is valid at now.
func nodeCertUsable(dir, nodeID string, ca *x509.Certificate, now time.Time) bool {
	b, err := loadBundle(dir, nodeID, ca, now)
	return err == nil && b != nil
}
