// Command blockchain runs a chainotel node, and makes what a local cluster
// needs: `blockchain certs` (cluster CA and node certificates) and
// `blockchain init` (genesis and data folders). main only wires: flags,
// logging, node.New(cfg).Run(ctx).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	_ "golang.org/x/crypto/x509roots/fallback" // CA roots where the system has none (the FROM-scratch image)

	"github.com/chainotel/chainotel/node"
	"github.com/chainotel/chainotel/node/buildinfo"
	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/pki"
	"github.com/chainotel/chainotel/node/telemetry"
)

// envPrefix names the environment variables that set flags: --node-id is
// also BLOCKCHAIN_NODE_ID.
const envPrefix = "BLOCKCHAIN"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := rootCommand(os.Stdout)
	if err := root.ParseAndRun(ctx, os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "blockchain:", err)
		os.Exit(1)
	}
}

func ffOptions() []ff.Option {
	return []ff.Option{ff.WithEnvVarPrefix(envPrefix), ff.WithConfigFileFlag("config"), ff.WithConfigFileParser(ff.PlainParser)}
}

// rootCommand is the command line; stdout receives what --version and
// `blockchain version` print.
func rootCommand(stdout io.Writer) *ffcli.Command {
	fs := flag.NewFlagSet("blockchain", flag.ContinueOnError)
	def := node.DefaultConfig()
	var (
		cfg      = def
		peers    = fs.String("peers", "", `peer addresses, comma-separated; ":8081" means localhost:8081`)
		logLevel = fs.String("log-level", "info", "debug, info, warn or error, or per component: info:raft,p2p=debug")
		_        = fs.String("config", "", "file of flag values, one `name value` a line")
		tf       telemetryFlags
		version  = fs.Bool("version", false, "print the build (release, VCS revision, Go version) and exit")
	)
	tf.logFile.register(fs)
	fs.StringVar(&tf.endpoint, "otlp-endpoint", "", "OTLP gRPC endpoint of the collector, host:port or http(s)://host:port (default from OTEL_EXPORTER_OTLP_ENDPOINT, else localhost:4317)")
	fs.BoolVar(&tf.tls, "otlp-tls", false, "mutual TLS to the collector with the cluster certificates of --tls-dir (the collector's certificate must come from the cluster CA)")
	fs.StringVar(&tf.environment, "environment", "dev", "deployment.environment.name of the node's telemetry (reloads on SIGHUP)")
	fs.StringVar(&tf.baggageDenyKeys, "baggage-deny-keys", strings.Join(telemetry.DefaultBaggageDenyKeys(), ","),
		`fragments of the baggage keys removed from incoming requests, comma-separated; a key goes when, lowercased and without "-", "_", "." and spaces, it contains one; "" removes none (reloads on SIGHUP)`)
	fs.BoolVar(&cfg.DebugFaults, "debug-faults", false, "serve POST /debug/fault?kind=panic|consensus_timeout|p2p_disconnect|storage_error|http_panic|grpc_panic on the health port (tests only)")
	fs.StringVar(&cfg.NodeID, "node-id", "", "this node's id, one of the genesis validators (e.g. node0)")
	fs.IntVar(&cfg.Port, "port", def.Port, "client HTTP API and peer gRPC (TLS) port")
	fs.StringVar(&cfg.Consensus, "consensus", def.Consensus, "consensus engine: raft or pow (the genesis of `blockchain init` serves both; a data folder keeps the engine it started with)")
	fs.IntVar(&cfg.PoWThreads, "pow-threads", 1, "mining goroutines under --consensus=pow")
	fs.Float64Var(&cfg.PoWMaxHashRate, "pow-max-hashrate", 0, "most header hashes per second the miner tries under --consensus=pow (0: unlimited)")
	fs.StringVar(&cfg.DBPath, "db-path", "", "Badger folder (default ./data/<node-id>/badger)")
	fs.IntVar(&cfg.HealthPort, "health-port", 0, "health and metrics port (default --port + 1010)")
	fs.StringVar(&cfg.TLSDir, "tls-dir", def.TLSDir, "folder of ca.crt and <node-id>.crt/.key (make certs)")
	fs.StringVar(&cfg.GenesisPath, "genesis", def.GenesisPath, "genesis file (make init)")
	fs.DurationVar(&cfg.CommitTimeout, "commit-timeout", def.CommitTimeout, "how long POST /tx waits for its block before answering 503")
	fs.IntVar(&cfg.MempoolSize, "mempool-size", def.MempoolSize, "most pending transactions before answering 429")
	fs.IntVar(&cfg.MaxClientRequests, "max-client-requests", def.MaxClientRequests, "most client API requests in flight from one IP before answering 429")
	fs.Uint64Var(&cfg.MinFreeDisk, "min-free-disk", def.MinFreeDisk, "bytes that must stay free on the --db-path filesystem; below it the node stops writing and exits with a storage_error (0: no check)")
	fs.Uint64Var(&cfg.SnapshotEvery, "snapshot-every", 0, "raft entries between snapshots (default 1000)")
	return &ffcli.Command{
		Name:        "blockchain",
		ShortUsage:  "blockchain --node-id=node0 --port=8080 --peers=\":8081,:8082\" [flags] | blockchain certs|init|probe|version [flags]",
		ShortHelp:   "run a chainotel node",
		FlagSet:     fs,
		Options:     ffOptions(),
		Subcommands: []*ffcli.Command{certsCommand(), initCommand(), probeCommand(), versionCommand(stdout)},
		Exec: func(ctx context.Context, args []string) error {
			if err := rejectArgs(args); err != nil {
				return err
			}
			if *version {
				_, err := fmt.Fprintln(stdout, buildinfo.Read())
				return err
			}
			if cfg.NodeID == "" {
				return errors.New("--node-id is required (e.g. --node-id=node0)")
			}
			cfg.Peers = splitList(*peers)
			tf.logLevel = *logLevel
			return runNode(ctx, cfg, tf, flagValues(fs))
		},
	}
}

