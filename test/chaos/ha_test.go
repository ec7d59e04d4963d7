//go:build chaos

package chaos

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/otelcol-eks/otelcol-eks/test/e2e"
	"github.com/otelcol-eks/otelcol-eks/test/harness/ampstandin"
	"github.com/otelcol-eks/otelcol-eks/test/harness/faultproxy"
	"github.com/otelcol-eks/otelcol-eks/test/harness/ordersdemo"
	"github.com/otelcol-eks/otelcol-eks/test/harness/synthtarget"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/kubeapiserver"
	"github.com/otelcol-eks/otelcol-eks/test/harness/workshop"
)

// The HA pair of deploy/ha, run as two collectors with the configuration
// kustomize builds, against the stand-in with AMP's deduplication on.
const (
	// haCluster is the pair's `cluster` label: suiteEnv's EKS_CLUSTER_NAME.
	haCluster = "chaos"
	// haFailover is the stand-in's failover timeout (AMP's is 30 s).
	haFailover = 3 * time.Second
	// haInterval is every scrape interval of the pair (shipped: 60 s).
	haInterval = time.Second
	// haBatchTimeout is the shipped batch processor's timeout: the longest
	// a sample waits in a replica before the request carrying it is sent,
	// so the leader's last stored sample of a series may be that much (and
	// a scrape interval) older than its last request, from whose arrival
	// AMP's failover timeout counts.
	haBatchTimeout = 100 * time.Millisecond
	// haRateInterval is Grafana's $__rate_interval for the collector
	// dashboard's queries.
	haRateInterval = "20s"
	// workloadQueue is the queue of the workload's exporter; the pair's own
	// metrics have remote_write_delivery/self.
	workloadQueue = "remote_write_delivery"
)

// haReplicaNames are the pods of the pair (POD_NAME, the `__replica__` and
// `instance` labels), shaped as a Deployment names them.
var haReplicaNames = []string{"otelcol-eks-collector-6f9c8d7b5-a4kq2", "otelcol-eks-collector-6f9c8d7b5-x7p2m"}

// haShippedConfig returns the collector configuration of deploy/ha as
// deploy/README.md builds it (kustomize, from a copy of deploy/ holding the
// environment file the README writes first): the OpenTelemetryCollector's
// spec.config, `${env:...}` references unresolved.
func haShippedConfig(t testing.TB) map[string]any {
	t.Helper()
	kustomize, err := kubeapiserver.Kustomize()
	require.NoError(t, err)
	deploy := filepath.Join(t.TempDir(), "deploy")
	require.NoError(t, os.CopyFS(deploy, os.DirFS(filepath.Join(repoRoot(t), "deploy"))))
	env := fmt.Sprintf("EKS_CLUSTER_NAME=%s\nAWS_ACCOUNT_ID=123456789012\nAWS_REGION=%s\nAMP_ENDPOINT=https://aps-workspaces.%s.amazonaws.com/workspaces/%s/\n",
		haCluster, testRegion, testRegion, testWorkspace)
	require.NoError(t, os.WriteFile(filepath.Join(deploy, "base", "environment.env"), []byte(env), 0o600))
	out, err := exec.Command(kustomize, "build", filepath.Join(deploy, "ha")).CombinedOutput()
	require.NoError(t, err, "kustomize build deploy/ha: %s", out)
	for _, doc := range strings.Split(string(out), "\n---\n") {
		var o map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(doc), &o))
		if o["kind"] == "OpenTelemetryCollector" {
			return o["spec"].(map[string]any)["config"].(map[string]any)
		}
	}
	t.Fatal("kustomize build deploy/ha: no OpenTelemetryCollector")
	return nil
}

// pairTargets serves synthetic targets to both collectors of the pair at
// one address each, as a pod is scraped by both replicas, and records
// which replica each scrape went to: a replica names itself in its scrape
// URL (the `replica` parameter of its scrape config).
type pairTargets struct {
	set   *synthtarget.Set
	addrs []string
	mu    sync.Mutex
	// served holds each replica's scrapes, by pod.
	served map[string]map[string][]synthtarget.Scrape
	// owner names the replica each scrape went to.
	owner map[scrapeKey]string
}

