package sentryexporter

// The otelcol-chain image is FROM scratch: it has no /etc/ssl/certs, so
// without roots of its own the collector cannot verify https://…sentry.io
// ("x509: certificate signed by unknown authority"). Every distribution of
// this repository links this package, so linking Mozilla's roots here gives
// crypto/x509 a fallback pool for the whole binary. It is used only where the
// system has no roots at all; a system bundle, when present, still wins.
import _ "golang.org/x/crypto/x509roots/fallback"