// runNode runs the node; start is every flag's value as parsed, which a
// SIGHUP reload compares the re-read configuration with.
func runNode(ctx context.Context, cfg node.Config, tf telemetryFlags, start map[string]string) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.Registerer, cfg.Gatherer = reg, reg
	tel, logFile, err := setupTelemetry(ctx, &cfg, tf, reg)
	if err != nil {
		return err
	}
	// After the shutdown below, which logs. The file is written unbuffered,
	// so closing it loses nothing, and there is no log left to report to.
	defer func() { _ = logFile.Close() }()
	defer shutdownTelemetry(ctx, tel)
	logger := cfg.Logger
	logger.Info("telemetry ready", "otlp", tel.Endpoint, "enabled", tel.Enabled)
	rl, err := startReload(&cfg, tel, reg, start)
	if err != nil {
		return err
	}
	defer rl.stop()
	n, err := node.New(cfg)
	if err != nil {
		logger.Error("node failed to start", "err", err)
		return err
	}
	rl.run(ctx, n, os.Args[1:])
	fmt.Fprintf(os.Stderr, "blockchain: %s serving the API and peers on %s, health on %s\n", cfg.NodeID, n.Addr(), n.HealthAddr())
	return n.Run(ctx)
}

// rejectArgs refuses words left after the flags: `--nodes=node0 node1` would
// otherwise silently mean one node.
func rejectArgs(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments %q (flags are --name=value; lists are comma-separated without spaces)", args)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func versionCommand(stdout io.Writer) *ffcli.Command {
	fs := flag.NewFlagSet("blockchain version", flag.ContinueOnError)
	return &ffcli.Command{
		Name:       "version",
		ShortUsage: "blockchain version",
		ShortHelp:  "print the build: release (service.version), VCS revision and Go version",
		FlagSet:    fs,
		Exec: func(_ context.Context, args []string) error {
			if err := rejectArgs(args); err != nil {
				return err
			}
			_, err := fmt.Fprintln(stdout, buildinfo.Read())
			return err
		},
	}
}