func startPairTargets(t testing.TB, targets, labelSets int) *pairTargets {
	t.Helper()
	p := &pairTargets{set: startTargets(t, targets, labelSets), served: map[string]map[string][]synthtarget.Scrape{}, owner: map[scrapeKey]string{}}
	for _, target := range p.set.Targets() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		srv := &http.Server{Handler: p.handler(target), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		p.addrs = append(p.addrs, ln.Addr().String())
	}
	return p
}

// handler serves target, one scrape at a time so that the scrape it
// served is the target's last.
func (p *pairTargets) handler(target *synthtarget.Target) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		before := len(target.Served())
		target.ServeHTTP(w, r)
		served := target.Served()
		if len(served) == before {
			return
		}
		sc, replica := served[len(served)-1], r.URL.Query().Get("replica")
		if p.served[replica] == nil {
			p.served[replica] = map[string][]synthtarget.Scrape{}
		}
		p.served[replica][target.Pod()] = append(p.served[replica][target.Pod()], sc)
		p.owner[scrapeKey{target.Pod(), sc.Seq}] = replica
	})
}

// servedTo returns the scrapes served to replica at from or later.
func (p *pairTargets) servedTo(replica string, from time.Time) served {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := served{byPod: map[string][]synthtarget.Scrape{}}
	for pod, scrapes := range p.served[replica] {
		for _, sc := range scrapes {
			if !sc.At.Before(from) {
				s.byPod[pod] = append(s.byPod[pod], sc)
			}
		}
	}
	return s
}

func (p *pairTargets) ownerOf(pod string, seq int64) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.owner[scrapeKey{pod, seq}]
}

// haReplica is one collector of the pair. Its name, directory (queues
// included) and ports are kept across restarts, as a pod keeps them
// across its container's restarts.
type haReplica struct {
	name, dir, cfgPath string
	env                []string
	healthPort         int
	metricsPort        int
	c                  *collector
}

// haPair is the HA pair at work: the stand-in with deduplication on, the
// synthetic targets and the orders demo, both replicas scraping them.
type haPair struct {
	b        *backend
	targets  *pairTargets
	orders   *ordersdemo.Server
	replicas map[string]*haReplica
}

// startHAPair starts everything and returns once a leader is elected,
// every target's samples are stored and both collectors' own metrics are.
func startHAPair(t *testing.T) *haPair {
	t.Helper()
	p := &haPair{
		b:        startBackendWith(t, backendOptions{HA: ampstandin.HAConfig{Enabled: true, FailoverTimeout: haFailover}}),
		targets:  startPairTargets(t, 4, 10),
		replicas: map[string]*haReplica{},
	}
	var err error
	p.orders, err = ordersdemo.Start(context.Background(), ordersdemo.Config{Listen: "127.0.0.1:0",
		Generator: ordersdemo.GeneratorConfig{OrdersPerSecond: 5, Seed: 2024}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.orders.Close() })
	shipped := haShippedConfig(t)
	for _, name := range haReplicaNames {
		r := &haReplica{name: name, dir: t.TempDir(), healthPort: freePort(t), metricsPort: freePort(t)}
		r.cfgPath = workshop.WriteConfig(t, r.dir, haReplicaConfig(t, shipped, r, p.targets.addrs, p.orders.Addr()))
		r.env = append(suiteEnv(r.dir),
			"AMP_ENDPOINT="+p.b.ampEndpoint(),
			"OTELCOL_STORAGE_DIR="+filepath.Join(r.dir, "storage"),
			// What the pod gives it: the operator injects POD_NAME, and
			// HOSTNAME is the pod's name.
			"POD_NAME="+name,
			"HOSTNAME="+name,
		)
		p.replicas[name] = r
		r.start(t)
	}
	waitFor(t, time.Minute, "a leader", func() bool { return p.leader() != "" })
	p.b.waitFirstDelivery(t, p.targets.set)
	p.waitSelf(t, haReplicaNames...)
	t.Logf("%s pair running, %s leads", time.Now().Format("15:04:05.000"), p.leader())
	return p
}

