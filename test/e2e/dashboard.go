// Package e2e holds the end-to-end test of the local workshop (`make e2e`,
// build tag e2e) and what it shares with plain unit tests: the PromQL of the
// Order Service Metrics dashboard, read from the dashboard itself so that
// the queries the end-to-end test checks and the dashboard users see cannot
// drift apart.
package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// DashboardPath is the Order Service Metrics dashboard, relative to the
// repository root.
const DashboardPath = "deploy/dashboards/order-service-metrics.json"

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

// ReadDashboardPanels returns the panels of the Grafana dashboard at path,
// in file order, with the expr of each of their targets.
func ReadDashboardPanels(path string) ([]Panel, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read dashboard: %w", err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("cannot parse dashboard %s: %w", path, err)
	}
	panels := make([]Panel, 0, len(d.Panels))
	for _, p := range d.Panels {
		panel := Panel{Title: strings.TrimSpace(p.Title)}
		for _, t := range p.Targets {
			panel.Exprs = append(panel.Exprs, t.Expr)
		}
		panels = append(panels, panel)
	}
	return panels, nil
}
