//go:build e2e

// The end-to-end test of the local workshop: a real Prometheus behind the
// SigV4-checking AMP stand-in, the orders demo, and bin/otelcol-eks with
// configs/local.yaml (or $OTELCOL_EKS_BIN). Run with `make e2e`, i.e.
// go test -tags e2e ./test/e2e.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-eks/otelcol-eks/test/harness/ampstandin"
	"github.com/otelcol-eks/otelcol-eks/test/harness/ordersdemo"
	"github.com/otelcol-eks/otelcol-eks/test/harness/workshop"
)

const (
	accessKeyID = "AKIDE2EWORKSHOP"
	secretKey   = "e2e/Workshop+Secret/0123456789abcdefGHIJ"
	wrongSecret = "e2e/Wrong+Secret/9876543210zyxwvuTSRQPO"
	region      = "eu-central-1"
	clusterName = "e2e-cluster"
	// accountID starts with 0 and is all digits, to prove the external
	// label keeps what was written rather than a number's rendering.
	accountID = "012345678901"

	// A 1s scrape interval makes the test quick; 5 orders per second gives
	// the rate check 5 orders per scrape to work with.
	scrapeInterval  = time.Second
	ordersPerSecond = 5
)

func startWorkshop(t *testing.T, opts workshop.Options) *workshop.Workshop {
	t.Helper()
	opts.AccessKeyID, opts.SecretAccessKey = accessKeyID, secretKey
	opts.Region, opts.ClusterName, opts.AccountID = region, clusterName, accountID
	opts.ScrapeInterval = scrapeInterval
	opts.OrdersPerSecond = ordersPerSecond
	opts.Seed = 2024
	// Scraped every second, the orders' native histogram is in two requests
	// captured within the queue's in-flight spread; Prometheus 2.42 has no
	// out-of-order window for native histograms and would refuse the later
	// scrape's request whole if it arrived first (configs/local.yaml).
	opts.CollectorEnv = append(opts.CollectorEnv, "OTELCOL_LOG_ENCODING=json", "MAX_IN_FLIGHT=1")
	w, err := workshop.Start(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("collector log:\n%s", tail(withoutScrapeFailures(w.CollectorLog()), 8000))
			t.Logf("stand-in log:\n%s", tail(w.StandinLog(), 4000))
			t.Logf("prometheus log:\n%s", tail(w.PrometheusLog(), 4000))
		}
		require.NoError(t, w.Stop())
	})
	return w
}

// withoutScrapeFailures leaves out the receiver's line per failed scrape
// (one a second for a target that is down on purpose), saying how many.
func withoutScrapeFailures(log string) string {
	var b strings.Builder
	left := 0
	for _, line := range strings.SplitAfter(log, "\n") {
		if strings.Contains(line, "Failed to scrape Prometheus endpoint") {
			left++
			continue
		}
		b.WriteString(line)
	}
	fmt.Fprintf(&b, "(%d lines \"Failed to scrape Prometheus endpoint\" left out)\n", left)
	return b.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// dashboardQueries returns the dashboard's queries by panel title, read from
// the JSON file the workshop's users import.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	q := map[string]string{}
	for _, p := range readPanels(t, DashboardPath, nil) {
		require.Len(t, p.Exprs, 1, "panel %q", p.Title)
		q[p.Title] = p.Exprs[0]
	}
	require.Len(t, q, 3)
	return q
}

// waitFor polls cond every 100ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "timed out after %s waiting for %s", timeout, what)
		time.Sleep(100 * time.Millisecond)
	}
}