func certsCommand() *ffcli.Command {
	fs := flag.NewFlagSet("blockchain certs", flag.ContinueOnError)
	dir := fs.String("dir", "certs", "folder for ca.crt/ca.key and <node>.crt/.key")
	nodes := fs.String("nodes", "node0,node1,node2", "node ids, comma-separated")
	rotate := fs.Bool("rotate-ca", false, "make a new CA (and reissue every node certificate)")
	return &ffcli.Command{
		Name:       "certs",
		ShortUsage: "blockchain certs --dir certs --nodes node0,node1,node2 [--rotate-ca]",
		ShortHelp:  "make the cluster CA and one certificate per node (keeps a valid CA)",
		FlagSet:    fs,
		Options:    ffOptions(),
		Exec: func(_ context.Context, args []string) error {
			if err := rejectArgs(args); err != nil {
				return err
			}
			rep, err := pki.WriteCluster(*dir, splitList(*nodes), pki.Options{RotateCA: *rotate})
			if err != nil {
				return err
			}
			report(os.Stdout, *dir, rep)
			return nil
		},
	}
}

func report(w io.Writer, dir string, rep pki.Report) {
	ca := "kept the existing CA"
	if rep.CACreated {
		ca = "made a new CA"
	}
	_, _ = fmt.Fprintf(w, "certs in %s: %s; issued %v, kept %v\n", dir, ca, rep.Issued, rep.Kept)
}

func initCommand() *ffcli.Command {
	fs := flag.NewFlagSet("blockchain init", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "data", "folder for genesis.json and one data folder per node")
	nodes := fs.String("nodes", "node0,node1,node2", "validator node ids, comma-separated")
	force := fs.Bool("force", false, "overwrite an existing genesis (its chain's data folders become unusable)")
	return &ffcli.Command{
		Name:       "init",
		ShortUsage: "blockchain init --data-dir data --nodes node0,node1,node2 [--force]",
		ShortHelp:  "write the dev genesis (chain chainotel-dev, 0xabc funded, for raft and pow) and the data folders",
		FlagSet:    fs,
		Options:    ffOptions(),
		Exec: func(_ context.Context, args []string) error {
			if err := rejectArgs(args); err != nil {
				return err
			}
			return initData(os.Stdout, *dataDir, splitList(*nodes), *force)
		},
	}
}

// initData writes the genesis both engines accept (the validators for raft,
// the pow section for pow) and the data folders.
func initData(w io.Writer, dataDir string, nodes []string, force bool) error {
	if len(nodes) == 0 {
		return errors.New("--nodes is empty")
	}
	for _, id := range nodes {
		if err := pki.ValidateNodeID(id); err != nil {
			return fmt.Errorf("--nodes: %w", err)
		}
		if err := os.MkdirAll(filepath.Join(dataDir, id), 0o755); err != nil {
			return fmt.Errorf("create data folder: %w", err)
		}
	}
	path := filepath.Join(dataDir, "genesis.json")
	if _, err := os.Stat(path); err == nil && !force {
		g, err := chain.LoadGenesis(path)
		if err != nil {
			return fmt.Errorf("%w (rerun with --force to replace it)", err)
		}
		note := ""
		if g.PoW == nil {
			note = "; it has no pow section, so only --consensus=raft runs on it"
		}
		_, _ = fmt.Fprintf(w, "kept %s (chain %s, genesis %s%s); --force replaces it\n", path, g.ChainID, g.Hash(), note)
		return nil
	}
	g := chain.DevGenesisBoth(nodes, time.Now())
	if err := g.Write(path); err != nil {
		return err
	}
	_, _ = fmt.Fprintf(w, "wrote %s (chain %s, validators %v, genesis %s) and data folders for %v\n",
		path, g.ChainID, g.Validators, g.Hash(), nodes)
	return nil
}
