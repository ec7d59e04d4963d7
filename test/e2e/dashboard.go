// Package e2e holds the end-to-end tests of the local workshop (`make e2e`,
// build tag e2e) and what they share with plain unit tests: the PromQL of
// the dashboards and of the alerting rules, read from the files users
// import, so that the queries the end-to-end tests check and the ones users
// see cannot drift apart.
package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// DashboardPath is the Order Service Metrics dashboard, relative to the
// repository root.
const DashboardPath = "deploy/dashboards/order-service-metrics.json"

// CollectorDashboardPath is the collector dashboard (the collectors' own
// metrics), relative to the repository root.
const CollectorDashboardPath = "deploy/dashboards/collector.json"

// The three queries of the workshop's Order Service Metrics dashboard.
const (
	// OrdersByProductQuery is the "Orders by Product" pie chart: quantity
	// ordered per product.
	OrdersByProductQuery = `sum by(productId)(watch_orders_total{productId!="*"})`
	// OrderCountQuery is the "Order Count" stat: number of orders placed.
	OrderCountQuery = `sum(watch_orders_total{productId="*"}) by (productId)`
	// OrderRateQuery is the "Order Rate" time series: orders per second.
	OrderRateQuery = `sum by(productId)(rate(watch_orders_total{productId="*"}[2m]))`
)

// Panel is one dashboard panel and its PromQL expressions.
type Panel struct {
	Title string
	Exprs []string
}

// dashboardPanel is what is read of a Grafana panel; a row holds its
// panels when it is collapsed.
type dashboardPanel struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"`
}

// ReadDashboardPanels returns the panels of the Grafana dashboard at path,
// in file order, with the expr of each of their targets. Rows are not
// panels: the panels of a collapsed row take its place.
func ReadDashboardPanels(path string) ([]Panel, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read dashboard: %w", err)
	}
	var d struct {
		Panels []dashboardPanel `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("cannot parse dashboard %s: %w", path, err)
	}
	var panels []Panel
	var add func([]dashboardPanel)
	add = func(ps []dashboardPanel) {
		for _, p := range ps {
			if p.Type == "row" {
				add(p.Panels)
				continue
			}
			panel := Panel{Title: strings.TrimSpace(p.Title)}
			for _, t := range p.Targets {
				panel.Exprs = append(panel.Exprs, t.Expr)
			}
			panels = append(panels, panel)
		}
	}
	add(d.Panels)
	return panels, nil
}

// grafanaVariable matches $name, ${name} and ${name:format}.
var grafanaVariable = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)`)

// ExpandVariables replaces the Grafana variables in expr ($cluster,
// ${cluster}, $__rate_interval...) with their values in vars, as Grafana
// does before it sends the query; a variable vars does not name is an
// error.
func ExpandVariables(expr string, vars map[string]string) (string, error) {
	var missing []string
	out := grafanaVariable.ReplaceAllStringFunc(expr, func(m string) string {
		sub := grafanaVariable.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		v, ok := vars[name]
		if !ok {
			missing = append(missing, "$"+name)
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("unknown dashboard variables %v in %q", missing, expr)
	}
	return out, nil
}
