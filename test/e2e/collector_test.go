//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/otelcol-eks/otelcol-eks/test/harness/faultproxy"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/promserver"
	"github.com/otelcol-eks/otelcol-eks/test/harness/workshop"
)

// Values of Grafana's $__rate_interval for the collector dashboard's
// queries: faultInterval covers every fault of a test, so that counters
// created by a fault (answers by code) take the queries' `unless ... offset`
// branch; steadyInterval is shorter than a test, so that counters that were
// there before take their increase() branch.
const (
	faultInterval  = "2m"
	steadyInterval = "20s"
)

// readPanels returns the panels of the dashboard at path (relative to the
// repository root) with their queries as Grafana sends them: the variables
// filled in from vars.
func readPanels(t *testing.T, path string, vars map[string]string) []Panel {
	t.Helper()
	panels, err := ReadDashboardPanels(filepath.Join("..", "..", path))
	require.NoError(t, err)
	for _, p := range panels {
		for j, e := range p.Exprs {
			p.Exprs[j], err = ExpandVariables(e, vars)
			require.NoError(t, err, "panel %q", p.Title)
		}
	}
	return panels
}

// collectorPanels returns the collector dashboard's panels for the
// workshop's cluster and every collector, with rateInterval as
// $__rate_interval.
func collectorPanels(t *testing.T, rateInterval string) []Panel {
	t.Helper()
	return readPanels(t, CollectorDashboardPath,
		map[string]string{"cluster": regexp.QuoteMeta(clusterName), "instance": ".*", "__rate_interval": rateInterval})
}

// collectorPanel returns the queries of the panel titled title, over
// faultInterval.
func collectorPanel(t *testing.T, title string) []string {
	t.Helper()
	for _, p := range collectorPanels(t, faultInterval) {
		if p.Title == title {
			return p.Exprs
		}
	}
	t.Fatalf("the collector dashboard has no panel %q", title)
	return nil
}

// alertRules returns the shipped alerting rules by name.
func alertRules(t *testing.T) map[string]AlertRule {
	t.Helper()
	rules, err := ReadAlertRules(filepath.Join("..", "..", RulesPath))
	require.NoError(t, err)
	out := map[string]AlertRule{}
	for _, r := range rules {
		out[r.Alert] = r
	}
	return out
}

// evalAlert is the alert's expression evaluated by Prometheus at at (zero:
// now): the alerts that are pending, or firing once their `for` has
// passed.
func evalAlert(t *testing.T, prom *promserver.Server, r AlertRule, at time.Time) model.Vector {
	t.Helper()
	v, err := prom.Query(context.Background(), r.Expr, at)
	require.NoError(t, err, "alert %s", r.Alert)
	return v
}

// requireQuiet fails if any alert but except is active at at.
func requireQuiet(t *testing.T, prom *promserver.Server, rules map[string]AlertRule, at time.Time, except ...string) {
	t.Helper()
	for name, r := range rules {
		if !slices.Contains(except, name) {
			require.Empty(t, evalAlert(t, prom, r, at), "alert %s is active in a healthy run", name)
		}
	}
}

// waitAlert waits until the alert is active now with a series whose labels
// include want, and returns that series.
func waitAlert(t *testing.T, prom *promserver.Server, r AlertRule, timeout time.Duration, want model.LabelSet) *model.Sample {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var found *model.Sample
	_, err := prom.WaitForQuery(ctx, r.Expr, time.Second, func(v model.Vector) bool {
		found = matching(v, want)
		return found != nil
	})
	require.NoError(t, err, "alert %s never fired with %v", r.Alert, want)
	return found
}

// matching returns the first sample of v whose labels include want.
func matching(v model.Vector, want model.LabelSet) *model.Sample {
	for _, s := range v {
		ok := true
		for k, val := range want {
			ok = ok && s.Metric[k] == val
		}
		if ok {
			return s
		}
	}
	return nil
}