// haReplicaConfig adapts the shipped HA configuration to this machine and
// nothing else: the synthetic targets (each replica naming itself in the
// scrape URL) and the orders demo instead of Kubernetes discovery; every
// scrape each second; loopback ports of its own; no k8smeta (there is no
// Kubernetes API here) and no pprof (the other replica has its port); and
// the orders demo's histogram scraped classic only: scraped every second
// (the shipped configuration scrapes every 60 s), two of its scrapes are
// in requests in flight together (remote_write_delivery's inFlightSpread),
// and the stand-in's Prometheus 2.42, unlike its floats, refuses a native
// histogram out of order, and the whole request with it.
// The exporters, queues, batching, pipelines and external labels are the
// shipped ones.
func haReplicaConfig(t testing.TB, shipped map[string]any, r *haReplica, targets []string, orders string) map[string]any {
	t.Helper()
	raw, err := yaml.Marshal(shipped)
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &cfg))

	scrape := workshop.ConfigMap(t, cfg, "receivers", "prometheus", "config")
	global := workshop.ConfigMap(t, scrape, "global")
	global["scrape_interval"], global["scrape_timeout"] = haInterval.String(), haInterval.String()
	require.Equal(t, true, global["scrape_native_histograms"], "the shipped configuration scrapes native histograms")
	global["scrape_native_histograms"] = false
	scrape["scrape_configs"] = []any{
		map[string]any{"job_name": "synth", "scrape_interval": haInterval.String(), "scrape_timeout": haInterval.String(),
			"params": map[string]any{"replica": []any{r.name}}, "static_configs": []any{map[string]any{"targets": targets}}},
		map[string]any{"job_name": "orders", "scrape_interval": haInterval.String(), "scrape_timeout": haInterval.String(),
			"metrics_path": ordersdemo.MetricsPath, "static_configs": []any{map[string]any{"targets": []any{orders}}}},
	}
	selfJobs := workshop.ConfigMap(t, cfg, "receivers", "prometheus/self", "config")["scrape_configs"].([]any)
	require.Len(t, selfJobs, 1)
	self := selfJobs[0].(map[string]any)
	self["scrape_interval"] = haInterval.String()
	self["static_configs"] = []any{map[string]any{"targets": []any{fmt.Sprintf("127.0.0.1:%d", r.metricsPort)}}}
	readers := workshop.ConfigMap(t, cfg, "service", "telemetry", "metrics")["readers"].([]any)
	require.Len(t, readers, 1)
	prom := workshop.ConfigMap(t, readers[0].(map[string]any), "pull", "exporter", "prometheus")
	prom["host"], prom["port"] = "127.0.0.1", r.metricsPort

	delete(workshop.ConfigMap(t, cfg, "processors"), "k8smeta")
	metrics := workshop.ConfigMap(t, cfg, "service", "pipelines", "metrics")
	metrics["processors"] = without(metrics["processors"].([]any), "k8smeta")
	extensions := workshop.ConfigMap(t, cfg, "extensions")
	delete(extensions, "pprof")
	workshop.ConfigMap(t, extensions, "health_check")["endpoint"] = fmt.Sprintf("127.0.0.1:%d", r.healthPort)
	service := workshop.ConfigMap(t, cfg, "service")
	service["extensions"] = without(service["extensions"].([]any), "pprof")
	return cfg
}

// without returns list without the string s.
func without(list []any, s string) []any {
	return slices.DeleteFunc(slices.Clone(list), func(v any) bool { return v == s })
}

// start runs the replica's collector (again) and waits until it is healthy.
func (r *haReplica) start(t testing.TB) {
	t.Helper()
	r.c = runCollectorProcess(t, "collector "+r.name+" "+t.Name(), r.healthPort, r.metricsPort,
		collectorBinary(t), []string{"--config", r.cfgPath}, r.env)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, r.c.waitHealthy(ctx), "%s did not become healthy", r.name)
}

