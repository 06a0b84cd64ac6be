package sentryexporter

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rootsChildEnv marks the child process of TestPublicChainVerifiesWithoutSystemRoots.
const rootsChildEnv = "CHAINOTEL_ROOTS_TEST_CHILD"

// With no system roots at all (SSL_CERT_FILE and SSL_CERT_DIR naming empty
// places, as in a FROM-scratch image), a real public chain verifies against
// the default roots: the fallback roots this package links. crypto/x509 loads
// the system roots once per process, so the check runs in a child process
// that starts with that environment.
func TestPublicChainVerifiesWithoutSystemRoots(t *testing.T) {
	if os.Getenv(rootsChildEnv) == "1" {
		verifyPublicChain(t)
		return
	}
	empty := t.TempDir()
	emptyFile := filepath.Join(empty, "no-roots.pem")
	require.NoError(t, os.WriteFile(emptyFile, nil, 0o644))
	cmd := exec.Command(os.Args[0], "-test.run=^TestPublicChainVerifiesWithoutSystemRoots$", "-test.v")
	cmd.Env = append(os.Environ(), rootsChildEnv+"=1", "SSL_CERT_FILE="+emptyFile, "SSL_CERT_DIR="+empty)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the child verifying the chain without system roots failed:\n%s", out)
}

// verifyPublicChain verifies testdata/public_chain.pem (www.google.com,
// issued by GTS CA 1C3 under GTS Root R1) at a time inside the leaf's
// validity, so the stored chain never expires, with the default roots.
func verifyPublicChain(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "public_chain.pem"))
	require.NoError(t, err)
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, raw = pem.Decode(raw)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		require.NoError(t, err)
		certs = append(certs, c)
	}
	require.Len(t, certs, 2, "testdata/public_chain.pem holds the leaf and its intermediate")

	pool, err := x509.SystemCertPool()
	require.NoError(t, err, "no system roots and no fallback roots")
	inter := x509.NewCertPool()
	inter.AddCert(certs[1])
	opts := x509.VerifyOptions{
		DNSName:       "www.google.com",
		Intermediates: inter,
		CurrentTime:   time.Date(2023, time.February, 15, 0, 0, 0, 0, time.UTC),
	}
	_, err = certs[0].Verify(opts) // Roots nil: the system pool, as a TLS client uses
	require.NoError(t, err, "default verification of a public chain")
	opts.Roots = pool
	_, err = certs[0].Verify(opts)
	require.NoError(t, err, "verification against x509.SystemCertPool()")
}