// selfMetric returns the value the collector's own telemetry endpoint
// reports for the counter or gauge name{labels}, without the `_total` the
// remote-write round trip adds; false when there is no such series.
func selfMetric(t *testing.T, url, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err, "telemetry endpoint %s", url)
	f, ok := families[name]
	if !ok {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range labels {
			match = match && got[k] == v
		}
		if !match {
			continue
		}
		if m.Counter != nil {
			return m.Counter.GetValue(), true
		}
		return m.Gauge.GetValue(), true
	}
	return 0, false
}

// The orders pod the test's pods API serves: a Deployment's pod, whose
// ReplicaSet name k8smeta derives the Deployment from.
const (
	ordersNamespace = "orders"
	ordersHash      = "7d4b9c8f6d"
	ordersPod       = "orders-" + ordersHash + "-x2k9p"
)

func ordersPodObject() *corev1.Pod {
	controller := true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ordersNamespace, Name: ordersPod, UID: "5f1c1c54-8f0e-4c1b-9d7e-2f6a3c7e9b01",
			Labels: map[string]string{"app.kubernetes.io/name": "orders", "pod-template-hash": ordersHash},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "orders-" + ordersHash,
				UID: "0c0ffee0-1111-2222-3333-444455556666", Controller: &controller,
			}},
		},
		Spec:   corev1.PodSpec{NodeName: "ip-10-42-0-17.eu-central-1.compute.internal"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.0.23"},
	}
}

