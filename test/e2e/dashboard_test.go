package e2e

import (
	"path/filepath"
	"testing"

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
