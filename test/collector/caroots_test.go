//go:build integration

package collector

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chainotel/chainotel/internal/testbin"
)

// fallbackRootsModule gives crypto/x509 Mozilla's roots where the system has
// none: the images are FROM scratch.
const fallbackRootsModule = "golang.org/x/crypto/x509roots/fallback"

// Both binaries the images carry link the fallback CA roots, so they verify
// public TLS chains (https://…sentry.io, an OTLP backend) without any system
// file. collector/sentryexporter's TestPublicChainVerifiesWithoutSystemRoots
// shows what linking them does.
func TestBinariesLinkFallbackRoots(t *testing.T) {
	for name, bin := range map[string]func(testing.TB) string{
		"otelcol-chain": testbin.OtelcolChain,
		"blockchain":    testbin.Blockchain,
	} {
		t.Run(name, func(t *testing.T) {
			out, err := exec.Command("go", "version", "-m", bin(t)).CombinedOutput()
			require.NoError(t, err, "go version -m:\n%s", out)
			for _, line := range strings.Split(string(out), "\n") {
				if f := strings.Fields(line); len(f) >= 2 && f[0] == "dep" && f[1] == fallbackRootsModule {
					return
				}
			}
			t.Fatalf("%s does not link %s: it cannot verify TLS chains without system roots\n%s", name, fallbackRootsModule, out)
		})
	}
}