// elections returns the stand-in's log lines of t's leader elections.
func elections(t testing.TB) []string {
	logs.Lock()
	defer logs.Unlock()
	var out []string
	for _, c := range logs.all {
		if c.name == "standin "+t.Name() {
			for _, line := range strings.Split(c.String(), "\n") {
				if strings.Contains(line, "HA leader elected") {
					out = append(out, line)
				}
			}
		}
	}
	return out
}

// leader is the replica the stand-in stores, "" before the first request.
func (p *haPair) leader() string { return p.b.standin.Stats().HA.Leaders[haCluster] }

// other is the replica that is not name.
func (p *haPair) other(name string) string {
	for n := range p.replicas {
		if n != name {
			return n
		}
	}
	return ""
}

// waitSelf waits until Prometheus has the own metrics of every named
// collector, labelled as the dashboards select them.
func (p *haPair) waitSelf(t testing.TB, names ...string) {
	t.Helper()
	q := fmt.Sprintf(`up{job="otelcol-eks", cluster=%q}`, haCluster)
	waitFor(t, time.Minute, "the own metrics of "+strings.Join(names, ", "), func() bool {
		v, err := p.b.prom.Query(context.Background(), q, time.Time{})
		if err != nil {
			return false
		}
		for _, n := range names {
			if !slices.ContainsFunc(v, func(s *model.Sample) bool { return string(s.Metric["instance"]) == n }) {
				return false
			}
		}
		return true
	})
}

// cpuSeconds is the CPU time (user and system) the process has used.
func cpuSeconds(t testing.TB, pid int) float64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	// The fields after the command name, which ends with the last ')':
	// utime and stime are the 12th and 13th, in clock ticks (100 a second).
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	utime, err := strconv.ParseFloat(fields[11], 64)
	require.NoError(t, err)
	stime, err := strconv.ParseFloat(fields[12], 64)
	require.NoError(t, err)
	return (utime + stime) / 100
}

// haSeriesCheck is what one stored series says about the deduplication.
type haSeriesCheck struct {
	// maxGap is the longest time between two consecutive samples.
	maxGap time.Duration
	// owners lists the replicas its samples were scraped by, in time
	// order, each run of one replica once.
	owners []string
	// overlap is how far the samples of the replicas before the last one
	// reach past the last one's first sample (0 when they do not).
	overlap time.Duration
}

// checkHASeries reads every stored synthetic sample: no series may carry
// __replica__, every sample must be of a scrape served to a replica. It
// returns each series' check by its labels.
func (p *haPair) checkHASeries(t testing.TB) map[string]haSeriesCheck {
	t.Helper()
	m, err := p.b.rawSamples(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, m)
	out := map[string]haSeriesCheck{}
	for _, ss := range m {
		require.NotContains(t, ss.Metric, model.LabelName(ampstandin.HAReplicaLabel), "stored with the replica label")
		require.Equal(t, model.LabelValue(haCluster), ss.Metric["cluster"], "%v", ss.Metric)
		var c haSeriesCheck
		pod, name, le := string(ss.Metric["pod"]), string(ss.Metric[model.MetricNameLabel]), string(ss.Metric["le"])
		owners := make([]string, len(ss.Values))
		for i, v := range ss.Values {
			if i > 0 {
				c.maxGap = max(c.maxGap, v.Timestamp.Time().Sub(ss.Values[i-1].Timestamp.Time()))
			}
			seq, ok := synthtarget.SeqOf(name, le, float64(v.Value))
			require.True(t, ok, "%v: a value no scrape served: %v", ss.Metric, v)
			owners[i] = p.targets.ownerOf(pod, seq)
			require.NotEmpty(t, owners[i], "%v: scrape %d of %s was served to no replica", ss.Metric, seq, pod)
			if len(c.owners) == 0 || c.owners[len(c.owners)-1] != owners[i] {
				c.owners = append(c.owners, owners[i])
			}
		}
		last := owners[len(owners)-1]
		first := ss.Values[slices.Index(owners, last)].Timestamp
		for i, o := range owners {
			if o != last {
				c.overlap = max(c.overlap, ss.Values[i].Timestamp.Time().Sub(first.Time()))
			}
		}
		out[ss.Metric.String()] = c
	}
	return out
}

