package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File names inside the certificate folder.
const (
	caCertFile = "ca.crt"
	caKeyFile  = "ca.key"
)

func certFile(nodeID string) string { return nodeID + ".crt" }
func keyFile(nodeID string) string  { return nodeID + ".key" }

// missingHint tells the user how to make the files a node needs.
const missingHint = "run `make certs` (or `blockchain certs --dir DIR --nodes node0,node1,node2`)"

// readPEM reads the single block of the given type from path.
func readPEM(path, blockType string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w: %s", path, ErrMissing, missingHint)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != blockType {
		return nil, fmt.Errorf("%s: %w: want a %q block", path, ErrMalformed, blockType)
	}
	return block.Bytes, nil
}

func readCert(path string) (*x509.Certificate, error) {
	der, err := readPEM(path, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrMalformed, err)
	}
	return c, nil
}

func readKey(path string) (*ecdsa.PrivateKey, error) {
	der, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrMalformed, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: %w: want an ECDSA key, got %T", path, ErrMalformed, k)
	}
	return ec, nil
}

// writeCertAndKey writes the key first and the certificate last, each through
// a temporary file and a rename, so an interrupted run never leaves a
// certificate next to a key it does not match (a half-written pair is
// reissued by the next run because the certificate is missing or stale).
func writeCertAndKey(dir, certName, keyName string, certDER []byte, key crypto.Signer) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("marshal key %s: %w", keyName, err)
	}
	if err := writeAtomic(filepath.Join(dir, keyName), "PRIVATE KEY", keyDER, 0o600); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, certName), "CERTIFICATE", certDER, 0o644)
}

func writeAtomic(path, blockType string, der []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // no-op after the rename
	if err := tmp.Chmod(mode); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := pem.Encode(tmp, &pem.Block{Type: blockType, Bytes: der}); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
