// Command policycheck validates chainsampling policy files offline, for CI:
//
//	go run ./processors/chainsamplingprocessor/cmd/policycheck collector/sampling-policies.yaml
//
// Each problem is printed as file:line:column: message, the way the
// processor logs a refused reload; the exit status is 1 when any file is
// invalid and 2 on wrong usage.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/chainotel/chainotel/processors/chainsamplingprocessor/internal/policy"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run checks every file named in args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		_, _ = fmt.Fprintln(stderr, "usage: policycheck POLICY_FILE...")
		return 2
	}
	status := 0
	for _, path := range args {
		pol, err := policy.Load(path)
		if err != nil {
			_, _ = fmt.Fprintln(stderr, err)
			status = 1
			continue
		}
		_, _ = fmt.Fprintf(stdout, "%s: ok (%d rules, %d triggers)\n", path, len(pol.Rules), len(pol.Triggers))
	}
	return status
}