// TestHAFailover runs the HA pair (deploy/ha) into the stand-in with AMP's
// deduplication on, then SIGKILLs the leader for good. The standby takes
// over once the leader has been silent for the failover timeout; in every
// stored series two consecutive samples are at most that timeout plus two
// scrape intervals apart, plus the batch timeout the leader's last samples
// spent in memory before AMP's timer started; each series holds the
// leader's samples and then the standby's, never both replicas' of one
// moment, and no __replica__ label. The dashboards' PromQL is unchanged:
// the orders dashboard answers exactly what the demo reports, and the
// collector dashboard shows both collectors, the standby too (its own
// metrics go in requests without __replica__, which AMP does not
// deduplicate).
func TestHAFailover(t *testing.T) {
	t.Parallel()
	start := time.Now()
	p := startHAPair(t)
	leader := p.leader()
	standby := p.other(leader)
	cpu, sent := map[string]float64{}, map[string]float64{}
	sentBytes := func(r *haReplica) float64 {
		n, err := r.c.metric("otelcol_remote_write_sent_bytes")
		require.NoError(t, err)
		return n
	}
	for n, r := range p.replicas {
		cpu[n], sent[n] = cpuSeconds(t, r.c.Pid()), sentBytes(r)
	}
	samples := p.b.standin.Stats().HA.Samples
	steadyFrom := time.Now()
	// Long enough for the dashboards' 20 s rates over both collectors.
	runFor(t, p.replicas[standby].c, 20*time.Second)
	both := time.Now()
	steady := both.Sub(steadyFrom).Seconds()
	after := p.b.standin.Stats().HA.Samples
	for n, r := range p.replicas {
		t.Logf("cost: %s (%s) used %.3f CPU seconds per second and sent %.0f bytes per second", n,
			map[bool]string{true: "leader", false: "standby"}[n == leader], (cpuSeconds(t, r.c.Pid())-cpu[n])/steady, (sentBytes(r)-sent[n])/steady)
	}
	t.Logf("cost: AMP stored %.0f samples/s, deduplicated %.0f/s, undeduplicated (the collectors' own) %.0f/s",
		float64(after["leader"]-samples["leader"])/steady, float64(after["deduplicated"]-samples["deduplicated"])/steady,
		float64(after["not_ha"]-samples["not_ha"])/steady)
	requireQueueGauges(t, p.replicas[leader].c)

	// The replica killed must be the one the stand-in stores: one election
	// so far, of the leader read at the start.
	elected := p.b.standin.Stats().HA
	require.Equal(t, int64(1), elected.LeaderChanges[haCluster], "the lead changed hands before the kill (%s led at the start): %+v; elections:\n%s",
		leader, elected, strings.Join(elections(t), "\n"))
	p.replicas[leader].c.kill()
	killedAt := time.Now()
	t.Logf("%s leader %s killed (SIGKILL) for good", killedAt.Format("15:04:05.000"), leader)
	runFor(t, p.replicas[standby].c, haFailover+8*time.Second)
	st := p.b.standin.Stats().HA
	require.Equal(t, standby, st.Leaders[haCluster], "the standby leads after the leader's silence")
	require.Equal(t, int64(2), st.LeaderChanges[haCluster], "one election, one failover: %+v", st)

	// Stored: the leader's samples, then the standby's; the gap between
	// them bounded. Let R_L be the arrival of the leader's last request.
	// The leader scrapes the series every interval and sends a sample at
	// most a batch timeout after its scrape, so its last stored sample t_L
	// is at least R_L − interval − batch timeout. AMP takes the standby's
	// requests from R_L + failover timeout on, and the standby's first
	// scrape of the series after that moment is in such a request, so its
	// first stored sample t_S is before R_L + failover timeout + interval
	// (earlier when that request also carries scrapes from before that
	// moment). Hence
	// t_S − t_L < 2·interval + failover timeout + batch timeout.
	bound := haInterval + haFailover + haInterval + haBatchTimeout
	var longest time.Duration
	var longestSeries string
	for series, c := range p.checkHASeries(t) {
		require.LessOrEqual(t, len(c.owners), 2, "%s: samples of both replicas interleaved (%v): stored twice", series, c.owners)
		require.Zero(t, c.overlap, "%s: the standby's samples overlap the leader's", series)
		require.Equal(t, standby, c.owners[len(c.owners)-1], "%s: the standby's samples after the failover", series)
		if len(c.owners) == 2 {
			require.Equal(t, leader, c.owners[0], series)
		}
		if c.maxGap > longest {
			longest, longestSeries = c.maxGap, series
		}
	}
	t.Logf("longest time between two samples %s: %s without a sample beyond the interval (bound: failover timeout %s + scrape interval %s + batch timeout %s), in %s",
		longest, longest-haInterval, haFailover, haInterval, haBatchTimeout, longestSeries)
	require.LessOrEqual(t, longest, bound, "the failover left a series without samples for longer than the failover timeout, one scrape interval and one batch timeout")
	require.Greater(t, longest, haFailover/2, "no failover gap: was the standby's data deduplicated at all?")
	tl := compare(snapshot(p.targets.set), mustRaw(t, p.b))
	require.Zero(t, tl.Duplicates, "a sample stored twice")
	require.Zero(t, tl.Unknown)

	// The dashboards, unchanged.
	p.requireOrdersDashboard(t, time.Since(start))
	p.requireCollectorDashboard(t, both, leader, standby)
	p.b.requireClean(t)
}

