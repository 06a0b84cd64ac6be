package collectorproc

import (
	"context"
	"fmt"

	"github.com/chainotel/chainotel/internal/promtext"
)

// Metric returns the sum of the samples of the collector's own metric name
// (counter, gauge or untyped; for a histogram, its sample count), over all
// label sets whose labels include every pair in labels. It fails with
// ErrNoMetric while the collector does not expose the metric, which is normal
// before a component first records it.
func (c *Collector) Metric(ctx context.Context, name string, labels map[string]string) (float64, error) {
	text, err := c.Metrics(ctx)
	if err != nil {
		return 0, err
	}
	families, err := promtext.Parse(text)
	if err != nil {
		return 0, fmt.Errorf("the collector's metrics: %w", err)
	}
	sum, found := families.Sum(name, labels)
	if !found {
		return 0, fmt.Errorf("%w: %s", ErrNoMetric, name)
	}
	return sum, nil
}