func postState(t *testing.T, url string) ordersdemo.StateResponse {
	t.Helper()
	resp, err := http.Post(url, "", nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var st ordersdemo.StateResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	return st
}

func byProduct(v model.Vector) map[string]float64 {
	m := make(map[string]float64, len(v))
	for _, s := range v {
		m[string(s.Metric["productId"])] = float64(s.Value)
	}
	return m
}

func assertNoSecretInLogs(t *testing.T, w *workshop.Workshop, secrets ...string) {
	t.Helper()
	logs := map[string]string{
		"collector": w.CollectorLog(), "stand-in": w.StandinLog(), "prometheus": w.PrometheusLog(),
	}
	require.NotEmpty(t, logs["collector"], "the collector logged nothing")
	require.NotEmpty(t, logs["prometheus"], "prometheus logged nothing")
	for name, log := range logs {
		for _, s := range secrets {
			require.NotContains(t, log, s, "%s log holds a secret access key", name)
		}
	}
}

// TestDashboardQueriesMatchDemo checks that what reaches Prometheus through
// the collector and the SigV4 check answers the dashboard's three queries
// with exactly what the demo service reports.
func TestDashboardQueriesMatchDemo(t *testing.T) {
	t.Parallel()
	w := startWorkshop(t, workshop.Options{})
	prom := w.Prometheus()
	queries := dashboardQueries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// Order Rate, while orders flow. rate() divides the increase it finds
	// by the whole 2m range, so it reads low until the series is older than
	// that: wait until there are samples just beyond the window (more in
	// [2m5s] than in [2m]). Then rate() extrapolates the first and last
	// samples to the window's edges, exact for a counter growing linearly.
	// What is left: the generator keeps its pace against the wall clock, so
	// the increase over the ~600 orders of the window is exact within ±1
	// order of rounding and ±1 generator tick (200ms, 1 order) of scrape
	// jitter at each end, under 1%. ±10% also absorbs stalls of a loaded
	// 2-core CI machine (a stall over 1s is not made up: 10% is 12s of
	// stalls in 2m), and still fails for a rate doubled, halved or zero.
	first, cancelFirst := context.WithTimeout(ctx, time.Minute)
	defer cancelFirst()
	_, err := prom.WaitForQuery(first, queries["Order Count"], 0, func(v model.Vector) bool { return len(v) > 0 })
	require.NoError(t, err, "no orders reached Prometheus within a minute; stand-in: %+v", w.Standin().Stats())
	covered := `count_over_time(watch_orders_total{productId="*"}[125s]) - count_over_time(watch_orders_total{productId="*"}[2m])`
	_, err = prom.WaitForQuery(ctx, covered, time.Second,
		func(v model.Vector) bool { return len(v) == 1 && v[0].Value > 0 })
	require.NoError(t, err)
	rate, err := prom.Query(ctx, queries["Order Rate"], time.Time{})
	require.NoError(t, err)
	require.Len(t, rate, 1, "Order Rate: %v", rate)
	require.Equal(t, model.Metric{"productId": "*"}, rate[0].Metric)
	t.Logf("Order Rate: %v orders/s (demo: %v)", rate[0].Value, ordersPerSecond)
	require.InEpsilon(t, float64(ordersPerSecond), float64(rate[0].Value), 0.10, "Order Rate")

	// Orders by Product and Order Count: pause the demo, wait until
	// Prometheus has the paused count, then compare everything exactly.
	paused := postState(t, w.Orders().URL()+"/pause")
	require.True(t, paused.Paused)
	require.Positive(t, paused.Orders)
	count, err := prom.WaitForQuery(ctx, queries["Order Count"], 0, func(v model.Vector) bool {
		return len(v) == 1 && float64(v[0].Value) == float64(paused.Orders)
	})
	require.NoError(t, err, "Order Count never reached the paused demo's %d orders", paused.Orders)
	require.Equal(t, model.Metric{"productId": "*"}, count[0].Metric)

	// One scrape is one remote-write request, appended at once: once the
	// count is the paused one, so is everything else of that scrape.
	products, err := prom.Query(ctx, queries["Orders by Product"], time.Time{})
	require.NoError(t, err)
	want := map[string]float64{}
	for id, q := range paused.Products {
		want[id] = float64(q)
	}
	require.Equal(t, want, byProduct(products), "Orders by Product")
	require.Len(t, want, len(ordersdemo.DefaultCatalogue()), "every product should have been ordered")
	total, err := prom.Query(ctx, `watch_orderTotal`, time.Time{})
	require.NoError(t, err)
	require.Len(t, total, 1)
	require.Equal(t, paused.OrderTotal, float64(total[0].Value), "watch_orderTotal")

	// Every series carries job, instance and the workshop's external labels.
	series, err := prom.Query(ctx, `watch_orders_total`, time.Time{})
	require.NoError(t, err)
	require.Len(t, series, len(want)+1)
	for _, s := range series {
		require.Equal(t, model.LabelValue("orders"), s.Metric["job"], "%v", s.Metric)
		require.Equal(t, model.LabelValue(w.Orders().Addr()), s.Metric["instance"], "%v", s.Metric)
		require.Equal(t, model.LabelValue(clusterName), s.Metric["cluster"], "%v", s.Metric)
		require.Equal(t, model.LabelValue(accountID), s.Metric["account_id"], "%v", s.Metric)
		require.Equal(t, model.LabelValue(region), s.Metric["region"], "%v", s.Metric)
	}

	st := w.Standin().Stats()
	require.Zero(t, st.RejectedTotal, "stand-in rejected requests: %v", st.Rejected)
	require.Positive(t, st.Accepted)
	for code, n := range st.Upstream {
		require.True(t, strings.HasPrefix(code, "2"), "Prometheus answered %s to %d requests", code, n)
	}

	// The collector's own metrics arrive as everything else does, and a
	// healthy run wakes nobody.
	self, err := prom.Query(ctx, `up{job="otelcol-eks"}`, time.Time{})
	require.NoError(t, err)
	require.Len(t, self, 1, "one collector")
	require.Equal(t, model.SampleValue(1), self[0].Value)
	for k, v := range map[model.LabelName]string{"cluster": clusterName, "account_id": accountID, "region": region} {
		require.Equal(t, model.LabelValue(v), self[0].Metric[k], "%v", self[0].Metric)
	}
	requireQuiet(t, prom, alertRules(t), time.Time{})

	require.NoError(t, w.StopCollector())
	assertNoSecretInLogs(t, w, secretKey)
	require.NotContains(t, w.CollectorLog(), "failed to send WriteRequest")
}

// collectorLogLine is the part of a collector JSON log line the test reads.
type collectorLogLine struct {
	Msg            string `json:"msg"`
	StatusCode     int    `json:"status_code"`
	Reason         string `json:"reason"`
	BackendMessage string `json:"backend_message"`
	Hint           string `json:"hint"`
	Occurrences    int64  `json:"occurrences_since_last_log"`
	QueuedRequests int64  `json:"queued_requests"`
}

// collectorLogLines returns the JSON lines of log whose msg is msg.
func collectorLogLines(t *testing.T, log, msg string) []collectorLogLine {
	t.Helper()
	var out []collectorLogLine
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var l collectorLogLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == msg {
			out = append(out, l)
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// remote_write_delivery's defaults, which configs/local.yaml keeps.
const (
	deliveryLogInterval = time.Minute      // log_interval
	credentialsInterval = 30 * time.Second // retry::credentials_interval
	// behindAge is how old the oldest queued request gets before the
	// collector restarts with the right secret: past the 60s of the
	// OtelcolEksRemoteWriteBehind alert.
	behindAge = 70
)

// credentialsRefused is the error line of remote_write_delivery for a 401
// or 403.
const credentialsRefused = "remote-write backend refuses the credentials: requests stay queued (until max_age or max_size_mib) and are retried every retry::credentials_interval"

// TestWrongSecretKeepsTheData checks a collector signing with the wrong
// secret end to end: AMP (the stand-in) answers 403 and accepts nothing;
// the collector retries about every credentials_interval, not once per
// scrape; it logs the refusal at most once per log_interval with AMP's
// reason and what to check (the signing region and service, the access key
// id, where the credentials come from); its queue holds the scrapes, older
// and older. Restarted with the right secret on the same queue directory,
// as a pod's container is after the secret is fixed, it delivers
// everything scraped during the refusals, in order: Prometheus holds one
// sample per scrape of the first run. The delivered data then show the
// refusal as the collector dashboard and the alerting rules see it.
func TestWrongSecretKeepsTheData(t *testing.T) {
	t.Parallel()
	started := time.Now()
	w := startWorkshop(t, workshop.Options{CollectorSecretAccessKey: wrongSecret})
	prom := w.Prometheus()
	rules := alertRules(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// Nothing reaches Prometheus: the one alert that can see it is
	// OtelcolEksNotReporting, through absent().
	notReporting := evalAlert(t, prom, rules["OtelcolEksNotReporting"], time.Time{})
	require.Len(t, notReporting, 1, "OtelcolEksNotReporting: %v", notReporting)
	require.Equal(t, model.Metric{"job": "otelcol-eks"}, notReporting[0].Metric)

	// The queue holds the scrapes, its oldest request older and older (the
	// collector's own telemetry endpoint says it: none of its metrics can
	// reach Prometheus now).
	self := func(name string, labels map[string]string) float64 {
		v, _ := selfMetric(t, w.CollectorMetricsURL(), name, labels)
		return v
	}
	waitFor(t, 3*time.Minute, fmt.Sprintf("the oldest queued request to be %ds old", behindAge), func() bool {
		return self("otelcol_remote_write_queue_oldest_age", nil) >= behindAge
	})
	behind := time.Now()
	queued := self("otelcol_remote_write_queue_requests", nil)
	require.GreaterOrEqual(t, queued, float64(behindAge/2), "queued requests after %ds of scrapes every %s", behindAge, scrapeInterval)
	require.Positive(t, self("otelcol_remote_write_queue_bytes", nil))
	require.Zero(t, self("otelcol_remote_write_sent_requests", nil))
	t.Logf("after %s: %v requests queued, %v credentials retries", time.Since(started).Round(time.Second),
		queued, self("otelcol_remote_write_retried_requests", map[string]string{"reason": "credentials"}))

	// Stopped, the collector has logged all it will, and the counters are final.
	require.NoError(t, w.StopCollector())
	stopped := time.Now()
	elapsed := stopped.Sub(started)
	scrapes := w.Orders().Scrapes()
	st := w.Standin().Stats()
	require.Zero(t, st.Accepted)
	require.Equal(t, map[string]int64{"signature_mismatch": st.RejectedTotal}, st.Rejected)
	require.Empty(t, st.Upstream, "nothing may reach Prometheus")
	// The requests in flight (up to max_in_flight, captured within 2 s of
	// the first) were retried together, once per pause of the whole queue
	// (its one retry clock: credentials_interval, each pause drawn between
	// half and all of it), while the orders alone were scraped every second.
	require.GreaterOrEqual(t, st.MostRejectionsOfOneRequest, int64(elapsed/credentialsInterval), "the request must be retried")
	require.LessOrEqual(t, st.MostRejectionsOfOneRequest, 1+int64(elapsed/(credentialsInterval/2)),
		"more attempts of one request than one per credentials_interval/2 (%d scrapes, %d refusals in all)", scrapes, st.RejectedTotal)

	log := w.CollectorLog()
	require.NotContains(t, log, "failed to send WriteRequest", "the exporter sees the queue, never the 403")
	refused := collectorLogLines(t, log, credentialsRefused)
	require.NotEmpty(t, refused)
	require.LessOrEqual(t, len(refused), 1+int(elapsed/deliveryLogInterval))
	var occurrences int64
	for _, l := range refused {
		require.Equal(t, http.StatusForbidden, l.StatusCode)
		require.Equal(t, "credentials", l.Reason)
		require.Contains(t, l.BackendMessage, "The request signature we calculated does not match")
		require.Contains(t, l.Hint, `signed for region "`+region+`", service "aps"`)
		require.Contains(t, l.Hint, "access key id "+accessKeyID)
		require.Contains(t, l.Hint, "static keys from the environment")
		occurrences += l.Occurrences
	}
	require.LessOrEqual(t, occurrences, st.RejectedTotal)
	// The stand-in, like AMP's logs, names the reason, once per interval.
	standinLogs := strings.Count(w.StandinLog(), "rejected remote-write request")
	require.Equal(t, standinLogs, strings.Count(w.StandinLog(), "reason=signature_mismatch"))
	require.Positive(t, standinLogs)
	require.LessOrEqual(t, standinLogs, 1+int(elapsed/ampstandin.DefaultLogInterval))
	all, err := prom.Query(ctx, `count({__name__=~".+"})`, time.Time{})
	require.NoError(t, err)
	require.Empty(t, all, "Prometheus holds series")

	// The right secret, the same queue directory.
	require.NoError(t, w.StartCollector(ctx, secretKey))
	opened := collectorLogLines(t, w.CollectorLog(), "remote-write queue opened")
	require.Len(t, opened, 2, "one line per start")
	require.GreaterOrEqual(t, float64(opened[1].QueuedRequests), queued, "the restarted collector found the queue")

	// One sample per scrape of the first run, each series in order (else
	// Prometheus would have refused it), nothing refused on the way.
	window := fmt.Sprintf("%ds", int(elapsed/time.Second)+5)
	for _, q := range []string{`count_over_time(up{job="orders"}[` + window + `])`, `count_over_time(watch_orders_total{productId="*"}[` + window + `])`} {
		var got model.Vector
		waitFor(t, 2*time.Minute, q+" = the first run's scrapes", func() bool {
			got, err = prom.Query(ctx, q, stopped)
			require.NoError(t, err)
			return len(got) == 1 && int64(got[0].Value) >= scrapes
		})
		require.Equal(t, float64(scrapes), float64(got[0].Value), "%s at the first run's stop", q)
	}
	st = w.Standin().Stats()
	require.Equal(t, map[string]int64{"signature_mismatch": st.RejectedTotal}, st.Rejected, "no new refusal")
	for code, n := range st.Upstream {
		require.True(t, strings.HasPrefix(code, "2"), "Prometheus answered %s to %d requests", code, n)
	}
	t.Logf("delivered after the restart: %d scrapes of the refused run, %d requests accepted", scrapes, st.Accepted)

	// What the delivered data say about the refused run, at the moment its
	// oldest request was behindAge old: the alerts were active, and the
	// dashboard shows the 403s, the credentials retries and the queue.
	for _, name := range []string{"OtelcolEksRemoteWriteBehind", "OtelcolEksCredentialsRefused"} {
		active := evalAlert(t, prom, rules[name], behind)
		require.NotNil(t, matching(active, model.LabelSet{"cluster": clusterName}), "%s at %s: %v", name, behind, active)
	}
	panel := func(title string) model.Vector {
		v, err := prom.Query(ctx, collectorPanel(t, title)[0], behind)
		require.NoError(t, err)
		return v
	}
	for title, want := range map[string]model.LabelSet{"Answers by code": {"code": "403"}, "Retried by reason": {"reason": "credentials"}} {
		s := matching(panel(title), want)
		require.True(t, s != nil && s.Value > 0, "panel %s at %s: %v, want %v above 0", title, behind, s, want)
	}
	age := panel("Oldest queued request")
	require.NotEmpty(t, age)
	require.GreaterOrEqual(t, float64(age[0].Value), float64(behindAge-scrapeInterval/time.Second-1))
	require.NotEmpty(t, panel("Queued requests"))
	require.Positive(t, float64(panel("Queued requests")[0].Value))

	require.NoError(t, w.StopCollector())
	assertNoSecretInLogs(t, w, secretKey, wrongSecret)
}