func mustRaw(t testing.TB, b *backend) model.Matrix {
	t.Helper()
	m, err := b.rawSamples(context.Background())
	require.NoError(t, err)
	return m
}

// requireQueueGauges: the collector reports its two queues apart (the
// workload's and its own metrics').
func requireQueueGauges(t testing.TB, c *collector) {
	t.Helper()
	fams, err := scrapeFamilies(c.metricsURL)
	require.NoError(t, err)
	var queues []string
	for _, m := range fams["otelcol_remote_write_queue_requests"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "queue" {
				queues = append(queues, l.GetValue())
			}
		}
	}
	require.ElementsMatch(t, []string{workloadQueue, workloadQueue + "/self"}, queues, "queue gauges by queue")
}

// requireOrdersDashboard pauses the demo and checks the Order Service
// Metrics dashboard's queries, read from the file users import, against
// the demo's state: a series stored once per replica would double them.
func (p *haPair) requireOrdersDashboard(t testing.TB, ran time.Duration) {
	t.Helper()
	panels, err := e2e.ReadDashboardPanels(filepath.Join(repoRoot(t), e2e.DashboardPath))
	require.NoError(t, err)
	q := map[string]string{}
	for _, panel := range panels {
		require.Len(t, panel.Exprs, 1, panel.Title)
		q[panel.Title] = panel.Exprs[0]
	}
	p.orders.Generator().Pause()
	st, _ := p.orders.Generator().Snapshot()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	count, err := p.b.prom.WaitForQuery(ctx, q["Order Count"], 200*time.Millisecond, func(v model.Vector) bool {
		return len(v) == 1 && int64(v[0].Value) == st.Orders
	})
	require.NoError(t, err, "Order Count never reached the paused demo's %d orders", st.Orders)
	require.Equal(t, model.Metric{"productId": "*"}, count[0].Metric)
	products, err := p.b.prom.Query(ctx, q["Orders by Product"], time.Time{})
	require.NoError(t, err)
	got := map[string]int64{}
	for _, s := range products {
		got[string(s.Metric["productId"])] = int64(s.Value)
	}
	require.Equal(t, st.Products, got, "Orders by Product")
	rate, err := p.b.prom.Query(ctx, q["Order Rate"], time.Time{})
	require.NoError(t, err)
	require.Len(t, rate, 1, "Order Rate: %v", rate)
	// One sample per scrape interval: a series fed by both replicas would
	// hold about twice as many.
	window := ran.Round(time.Second) + time.Second
	n, err := p.b.prom.Query(ctx, fmt.Sprintf(`count_over_time(watch_orders_total{productId="*"}[%ds])`, int(window.Seconds())), time.Time{})
	require.NoError(t, err)
	require.Len(t, n, 1)
	require.LessOrEqual(t, float64(n[0].Value), window.Seconds()/haInterval.Seconds()+1, "samples of the order count in %s", window)
	t.Logf("orders dashboard: %d orders, %d products, rate %v/s; %v samples in %s", st.Orders, len(got), rate[0].Value, n[0].Value, window)
}

