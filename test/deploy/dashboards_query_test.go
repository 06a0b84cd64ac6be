package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// The Grafana dashboards and Prometheus rules of deploy/, read as files: this
// file's tests need no process; dashboards_test.go (integration) checks the
// names they query against a running node and collector.

// dashboardQuery is one PromQL expression of a dashboard: a panel target or
// a template variable.
type dashboardQuery struct {
	where string // "chainotel-node.json: panel \"Raft term\" target A"
	expr  string
}

type dashboardPanel struct {
	ID         int               `json:"id"`
	Type       string            `json:"type"`
	Title      string            `json:"title"`
	Datasource *dashboardDS      `json:"datasource"`
	Targets    []dashboardTarget `json:"targets"`
	Panels     []dashboardPanel  `json:"panels"` // a collapsed row's
}

type dashboardDS struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type dashboardTarget struct {
	RefID    string `json:"refId"`
	Expr     string `json:"expr"`
	Exemplar bool   `json:"exemplar"`
}

type dashboard struct {
	UID        string           `json:"uid"`
	Title      string           `json:"title"`
	Panels     []dashboardPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Query struct {
				Query string `json:"query"`
			} `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// repoRoot is the module root, two folders up from test/deploy.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	return root
}

// loadDashboards reads every dashboard of deploy/grafana/dashboards.
func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "deploy", "grafana", "dashboards", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no dashboards in deploy/grafana/dashboards")
	out := map[string]dashboard{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		var d dashboard
		require.NoError(t, json.Unmarshal(raw, &d), "%s", f)
		out[filepath.Base(f)] = d
	}
	return out
}

// labelValuesRe is a Grafana variable query: label_values(metric, label).
var labelValuesRe = regexp.MustCompile(`^label_values\(\s*(.+?)\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)$`)

// queries lists every expression of the dashboards: panel targets (rows'
// nested panels included) and label_values variables.
func queries(t *testing.T, ds map[string]dashboard) []dashboardQuery {
	t.Helper()
	var out []dashboardQuery
	var walk func(file string, ps []dashboardPanel)
	walk = func(file string, ps []dashboardPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out = append(out, dashboardQuery{fmt.Sprintf("%s: panel %q target %s", file, p.Title, tg.RefID), tg.Expr})
			}
			walk(file, p.Panels)
		}
	}
	for file, d := range ds {
		walk(file, d.Panels)
		for _, v := range d.Templating.List {
			m := labelValuesRe.FindStringSubmatch(v.Query.Query)
			require.NotNil(t, m, "%s: variable %s: query %q is not label_values(metric, label)", file, v.Name, v.Query.Query)
			out = append(out, dashboardQuery{fmt.Sprintf("%s: variable %s", file, v.Name), m[1]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].where < out[j].where })
	return out
}

// recordedNames are the series the rules of deploy/prometheus/rules record:
// a dashboard may query them though no process exposes them.
func recordedNames(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "deploy", "prometheus", "rules", "*.rules.yml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	out := map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		var rf struct {
			Groups []struct {
				Rules []struct {
					Record string `yaml:"record"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		require.NoError(t, yaml.Unmarshal(raw, &rf), "%s", f)
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					out[r.Record] = true
				}
			}
		}
	}
	return out
}

// dashboardMetrics maps each metric name the dashboards query (recording
// rules' outputs left out) to where.
func dashboardMetrics(t *testing.T) map[string][]string {
	t.Helper()
	recorded := recordedNames(t)
	out := map[string][]string{}
	for _, q := range queries(t, loadDashboards(t)) {
		names, err := metricNames(q.expr)
		require.NoError(t, err, "%s: %s", q.where, q.expr)
		require.NotEmpty(t, names, "%s: %q queries no metric", q.where, q.expr)
		for _, n := range names {
			if !recorded[n] {
				out[n] = append(out[n], q.where)
			}
		}
	}
	return out
}

func TestDashboardsAreWellFormed(t *testing.T) {
	uids := map[string]string{}
	exemplars := 0
	for file, d := range loadDashboards(t) {
		require.NotEmpty(t, d.UID, file)
		require.NotContains(t, uids, d.UID, "%s repeats the uid of %s", file, uids[d.UID])
		uids[d.UID] = file
		ids := map[int]bool{}
		for _, p := range d.Panels {
			require.False(t, ids[p.ID], "%s: panel id %d repeats", file, p.ID)
			ids[p.ID] = true
			if p.Type == "row" {
				continue
			}
			require.NotNil(t, p.Datasource, "%s: panel %q has no data source", file, p.Title)
			require.Equal(t, "prometheus", p.Datasource.UID, "%s: panel %q: the provisioned data source's uid", file, p.Title)
			require.NotEmpty(t, p.Targets, "%s: panel %q has no query", file, p.Title)
			for _, tg := range p.Targets {
				if tg.Exemplar {
					exemplars++
				}
			}
		}
	}
	require.Positive(t, exemplars, "some panel shows exemplars (the latency panel links to traces)")
	metrics := dashboardMetrics(t)
	for name, where := range metrics {
		require.True(t, strings.HasPrefix(name, "chainotel_") || strings.HasPrefix(name, "otelcol_"),
			"%s (in %v) is neither a node metric (chainotel_*) nor a collector one (otelcol_*)", name, where)
	}
}

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`chainotel_raft_term{instance=~"$instance"}`, []string{"chainotel_raft_term"}},
		{`sum by (le, route) (rate(chainotel_http_request_duration_seconds_bucket{instance=~"$instance"}[$__rate_interval]))`,
			[]string{"chainotel_http_request_duration_seconds_bucket"}},
		{`histogram_quantile(0.99, sum without (instance) (rate(a_bucket[5m])))`, []string{"a_bucket"}},
		{`a / on (instance) group_left (tier) b > bool 3`, []string{"a", "b"}},
		{`x unless ignoring(job) y or z and w offset 5m`, []string{"w", "x", "y", "z"}},
		{`{__name__="by_name", job="j"}`, []string{"by_name"}},
		{`count_values("version", build_info) * 2e3 + 0x1F`, []string{"build_info"}},
		{`label_replace(m, "dst", "$1", "src", "(sum|rate) x")`, []string{"m"}},
		{`max_over_time(rate(c[5m])[30m:1m]) @ end()`, []string{"c"}},
		{`topk(3, ${metric_var} or k:recorded:rate5m)`, []string{"k:recorded:rate5m"}},
		{"sum(`raw string with rate(no)` == m)", []string{"m"}},
		{`vector(1)`, nil},
	} {
		got, err := metricNames(tc.expr)
		require.NoError(t, err, tc.expr)
		require.Equal(t, tc.want, got, tc.expr)
	}
	for _, bad := range []string{`rate(x[5m]`, `x{job="a"`, `"open`, `x)`} {
		_, err := metricNames(bad)
		require.Error(t, err, bad)
	}
}
