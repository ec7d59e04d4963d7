//go:build e2e

package e2e

import (
	"context"
	"math"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-eks/otelcol-eks/test/harness/ordersdemo"
	"github.com/otelcol-eks/otelcol-eks/test/harness/workshop"
)

// nativeHistogramQuery is the query users write for a native histogram's
// 90th percentile per workload.
var nativeHistogramQuery = `histogram_quantile(0.9, sum by (workload) (rate(` + ordersdemo.PlacementName + `[1m])))`

// TestNativeHistogramQuantile runs configs/local.yaml (native histograms
// on, as in every shipped configuration) against the orders demo, whose
// watch_order_placement_seconds the Go client library exposes with native
// and classic buckets, with k8smeta enriching it from the pods API. The
// demo places orders for a while from zero and stops; then the 90th
// percentile Prometheus computes from the native histogram, per workload,
// must lie in the native bucket holding the 90th percentile of the
// latencies the demo observed, and the classic buckets of the same
// histogram must give the classic bucket holding it.
func TestNativeHistogramQuantile(t *testing.T) {
	t.Parallel()
	w := startWorkshop(t, workshop.Options{ConfigPath: nativeHistogramConfig(t), PodsAPI: true, OrdersPaused: true})
	w.Pods().Add(ordersPodObject())
	prom := w.Prometheus()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	query := func(promql string, at time.Time) model.Vector {
		t.Helper()
		v, err := prom.Query(ctx, promql, at)
		require.NoError(t, err)
		return v
	}
	one := func(promql string, at time.Time) float64 {
		t.Helper()
		v := query(promql, at)
		require.Len(t, v, 1, "%s at %s: %v", promql, at.Format(time.RFC3339Nano), v)
		return float64(v[0].Value)
	}

	// Before the first order: the empty histogram is stored as a native
	// histogram (histogram_count answers for nothing else), enriched.
	enriched := ordersdemo.PlacementName + `{workload="orders", workload_kind="Deployment"}`
	c, cancelWait := context.WithTimeout(ctx, time.Minute)
	_, err := prom.WaitForQuery(c, `histogram_count(`+enriched+`) == 0`, time.Second, func(v model.Vector) bool { return len(v) == 1 })
	cancelWait()
	require.NoError(t, err, "no enriched native histogram before the first order")

	resumed := time.Now()
	require.False(t, postState(t, w.Orders().URL()+"/resume").Paused)
	waitFor(t, time.Minute, "60 orders", func() bool { return w.Orders().Store().Snapshot().Orders >= 60 })
	paused := postState(t, w.Orders().URL()+"/pause")
	require.True(t, paused.Paused)
	c, cancelWait = context.WithTimeout(ctx, time.Minute)
	_, err = prom.WaitForQuery(c, `histogram_count(`+enriched+`) == `+strconv.FormatInt(paused.Orders, 10), time.Second,
		func(v model.Vector) bool { return len(v) == 1 })
	cancelWait()
	require.NoError(t, err, "Prometheus never held the paused demo's %d orders", paused.Orders)

	// The window of the query must hold a sample from before the first
	// order and one with the last: rate() then sees every observation, and
	// its extrapolation scales every bucket alike, which no quantile sees.
	// zero is the last sample before the resume; the query runs at zero+50s.
	require.Zero(t, one(`histogram_count(`+enriched+`)`, resumed), "orders counted before the resume")
	zero := time.UnixMilli(int64(math.Round(one(`timestamp(`+enriched+`)`, resumed) * 1000)))
	at := zero.Add(50 * time.Second)
	require.Equal(t, float64(paused.Orders), one(`histogram_count(`+enriched+`)`, at),
		"the last order's scrape is not within 50 s of the resume: the window cannot hold both ends")
	if d := time.Until(at); d > 0 {
		time.Sleep(d + time.Second) // evaluate the past only
	}

	want := ordersdemo.PlacementQuantile(paused.LatencyMillis, 0.9)
	lower, upper := ordersdemo.PlacementBucket(want)
	got := query(nativeHistogramQuery, at)
	t.Logf("%d orders; observed 90th percentile %v s, native bucket (%.6g, %.6g]; %s = %v", paused.Orders, want, lower, upper, nativeHistogramQuery, got)
	var orders *model.Sample
	for _, s := range got {
		if s.Metric["workload"] == "orders" {
			orders = s
		}
	}
	require.NotNil(t, orders, "no workload=\"orders\" in %v", got)
	q := float64(orders.Value)
	// Prometheus interpolates within the bucket (2.42 linearly): any value
	// of the bucket is right, at its resolution (a factor 2^(1/8)).
	require.True(t, q >= lower*(1-1e-9) && q <= upper*(1+1e-9),
		"native 90th percentile %v outside the bucket (%v, %v] of the observed %v", q, lower, upper, want)

	// The classic buckets of the same histogram, side by side.
	classicLower, classicUpper := classicBucket(want)
	classic := one(`histogram_quantile(0.9, sum by (workload, le) (rate(`+ordersdemo.PlacementName+`_bucket{workload="orders"}[1m])))`, at)
	t.Logf("classic 90th percentile %v, bucket (%v, %v]", classic, classicLower, classicUpper)
	require.True(t, classic >= classicLower && classic <= classicUpper,
		"classic 90th percentile %v outside the bucket (%v, %v] of the observed %v", classic, classicLower, classicUpper, want)
	require.Equal(t, float64(paused.Orders), one(ordersdemo.PlacementName+`_count{workload="orders"}`, at))

	// Count and sum are exact.
	var sum float64
	for ms, n := range paused.LatencyMillis {
		sum += float64(n) * float64(ms) / 1000
	}
	require.InDelta(t, sum, one(`histogram_sum(`+enriched+`)`, at), 1e-9*sum)
}

// classicBucket returns the classic bucket (lower, upper] of the placement
// histogram holding v; histogram_quantile answers the highest finite
// bound for a quantile in the +Inf bucket.
func classicBucket(v float64) (lower, upper float64) {
	for _, le := range ordersdemo.PlacementClassicBuckets {
		if v <= le {
			return lower, le
		}
		lower = le
	}
	return lower, lower
}

// nativeHistogramConfig writes configs/local.yaml with the orders target
// carrying its pod's namespace and pod labels (as the workshop's
// kubernetes-pods relabelling puts them on every series), so that k8smeta
// finds the pod in the pods API, and returns its path.
func nativeHistogramConfig(t *testing.T) string {
	t.Helper()
	root, err := workshop.RepoRoot()
	require.NoError(t, err)
	cfg := workshop.ReadConfig(t, filepath.Join(root, "configs", "local.yaml"))
	prom := workshop.ConfigMap(t, cfg, "receivers", "prometheus", "config")
	global := workshop.ConfigMap(t, cfg, "receivers", "prometheus", "config", "global")
	require.Equal(t, true, global["scrape_native_histograms"], "configs/local.yaml does not scrape native histograms")
	jobs := prom["scrape_configs"].([]any)
	require.Len(t, jobs, 1)
	target := jobs[0].(map[string]any)["static_configs"].([]any)[0].(map[string]any)
	target["labels"] = map[string]any{"namespace": ordersNamespace, "pod": ordersPod}
	return workshop.WriteConfig(t, t.TempDir(), cfg)
}
