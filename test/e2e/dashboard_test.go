package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
)

// TestDashboardQueriesAreTheCheckedOnes fails when the dashboard's PromQL
// and the queries the end-to-end test checks differ by even one character.
func TestDashboardQueriesAreTheCheckedOnes(t *testing.T) {
	panels, err := ReadDashboardPanels(filepath.Join("..", "..", DashboardPath))
	require.NoError(t, err)
	want := []Panel{
		{Title: "Orders by Product", Exprs: []string{OrdersByProductQuery}},
		{Title: "Order Count", Exprs: []string{OrderCountQuery}},
		{Title: "Order Rate", Exprs: []string{OrderRateQuery}},
	}
	require.Equal(t, want, panels)
	for _, p := range panels {
		for _, e := range p.Exprs {
			_, err := parser.NewParser(parser.Options{}).ParseExpr(e)
			require.NoError(t, err, "panel %q", p.Title)
		}
	}
}

// dashboardVars are values of the collector dashboard's variables that
// still show which one was used where.
var dashboardVars = map[string]string{"cluster": "CLUSTER", "instance": "INSTANCE", "__rate_interval": "1m"}

// TestCollectorDashboardQueries: every panel of the collector dashboard has
// a title and PromQL that parses once Grafana's variables are filled in,
// and selects only the collectors' own metrics (job otelcol-eks) of the
// chosen cluster and collectors; every aggregation keeps instance, except
// the count of collectors reporting.
func TestCollectorDashboardQueries(t *testing.T) {
	panels, err := ReadDashboardPanels(filepath.Join("..", "..", CollectorDashboardPath))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(panels), 15)
	titles := map[string]bool{}
	for _, p := range panels {
		require.NotEmpty(t, p.Title)
		require.False(t, titles[p.Title], "two panels titled %q", p.Title)
		titles[p.Title] = true
		require.NotEmpty(t, p.Exprs, "panel %q has no query", p.Title)
		for _, e := range p.Exprs {
			expanded, err := ExpandVariables(e, dashboardVars)
			require.NoError(t, err, "panel %q", p.Title)
			expr, err := parser.NewParser(parser.Options{}).ParseExpr(expanded)
			require.NoError(t, err, "panel %q: %s", p.Title, expanded)
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				switch n := n.(type) {
				case *parser.VectorSelector:
					requireMatchers(t, n, map[string]string{"job": "otelcol-eks", "cluster": "CLUSTER", "instance": "INSTANCE"}, "panel "+p.Title)
				case *parser.AggregateExpr:
					if p.Title != "Collectors reporting" {
						require.True(t, slices.Contains(n.Grouping, "instance") && !n.Without,
							"panel %q: %s must keep instance (one line per collector)", p.Title, n)
					}
				}
				return nil
			})
		}
	}

	// The variables the queries use, declared as the other dashboards do.
	data, err := os.ReadFile(filepath.Join("..", "..", CollectorDashboardPath))
	require.NoError(t, err)
	var d struct {
		UID        string `json:"uid"`
		Templating struct {
			List []struct {
				Name, Type string
			} `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal(data, &d))
	require.Equal(t, "otelcol-eks-collector", d.UID)
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name+":"+v.Type)
	}
	require.Equal(t, []string{"datasource:datasource", "cluster:query", "instance:query"}, vars)
	require.NotContains(t, string(data), `"uid": "PBFA`, "panels read the ${datasource} variable, not a fixed data source")
}

// requireMatchers fails unless sel has, for each name of want, a matcher
// equal to or matching that value (job="otelcol-eks",
// cluster=~"$cluster"...).
func requireMatchers(t *testing.T, sel *parser.VectorSelector, want map[string]string, where string) {
	t.Helper()
	for name, value := range want {
		found := slices.ContainsFunc(sel.LabelMatchers, func(m *labels.Matcher) bool {
			return m.Name == name && m.Value == value && (m.Type == labels.MatchEqual || m.Type == labels.MatchRegexp)
		})
		require.True(t, found, "%s: %s selects no %s=%q (or =~)", where, sel, name, value)
	}
}

// readmeAnchors returns the anchors GitHub gives the headings of a
// Markdown file.
func readmeAnchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	anchors := map[string]bool{}
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		anchors[strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(title), ""), " ", "-")] = true
	}
	return anchors
}

// TestCollectorAlertRules: the rule file loads as Prometheus loads it (and
// AMP, which takes the same format); every alert selects the collectors'
// own metrics, says how urgent it is, and tells the person it wakes what
// happened and where deploy/README.md explains what to check.
func TestCollectorAlertRules(t *testing.T) {
	rules, err := ReadAlertRules(filepath.Join("..", "..", RulesPath))
	require.NoError(t, err)
	anchors := readmeAnchors(t, filepath.Join("..", "..", "deploy", "README.md"))
	readmeLink := regexp.MustCompile(`deploy/README\.md#([a-z0-9_-]+)`)
	var names []string
	for _, r := range rules {
		names = append(names, r.Alert)
		require.Equal(t, "otelcol-eks", r.Group)
		require.Contains(t, []string{"critical", "warning"}, r.Labels["severity"], "%s: severity", r.Alert)
		require.NotEmpty(t, r.Annotations["summary"], "%s: summary", r.Alert)
		links := readmeLink.FindAllStringSubmatch(r.Annotations["description"], -1)
		require.Len(t, links, 1, "%s: the description names one section of deploy/README.md", r.Alert)
		require.True(t, anchors[links[0][1]], "%s: deploy/README.md has no section #%s", r.Alert, links[0][1])
		expr, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr)
		require.NoError(t, err, r.Alert)
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			if sel, ok := n.(*parser.VectorSelector); ok {
				requireMatchers(t, sel, map[string]string{"job": "otelcol-eks"}, "alert "+r.Alert)
			}
			return nil
		})
	}
	require.ElementsMatch(t, []string{
		"OtelcolEksNotReporting", "OtelcolEksSelfScrapeDown", "OtelcolEksRemoteWriteBehind",
		"OtelcolEksCredentialsRefused", "OtelcolEksRemoteWriteDataLost", "OtelcolEksRemoteWriteRefused",
		"OtelcolEksEnrichmentMisses",
	}, names)
}

func TestExpandVariables(t *testing.T) {
	f := func(expr string, want string, wantErr string) {
		t.Helper()
		got, err := ExpandVariables(expr, map[string]string{"cluster": "a|b", "__rate_interval": "1m"})
		if wantErr != "" {
			require.ErrorContains(t, err, wantErr)
			return
		}
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	f(`rate(x{cluster=~"$cluster"}[$__rate_interval])`, `rate(x{cluster=~"a|b"}[1m])`, "")
	f(`x{cluster=~"${cluster}", c=~"${cluster:regex}"}`, `x{cluster=~"a|b", c=~"a|b"}`, "")
	f(`x{instance=~"$instance"}`, "", "$instance")
	f(`x`, `x`, "")
}
