package collectorproc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Validate runs `otelcol-chain validate` over the merged configuration files,
// with env added to the current environment. It returns nil when the collector
// accepts the configuration, else an error wrapping ErrInvalidConfig with the
// collector's own explanation.
func Validate(ctx context.Context, bin string, env []string, configFiles ...string) error {
	args := []string{"validate"}
	for _, f := range configFiles {
		args = append(args, "--config", f)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return fmt.Errorf("run %s validate: %w", bin, err)
		}
		return fmt.Errorf("%w (%s): %s", ErrInvalidConfig, strings.Join(configFiles, " + "), strings.TrimSpace(string(out)))
	}
	return nil
}