// requireCollectorDashboard checks the collector dashboard at at, when both
// collectors ran: two collectors reporting; every panel that shows one of
// them shows the other; the standby's answers are AMP's 202s, the
// leader's are not.
func (p *haPair) requireCollectorDashboard(t testing.TB, at time.Time, leader, standby string) {
	t.Helper()
	panels, err := e2e.ReadDashboardPanels(filepath.Join(repoRoot(t), e2e.CollectorDashboardPath))
	require.NoError(t, err)
	vars := map[string]string{"cluster": regexp.QuoteMeta(haCluster), "instance": ".*", "__rate_interval": haRateInterval}
	ctx := context.Background()
	var shown []string
	for _, panel := range panels {
		for _, expr := range panel.Exprs {
			q, err := e2e.ExpandVariables(expr, vars)
			require.NoError(t, err)
			v, err := p.b.prom.Query(ctx, q, at)
			require.NoError(t, err, "panel %s", panel.Title)
			if panel.Title == "Collectors reporting" {
				require.Len(t, v, 1)
				require.Equal(t, model.SampleValue(2), v[0].Value, "panel %s", panel.Title)
				continue
			}
			instances := map[string]bool{}
			for _, s := range v {
				instances[string(s.Metric["instance"])] = true
			}
			if len(instances) == 0 {
				continue
			}
			require.Equal(t, map[string]bool{leader: true, standby: true}, instances, "panel %s: %s", panel.Title, q)
			shown = append(shown, panel.Title)
		}
	}
	require.GreaterOrEqual(t, len(shown), 10, "panels showing both collectors: %v", shown)
	t.Logf("collector dashboard: %d queries show both collectors (%v)", len(shown), shown)

	q, err := e2e.ExpandVariables(`sum by (instance, code) (increase(otelcol_remote_write_answers_total{job="otelcol-eks", cluster=~"$cluster"}[$__rate_interval]))`, vars)
	require.NoError(t, err)
	answers, err := p.b.prom.Query(ctx, q, at)
	require.NoError(t, err)
	codes := map[string]map[string]bool{}
	for _, s := range answers {
		if s.Value > 0 {
			i := string(s.Metric["instance"])
			if codes[i] == nil {
				codes[i] = map[string]bool{}
			}
			codes[i][string(s.Metric["code"])] = true
		}
	}
	require.True(t, codes[standby]["202"], "the standby's answers: %v", codes[standby])
	require.False(t, codes[leader]["202"], "the leader's answers: %v", codes[leader])
	require.True(t, codes[leader]["204"], "the leader's answers: %v", codes[leader])
}

