package telemetry

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// chainotel_build_info is 1 with the release, revision, toolchain and
// environment as labels, whether or not the SDK exports anything.
func TestBuildInfoMetric(t *testing.T) {
	for _, disabled := range []string{"false", "true"} {
		t.Run("OTEL_SDK_DISABLED="+disabled, func(t *testing.T) {
			t.Setenv(envSDKDisabled, disabled)
			c := baseConfig(t)
			c.ServiceVersion, c.Revision, c.GoVersion, c.Environment = "v0.4.0-3-gabc1234", "abc1234-dirty", "go1.26.8", "staging"
			reg := prometheus.NewRegistry()
			c.Registerer = reg
			tel, err := Setup(context.Background(), c)
			require.NoError(t, err)
			t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })

			mfs, err := reg.Gather()
			require.NoError(t, err)
			var labels map[string]string
			for _, mf := range mfs {
				if mf.GetName() != metricBuildInfo {
					continue
				}
				require.Len(t, mf.GetMetric(), 1)
				m := mf.GetMetric()[0]
				require.Equal(t, 1.0, m.GetGauge().GetValue())
				labels = map[string]string{}
				for _, lp := range m.GetLabel() {
					labels[lp.GetName()] = lp.GetValue()
				}
			}
			require.Equal(t, map[string]string{
				"version": "v0.4.0-3-gabc1234", "revision": "abc1234-dirty",
				"goversion": "go1.26.8", "environment": "staging",
			}, labels)
		})
	}
}
