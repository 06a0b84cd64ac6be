package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/peterbourgon/ff/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainotel/chainotel/node"
	"github.com/chainotel/chainotel/node/config"
	"github.com/chainotel/chainotel/node/pki"
	"github.com/chainotel/chainotel/node/telemetry"
)

// configFlag names the flag of the config file.
const configFlag = "config"

// flagValues is every flag's value by name.
func flagValues(fs *flag.FlagSet) map[string]string {
	vals := make(map[string]string)
	fs.VisitAll(func(f *flag.Flag) { vals[f.Name] = f.Value.String() })
	return vals
}

// readConfig reads the node's flags again as they were read at start: the
// command line args, then the BLOCKCHAIN_* environment, then the --config
// file, the first that sets a flag winning. It returns every flag's value
// and where each came from; an error names the file and line at fault.
// The process's environment is the one it started with, so in practice
// only the file can have changed.
func readConfig(args []string) (vals map[string]string, where func(key string) string, err error) {
	fs := rootCommand(io.Discard).FlagSet
	fs.SetOutput(io.Discard)
	lines := make(map[string]int)
	var path string
	parser := func(r io.Reader, set func(name, value string) error) error {
		path = fs.Lookup(configFlag).Value.String()
		return parseConfigFile(path, r, set, lines)
	}
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix(envPrefix), ff.WithConfigFileFlag(configFlag),
		ff.WithConfigFileParser(parser)); err != nil {
		return nil, nil, err
	}
	onCmdLine := make(map[string]bool)
	cl := rootCommand(io.Discard).FlagSet
	cl.SetOutput(io.Discard)
	if cl.Parse(args) == nil {
		cl.Visit(func(f *flag.Flag) { onCmdLine[f.Name] = true })
	}
	where = func(key string) string {
		env := envVar(key)
		switch line, inFile := lines[key]; {
		case onCmdLine[key]:
			return "the command line"
		case os.Getenv(env) != "":
			return "$" + env
		case inFile:
			return fmt.Sprintf("%s:%d", path, line)
		}
		return "the default"
	}
	return flagValues(fs), where, nil
}

// envVar is the environment variable of a flag, as ff names it.
func envVar(flagName string) string {
	return envPrefix + "_" + strings.NewReplacer("-", "_", ".", "_", "/", "_").Replace(strings.ToUpper(flagName))
}

// parseConfigFile is ff.PlainParser (`name value` a line, `#` comments, a
// bare name meaning true) that records the line of each name in lines and
// puts path:line before any error.
func parseConfigFile(path string, r io.Reader, set func(name, value string) error, lines map[string]int) error {
	s := bufio.NewScanner(r)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, found := strings.Cut(line, " ")
		if !found {
			value = "true"
		}
		value = strings.TrimSpace(value)
		if i := strings.Index(value, " #"); i >= 0 {
			value = strings.TrimSpace(value[:i])
		}
		lines[name] = n
		if err := set(name, value); err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
	}
	if err := s.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// reload is the node's configuration reloading: SIGHUP and the health
// port's GET /config and PUT /loglevel.
type reload struct {
	r      *config.Reloader
	hup    chan os.Signal
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startReload catches SIGHUP from now on (its default would end the
// process), builds the reloader from the flag values at start and adds its
// endpoints to cfg's health port. Call bind once the node is built.
func startReload(cfg *node.Config, tel *telemetry.Telemetry, reg prometheus.Registerer, start map[string]string) (*reload, error) {
	rl := &reload{hup: make(chan os.Signal, 1), cancel: func() {}}
	signal.Notify(rl.hup, syscall.SIGHUP)
	r, err := config.New(config.Options{
		Logger: cfg.Logger.With(telemetry.ComponentKey, "config"), Levels: tel.Levels, Telemetry: tel, Registerer: reg,
		Start: start, Roots: pkiRoots(cfg),
	})
	if err != nil {
		signal.Stop(rl.hup)
		return nil, err
	}
	rl.r = r
	cfg.HealthRoutes = r.Routes()
	return rl, nil
}

// pkiRoots is the cluster CA for PUT /loglevel over mutual TLS; nil when
// the certificates do not load (node.New reports that).
func pkiRoots(cfg *node.Config) *x509.CertPool {
	b, err := pki.LoadNode(cfg.TLSDir, cfg.NodeID)
	if err != nil {
		return nil
	}
	return b.CAPool
}

// run applies the configuration on each SIGHUP until ctx ends, to the
// node's limits from then on.
func (rl *reload) run(ctx context.Context, n *node.Node, args []string) {
	rl.r.Bind(n.Limits())
	ctx, rl.cancel = context.WithCancel(ctx)
	rl.wg.Add(1)
	go func() {
		defer rl.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-rl.hup:
				vals, where, err := readConfig(args)
				if err != nil {
					rl.r.Invalid(err, "SIGHUP")
					continue
				}
				rl.r.Reload(vals, where, "SIGHUP")
			}
		}
	}()
}

// stop stops catching SIGHUP and waits for a reload in progress.
func (rl *reload) stop() {
	signal.Stop(rl.hup)
	rl.cancel()
	rl.wg.Wait()
}