// TestHARestartsDuringOutage kills and restarts each replica of the pair in
// turn (SIGKILL, then the same pod name, directory and queues) during an
// AMP outage longer than the failover timeout. When AMP returns, the first
// replica heard is elected and delivers its queue; the other's is answered
// 202. Every scrape served to the elected replica since the outage began
// is stored, but those younger than inMemoryWindow at its kill (what a
// SIGKILL takes before the queue); every series has no __replica__ and no
// sample of both replicas' for one moment; neither collector dropped
// anything.
func TestHARestartsDuringOutage(t *testing.T) {
	t.Parallel()
	p := startHAPair(t)
	before := p.leader()
	outageStart := time.Now()
	p.b.set(t, faultproxy.Refuse())
	killedAt := map[string]time.Time{}
	for _, name := range haReplicaNames {
		r := p.replicas[name]
		runFor(t, r.c, 4*time.Second)
		r.c.kill()
		killedAt[name] = time.Now()
		t.Logf("%s %s killed (SIGKILL)", killedAt[name].Format("15:04:05.000"), name)
		r.start(t)
		queued := queuedAtStart(t, r.c, `"otelcol.component.id": "`+workloadQueue+`",`)
		t.Logf("%s restarted with %d requests queued", name, queued)
		require.Positive(t, queued, "the kill left nothing queued: the outage did not reach the queue")
	}
	runFor(t, p.replicas[haReplicaNames[1]].c, 4*time.Second)
	outage := time.Since(outageStart)
	require.Greater(t, outage, 2*haFailover)
	dedupBefore := p.b.standin.Stats().HA.Requests["deduplicated"]
	p.b.set(t, faultproxy.Pass())

	waitFor(t, 2*time.Minute, "both queues delivered", func() bool {
		for _, r := range p.replicas {
			n, err := r.c.metric("otelcol_remote_write_queue_requests", "queue", workloadQueue)
			if err != nil || n > 0 {
				return false
			}
		}
		return true
	})
	runFor(t, p.replicas[haReplicaNames[1]].c, 3*time.Second)
	winner := p.leader()
	st := p.b.standin.Stats().HA
	t.Logf("after a %s outage: %s led before, %s leads; %+v; elections:\n%s", outage.Round(time.Second), before, winner, st,
		strings.Join(elections(t), "\n"))
	require.Positive(t, st.Requests["deduplicated"]-dedupBefore, "the other replica's queue was answered 202")
	// One election at most once AMP is back: a leader that paused while it
	// drained its queue would hand the lead over, and what neither had
	// delivered by then would be lost (the queue's one retry clock:
	// components/remotewritedeliveryextension/pause.go).
	require.LessOrEqual(t, st.LeaderChanges[haCluster], int64(2), "the lead changed hands more than once")

	// The elected replica's scrapes since the outage began, all stored but
	// the kill's.
	s := p.targets.servedTo(winner, outageStart)
	require.Positive(t, s.samples())
	lost := func(m missingScrape) bool { return inKillWindow(killedAt[winner], m) }
	tl := p.b.waitDelivered(t, s, time.Minute, lost)
	t.Logf("%s's scrapes since the outage began: %d samples served, %d scrapes missing (%s)", winner, s.samples(), len(tl.Missing), tl.summarize(10))
	for _, m := range tl.Missing {
		require.True(t, lost(m), "scrape %s was lost although it was served more than %s before %s's kill at %s",
			m, inMemoryWindow, winner, killedAt[winner].Format("15:04:05.000"))
	}
	require.Zero(t, tl.Duplicates)
	require.Zero(t, tl.Unknown)
	// The elected replica's queue starts with its last batch before the
	// outage, which AMP had deduplicated: its first samples may be older
	// than the previous leader's last ones (which are older than the
	// outage) by up to a batch timeout, the time they waited in the batch,
	// plus the scrape's duration (a sample bears its scrape's start) and
	// the time from the batch's capture to the outage's start. The last
	// two take milliseconds on an idle machine; half a scrape interval is
	// room for a loaded one, and still less than the interval between two
	// scrapes of a series.
	var overlap time.Duration
	for series, c := range p.checkHASeries(t) {
		require.Equal(t, winner, c.owners[len(c.owners)-1], series)
		require.Subset(t, []string{before, winner}, c.owners, series)
		require.LessOrEqual(t, c.overlap, haBatchTimeout+haInterval/2, "%s: samples of both replicas interleaved (%v)", series, c.owners)
		overlap = max(overlap, c.overlap)
	}
	t.Logf("the leader change overlaps the previous leader's samples by %s at most", overlap)
	for name, r := range p.replicas {
		dropped, err := r.c.metric("otelcol_remote_write_dropped_requests")
		require.NoError(t, err)
		require.Zero(t, dropped, "%s dropped requests", name)
	}
	p.b.requireClean(t)
}