// collectorTestConfig writes configs/local.yaml plus what this test needs
// and the shipped file has no variable for, and returns its path:
//   - the orders target carries its pod's namespace and pod labels, as the
//     workshop's kubernetes-pods relabelling puts them on every series of a
//     pod: k8smeta's datapoint_labels association looks them up in the
//     pods API;
//   - a second target of the self-scrape job where nothing listens: a
//     collector whose telemetry endpoint does not answer (up 0);
//   - k8smeta's deleted_pod_grace_period is 1s, so that the series of a
//     deleted pod miss at once;
//   - remote_write_delivery's max_age is 10s, so that an outage of seconds
//     expires requests.
func collectorTestConfig(t *testing.T, deadTarget string) string {
	t.Helper()
	root, err := workshop.RepoRoot()
	require.NoError(t, err)
	cfg := workshop.ReadConfig(t, filepath.Join(root, "configs", "local.yaml"))
	job := func(receiver string) map[string]any {
		jobs := workshop.ConfigMap(t, cfg, "receivers", receiver, "config")["scrape_configs"].([]any)
		require.Len(t, jobs, 1, "receiver %s", receiver)
		return jobs[0].(map[string]any)
	}
	orders := job("prometheus")["static_configs"].([]any)[0].(map[string]any)
	orders["labels"] = map[string]any{"namespace": ordersNamespace, "pod": ordersPod}
	self := job("prometheus/self")
	self["static_configs"] = append(self["static_configs"].([]any), map[string]any{"targets": []any{deadTarget}})
	workshop.ConfigMap(t, cfg, "processors", "k8smeta")["deleted_pod_grace_period"] = "1s"
	workshop.ConfigMap(t, cfg, "extensions", "remote_write_delivery")["max_age"] = "10s"
	return workshop.WriteConfig(t, t.TempDir(), cfg)
}

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// TestCollectorDashboardAndAlerts runs the workshop with the pods API
// k8smeta watches and a fault proxy in front of the AMP stand-in, then
// provokes, one after the other, every fault the collector dashboard and
// the alerting rules are about: 503s (retried), 400s (refused for good),
// an outage longer than max_age (retried, then expired), the orders pod
// deleted while its target is scraped (k8smeta misses), and the collector
// stopped. Every panel's queries must return data, the panels must show
// each fault by its code or reason, each alert must fire for its fault and
// none may be active before.
func TestCollectorDashboardAndAlerts(t *testing.T) {
	t.Parallel()
	started := time.Now()
	dead := freeAddr(t)
	w := startWorkshop(t, workshop.Options{
		ConfigPath: collectorTestConfig(t, dead),
		FaultProxy: true,
		PodsAPI:    true,
	})
	w.Pods().Add(ordersPodObject())
	prom := w.Prometheus()
	rules := alertRules(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// Healthy: enriched orders series through the pods API, k8smeta hits,
	// the collector's own metrics, the dead self-scrape target down.
	wait := func(what, promql string, cond func(model.Vector) bool) model.Vector {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		v, err := prom.WaitForQuery(c, promql, time.Second, cond)
		require.NoError(t, err, what)
		return v
	}
	nonEmpty := func(v model.Vector) bool { return len(v) > 0 }
	enriched := wait("orders series enriched from the pods API",
		`watch_orders_total{productId="*", namespace="orders", pod="`+ordersPod+`"}`, nonEmpty)
	require.Equal(t, model.LabelValue("orders"), enriched[0].Metric["workload"], "%v", enriched[0].Metric)
	require.Equal(t, model.LabelValue("Deployment"), enriched[0].Metric["workload_kind"], "%v", enriched[0].Metric)
	wait("k8smeta hits", `otelcol_k8smeta_associations_total{job="otelcol-eks", result="hit", source="datapoint_labels"} > 5`, nonEmpty)
	wait("the queue's gauges", `otelcol_remote_write_queue_oldest_age{job="otelcol-eks"}`, nonEmpty)
	wait("the dead self-scrape target", `up{job="otelcol-eks", instance="`+dead+`"} == 0`, nonEmpty)
	t.Logf("healthy and enriched %s after the start", time.Since(started).Round(time.Second))
	healthy := time.Now()
	requireQuiet(t, prom, rules, healthy, "OtelcolEksSelfScrapeDown")
	down := evalAlert(t, prom, rules["OtelcolEksSelfScrapeDown"], healthy)
	require.Len(t, down, 1, "OtelcolEksSelfScrapeDown: %v", down)
	require.Equal(t, model.LabelValue(dead), down[0].Metric["instance"])
	t.Logf("no alert active but OtelcolEksSelfScrapeDown for %s", dead)

	// Faults, one after the other, each until the collector has met it.
	faults := w.Faults()
	require.NoError(t, faults.Set(faultproxy.Status(http.StatusServiceUnavailable)))
	waitFor(t, 30*time.Second, "three 503 answers", func() bool { return faults.Stats().Injected[503] >= 3 })
	require.NoError(t, faults.Set(faultproxy.Status(http.StatusBadRequest)))
	waitFor(t, 30*time.Second, "two 400 answers", func() bool { return faults.Stats().Injected[400] >= 2 })
	require.NoError(t, faults.Set(faultproxy.Refuse()))
	waitFor(t, time.Minute, "a request to expire", func() bool {
		n, _ := selfMetric(t, w.CollectorMetricsURL(), "otelcol_remote_write_dropped_requests", map[string]string{"reason": "expired"})
		return n > 0
	})
	require.NoError(t, faults.Set(faultproxy.Pass()))
	// The pod goes once 40 scrapes found it: the first few scrapes of its
	// series that miss are then under 10 % of the lookups of the alert's
	// 10 minutes, the next ones above (below).
	wait("40 scrapes of k8smeta hits", `count_over_time(otelcol_k8smeta_associations_total{job="otelcol-eks", result="hit", source="datapoint_labels"}[10m]) >= 40`, nonEmpty)
	require.True(t, w.Pods().Delete(ordersNamespace, ordersPod))
	deleted := time.Now()
	t.Logf("faults provoked: %+v", faults.Stats())

	// A panel shows a fault when the series of its code or reason is above
	// zero: a line at 0 would hide it.
	shows := func(title string, label model.LabelName, want ...string) {
		t.Helper()
		q := collectorPanel(t, title)[0]
		wait(fmt.Sprintf("panel %s: %s %v above 0", title, label, want), q, func(v model.Vector) bool {
			for _, x := range want {
				if s := matching(v, model.LabelSet{label: model.LabelValue(x)}); s == nil || !(s.Value > 0) {
					return false
				}
			}
			return true
		})
	}
	shows("Answers by code", "code", "204", "503", "400", "none")
	shows("Retried by reason", "reason", "server_error", "connection")
	shows("Dropped requests by reason", "reason", "bad_request", "expired")
	shows("Associations", "result", "hit", "miss")

	// Each alert fires for its fault, with the labels that say which.
	lost := waitAlert(t, prom, rules["OtelcolEksRemoteWriteDataLost"], time.Minute, model.LabelSet{"reason": "expired", "cluster": clusterName})
	refused := waitAlert(t, prom, rules["OtelcolEksRemoteWriteRefused"], time.Minute, model.LabelSet{"reason": "bad_request", "cluster": clusterName})
	misses := waitAlert(t, prom, rules["OtelcolEksEnrichmentMisses"], time.Minute, model.LabelSet{"cluster": clusterName})
	t.Logf("firing: DataLost %v, Refused %v, EnrichmentMisses %v", lost, refused, misses)
	// ... and only for its fault: each drop under its own alert, no
	// credentials refused, no request 60s old (max_age is 10s here), the
	// collector reporting.
	now := time.Now()
	require.Nil(t, matching(evalAlert(t, prom, rules["OtelcolEksRemoteWriteDataLost"], now), model.LabelSet{"reason": "bad_request"}))
	require.Nil(t, matching(evalAlert(t, prom, rules["OtelcolEksRemoteWriteRefused"], now), model.LabelSet{"reason": "expired"}))
	for _, name := range []string{"OtelcolEksCredentialsRefused", "OtelcolEksRemoteWriteBehind", "OtelcolEksNotReporting"} {
		require.Empty(t, evalAlert(t, prom, rules[name], now), "%s after faults that are not its own", name)
	}
	// The miss ratio grew from 0 past 10 % after the pod was deleted:
	// every half second, the alert is active exactly when it is above.
	ratio := `sum by (cluster, instance) (rate(otelcol_k8smeta_associations_total{job="otelcol-eks", result="miss"}[10m]))
		/ sum by (cluster, instance) (rate(otelcol_k8smeta_associations_total{job="otelcol-eks"}[10m]))`
	below, above := 0, 0
	var moments []time.Time
	for at := deleted; at.Before(now); at = at.Add(500 * time.Millisecond) {
		moments = append(moments, at)
	}
	for _, at := range append(moments, now) {
		r, err := prom.Query(ctx, ratio, at)
		require.NoError(t, err)
		active := len(evalAlert(t, prom, rules["OtelcolEksEnrichmentMisses"], at)) > 0
		if len(r) == 0 {
			require.False(t, active, "OtelcolEksEnrichmentMisses at %s without misses", at)
			continue
		}
		require.Equal(t, float64(r[0].Value) > 0.1, active, "OtelcolEksEnrichmentMisses at %s, miss ratio %v", at, r[0].Value)
		if active {
			above++
		} else {
			below++
		}
	}
	t.Logf("OtelcolEksEnrichmentMisses: silent at %d moments with misses below 10 %%, active at %d above", below, above)
	require.Positive(t, below, "no moment with a few misses, below 10 percent")
	require.Positive(t, above)

	// Every panel returns data.
	for _, p := range collectorPanels(t, steadyInterval) {
		for _, q := range p.Exprs {
			wait("panel "+p.Title+": "+q, q, func(v model.Vector) bool {
				return slices.ContainsFunc(v, func(s *model.Sample) bool { return !math.IsNaN(float64(s.Value)) })
			})
		}
	}
	// Stopped, the collector reports nothing more: OtelcolEksNotReporting
	// holds once its last samples are older than Prometheus' 5-minute
	// lookback, as Prometheus evaluates it then.
	require.NoError(t, w.StopCollector())
	stopped := time.Now()
	notReporting := evalAlert(t, prom, rules["OtelcolEksNotReporting"], stopped.Add(6*time.Minute))
	require.NotNil(t, matching(notReporting, model.LabelSet{"cluster": clusterName}), "OtelcolEksNotReporting after the stop: %v", notReporting)
	require.Empty(t, evalAlert(t, prom, rules["OtelcolEksNotReporting"], stopped), "OtelcolEksNotReporting while the last samples are fresh")

	assertNoSecretInLogs(t, w, secretKey)
}
