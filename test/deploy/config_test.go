//go:build integration

package deploy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/chainotel/chainotel/internal/testbin"
)

// composeProfiles returns the combinations of compose files that the README,
// the Makefile and the tests use.
func composeProfiles() [][]string {
	return [][]string{
		{"docker-compose.yml"},
		{"docker-compose.yml", "docker-compose.scaleout.yml"},
		{"docker-compose.yml", "docker-compose.external.yml"},
		{"docker-compose.yml", "docker-compose.scaleout.yml", "docker-compose.external-scaleout.yml"},
		{"docker-compose.yml", "docker-compose.scaleout.yml", "testdata/docker-compose.test.yml"},
	}
}

// composeService is what these tests read of a service in `docker-compose config`.
type composeService struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
}

// resolvedProfile returns the services of a profile as docker-compose v1
// resolves them (merged overlays, interpolated variables).
func resolvedProfile(t *testing.T, files []string) map[string]composeService {
	t.Helper()
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Skip("skipped: docker-compose is not installed (Debian: apt-get install docker-compose)")
	}
	args := []string{"--project-name", "chainotelconfig"}
	for _, f := range files {
		args = append(args, "-f", f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker-compose", append(args, "config")...)
	cmd.Dir = filepath.Join(testbin.RepoRoot(t), "deploy")
	cmd.Env = append(os.Environ(), "CHAINOTEL_DEPLOY_OUT="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("docker-compose %s config: %v: %s", strings.Join(files, " + "), err, stderr)
	}
	var doc struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("docker-compose %s config: decoding its output: %v", strings.Join(files, " + "), err)
	}
	return doc.Services
}

// Every profile is a file set docker-compose v1 accepts, and it publishes
// host ports on 127.0.0.1 only.
func TestComposeProfilesPublishOnLoopbackOnly(t *testing.T) {
	for _, files := range composeProfiles() {
		t.Run(strings.Join(files, "+"), func(t *testing.T) {
			services := resolvedProfile(t, files)
			for name, s := range services {
				for _, p := range s.Ports {
					if !strings.HasPrefix(p, "127.0.0.1:") {
						t.Errorf("%s publishes %q; host ports must be on 127.0.0.1 only", name, p)
					}
				}
			}
			for _, node := range nodeNames() {
				if _, ok := services[node]; !ok {
					t.Errorf("no service %s", node)
				}
			}
		})
	}
}

// containerPaths maps the folders the compose files mount into the collector
// containers to the repository folders they come from.
func containerPaths(root string) *strings.Replacer {
	return strings.NewReplacer(
		"/etc/chainotel/collector", filepath.Join(root, "collector"),
		"/etc/chainotel/deploy", filepath.Join(root, "deploy", "collector"),
		"/etc/chainotel/test", filepath.Join(root, "deploy", "testdata"),
	)
}

// Every collector of every profile starts with a valid configuration: its
// command line and environment, as compose resolves them, pass
// `otelcol-chain validate` with the container paths mapped to the repository.
func TestCollectorConfigsOfEveryProfileValidate(t *testing.T) {
	bin := testbin.OtelcolChain(t)
	root := testbin.RepoRoot(t)
	paths := containerPaths(root)
	for _, files := range composeProfiles() {
		t.Run(strings.Join(files, "+"), func(t *testing.T) {
			services := resolvedProfile(t, files)
			var names []string
			for name, s := range services {
				if strings.Contains(s.Image, "otelcol-chain") {
					names = append(names, name)
				}
			}
			sort.Strings(names)
			if len(names) == 0 {
				t.Fatal("no otelcol-chain service")
			}
			for _, name := range names {
				s := services[name]
				args := []string{"validate"}
				for _, a := range s.Command {
					args = append(args, paths.Replace(a))
				}
				env := append(os.Environ(), "CHAINOTEL_OUT_DIR="+t.TempDir())
				for k, v := range s.Environment {
					if k != "CHAINOTEL_OUT_DIR" {
						env = append(env, k+"="+paths.Replace(v))
					}
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				cmd := exec.CommandContext(ctx, bin, args...)
				cmd.Env = env
				out, err := cmd.CombinedOutput()
				cancel()
				if err != nil {
					t.Errorf("%s: otelcol-chain %s: %v\n%s", name, strings.Join(args, " "), err, out)
				}
			}
			t.Logf("valid: %s", strings.Join(names, ", "))
		})
	}
}

// The Prometheus scrape configuration passes promtool, and scrapes every
// node's health port and every collector of both profiles.
func TestPrometheusConfig(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is missing: run make tools (it installs Debian's prometheus package)")
	}
	path := filepath.Join(testbin.RepoRoot(t), "deploy", "prometheus.yml")
	out, err := exec.Command(promtool, "check", "config", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config %s: %v\n%s", path, err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	scraped := map[string]bool{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				scraped[target] = true
			}
		}
	}
	var want []string
	for _, n := range nodeNames() {
		want = append(want, n+":9090", n+"-otel:8888")
	}
	want = append(want, "sampler0:8888", "sampler1:8888")
	for _, target := range want {
		if !scraped[target] {
			t.Errorf("%s does not scrape %s", path, target)
		}
	}
}
