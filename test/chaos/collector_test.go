//go:build chaos

package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/otelcol-eks/otelcol-eks/test/harness/workshop"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/childproc"
)

// Static test credentials: the stand-in accepts exactly these, and the
// secrets scenario asserts that no captured log ever contains the secret or
// the session token.
const (
	testAccessKeyID    = "AKIDCHAOSTEST0000001"
	testSecretKey      = "chaos-secret-key-Zq8vN3xR7wLp2sTb9yKm"
	testSessionToken   = "chaos-session-token-Hj4Kd8Wq1Zx5Cv7Bn0Mf"
	testRegion         = "us-west-2"
	testWorkspace      = "ws-chaos"
	defaultShutdownMax = 30 * time.Second
)

// logs holds every log the suite captured (collector, stand-in,
// Prometheus), for the secrets check in TestMain.
var logs struct {
	sync.Mutex
	all []*capture
}

// capture is a goroutine-safe in-memory log, registered in logs.
type capture struct {
	name string
	mu   sync.Mutex
	buf  bytes.Buffer
}

func newCapture(name string) *capture {
	c := &capture{name: name}
	logs.Lock()
	logs.all = append(logs.all, c)
	logs.Unlock()
	return c
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := workshop.RepoRoot()
	require.NoError(t, err)
	return root
}

func collectorBinary(t testing.TB) string {
	t.Helper()
	bin := workshop.CollectorBinary(repoRoot(t))
	require.NoError(t, workshop.CheckCollectorBinary(bin))
	return bin
}

// freePort returns a loopback port free at the time of the call.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// scrapeLimitKeys are the Prometheus global scrape limits copied from the
// shipped receiver config into the suite's own scrape config.
var scrapeLimitKeys = []string{"label_value_length_limit", "label_name_length_limit", "label_limit", "body_size_limit", "sample_limit"}

// shippedSections are the parts of a shipped configuration the suite runs
// exactly as the distribution ships them.
type shippedSections struct {
	// Exporter is the remote-write exporter.
	Exporter map[string]any
	// MemoryLimiter and Batch are the processors.
	MemoryLimiter, Batch map[string]any
	// Sigv4 and Delivery are the sigv4auth and remote_write_delivery
	// extensions.
	Sigv4, Delivery map[string]any
	// Receiver holds the Prometheus receiver's own settings (such as
	// discovery_reload_on_startup), without its Prometheus configuration.
	Receiver map[string]any
	// Limits are the receiver's global scrape limits (scrapeLimitKeys).
	Limits map[string]any
}

// shipped reads the sections of configs/<name> the suite exercises.
func shipped(t testing.TB, name string) shippedSections {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "configs", name))
	require.NoError(t, err)
	var cfg struct {
		Processors map[string]map[string]any `yaml:"processors"`
		Exporters  map[string]map[string]any `yaml:"exporters"`
		Extensions map[string]map[string]any `yaml:"extensions"`
		Receivers  struct {
			Prometheus map[string]any `yaml:"prometheus"`
		} `yaml:"receivers"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	sec := shippedSections{
		Exporter:      cfg.Exporters["prometheus_remote_write"],
		MemoryLimiter: cfg.Processors["memory_limiter"],
		Batch:         cfg.Processors["batch"],
		Sigv4:         cfg.Extensions["sigv4auth"],
		Delivery:      cfg.Extensions[deliveryID],
		Receiver:      maps.Clone(cfg.Receivers.Prometheus),
		Limits:        map[string]any{},
	}
	require.NotNil(t, sec.Exporter, "configs/%s has no prometheus_remote_write exporter", name)
	require.NotNil(t, sec.Delivery, "configs/%s has no %s extension", name, deliveryID)
	promCfg, _ := sec.Receiver["config"].(map[string]any)
	global, _ := promCfg["global"].(map[string]any)
	for _, k := range scrapeLimitKeys {
		if v, ok := global[k]; ok {
			sec.Limits[k] = v
		}
	}
	delete(sec.Receiver, "config")
	return sec
}

// deliveryID is the shipped remote_write_delivery extension's ID; its queue
// lives in <storage directory>/<deliveryID>.
const deliveryID = "remote_write_delivery"

// shippedMaxInFlight is remote_write_delivery's default max_in_flight, which
// the shipped configurations keep: the most requests a kill can leave to be
// sent again.
const shippedMaxInFlight = 4

// collectorSpec is what one collector run is given.
type collectorSpec struct {
	// Targets are the static scrape targets (host:port).
	Targets []string
	// ScrapeInterval is the scrape interval; 0 means 1s.
	ScrapeInterval time.Duration
	// Exporter overrides keys of the shipped exporter (nil value: delete).
	Exporter map[string]any
	// Delivery overrides keys of the shipped remote_write_delivery
	// extension (nil value: delete).
	Delivery map[string]any
	// Upstream runs the exporter as upstream documents it, without
	// remote_write_delivery: signed by sigv4auth directly (auth: sigv4auth);
	// Exporter adds `wal:` and retries where a test needs them.
	Upstream bool
	// Processors is the pipeline's processors; nil means memory_limiter, batch.
	Processors []string
	// ExtraProcessors are added to the processors section (e.g. k8smeta).
	ExtraProcessors map[string]any
	// ExtraScrapeConfigs are appended to the synthetic job.
	ExtraScrapeConfigs []map[string]any
	// FeatureGates is passed as --feature-gates when not empty.
	FeatureGates string
	// Env holds extra NAME=value entries.
	Env []string
	// TmpfsStorage, when set (a tmpfs size such as "6m"), gives the
	// collector a small volume of its own: a tmpfs of that size mounted
	// over its storage directory in a private mount namespace that the
	// scenario holds, so that the volume and what it holds survive the
	// collector's restarts, as an emptyDir survives a container's, and go
	// with the test.
	TmpfsStorage string
	// mountNamespace is the mount namespace (/proc/<pid>/ns/mnt) holding
	// the TmpfsStorage volume; startScenario sets it.
	mountNamespace string
}

// collector is one run of bin/otelcol-eks.
type collector struct {
	*childproc.Process
	t          testing.TB
	log        *capture // the whole log, also checked for secrets
	healthURL  string
	metricsURL string
}

// overridden returns a copy of base with overrides applied (a nil value
// deletes the key).
func overridden(base, overrides map[string]any) map[string]any {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range overrides {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// writeConfig composes the collector config for spec from the shipped
// sections and returns its path and the telemetry and health ports.
func writeConfig(t testing.TB, dir string, spec collectorSpec) (path string, healthPort, metricsPort int) {
	t.Helper()
	healthPort, metricsPort = freePort(t), freePort(t)
	sec := shipped(t, "daemonset.yaml")
	exporter := overridden(sec.Exporter, spec.Exporter)
	extensions := map[string]any{
		"sigv4auth":    sec.Sigv4,
		"health_check": map[string]any{"endpoint": fmt.Sprintf("127.0.0.1:%d", healthPort)},
	}
	enabled := []string{"health_check", "sigv4auth"}
	if spec.Upstream {
		exporter["auth"] = map[string]any{"authenticator": "sigv4auth"}
	} else {
		// The exporter names the queue as its authenticator, and the queue
		// names sigv4auth; its settings are the shipped ones.
		require.Equal(t, map[string]any{"authenticator": deliveryID}, sec.Exporter["auth"], "configs/daemonset.yaml: the exporter's authenticator")
		extensions[deliveryID] = overridden(sec.Delivery, spec.Delivery)
		enabled = append(enabled, deliveryID)
	}
	interval := spec.ScrapeInterval
	if interval == 0 {
		interval = time.Second
	}
	scrapeConfigs := []map[string]any{{
		"job_name":        "synth",
		"scrape_interval": interval.String(),
		"scrape_timeout":  interval.String(),
		"static_configs":  []map[string]any{{"targets": spec.Targets}},
	}}
	scrapeConfigs = append(scrapeConfigs, spec.ExtraScrapeConfigs...)
	processors := map[string]any{"memory_limiter": sec.MemoryLimiter, "batch": sec.Batch}
	for k, v := range spec.ExtraProcessors {
		processors[k] = v
	}
	pipeline := spec.Processors
	if pipeline == nil {
		pipeline = []string{"memory_limiter", "batch"}
	}
	global := map[string]any{"scrape_interval": interval.String()}
	maps.Copy(global, sec.Limits)
	receiver := maps.Clone(sec.Receiver)
	receiver["config"] = map[string]any{"global": global, "scrape_configs": scrapeConfigs}
	cfg := map[string]any{
		"receivers":  map[string]any{"prometheus": receiver},
		"processors": processors,
		"exporters":  map[string]any{"prometheus_remote_write": exporter},
		"extensions": extensions,
		"service": map[string]any{
			"extensions": enabled,
			"telemetry": map[string]any{
				"logs": map[string]any{"level": "info"},
				"metrics": map[string]any{"readers": []any{map[string]any{"pull": map[string]any{"exporter": map[string]any{
					"prometheus": map[string]any{"host": "127.0.0.1", "port": metricsPort},
				}}}}},
			},
			"pipelines": map[string]any{"metrics": map[string]any{
				"receivers": []string{"prometheus"}, "processors": pipeline, "exporters": []string{"prometheus_remote_write"},
			}},
		},
	}
	raw, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	path = filepath.Join(dir, fmt.Sprintf("collector-%d.yaml", time.Now().UnixNano()))
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	return path, healthPort, metricsPort
}

// suiteEnv is the environment every collector of the suite starts from,
// HOME at dir: the static test credentials, no instance metadata service,
// the workshop's variables but AMP_ENDPOINT.
func suiteEnv(dir string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID=" + testAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + testSecretKey,
		"AWS_SESSION_TOKEN=" + testSessionToken,
		"AWS_REGION=" + testRegion,
		"AWS_ACCOUNT_ID=123456789012",
		"EKS_CLUSTER_NAME=chaos",
	}
}

// startCollector runs the collector for spec against ampEndpoint (the
// workspace URL ending in '/'), with storageDir as its persistent directory,
// and waits until it is healthy.
func startCollector(t testing.TB, dir, ampEndpoint, storageDir string, spec collectorSpec) *collector {
	t.Helper()
	c := launchCollector(t, dir, ampEndpoint, storageDir, spec)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, c.waitHealthy(ctx))
	return c
}

// launchCollector runs the collector as startCollector does, without
// waiting for it to become healthy.
func launchCollector(t testing.TB, dir, ampEndpoint, storageDir string, spec collectorSpec) *collector {
	t.Helper()
	cfgPath, healthPort, metricsPort := writeConfig(t, dir, spec)
	args := []string{"--config", cfgPath}
	if spec.FeatureGates != "" {
		args = append(args, "--feature-gates="+spec.FeatureGates)
	}
	env := append(append(suiteEnv(dir),
		"K8S_NODE_NAME=node-a",
		"AMP_ENDPOINT="+ampEndpoint,
		"OTELCOL_STORAGE_DIR="+storageDir,
	), spec.Env...)
	path := collectorBinary(t)
	if spec.mountNamespace != "" {
		// nsenter(1) joins the namespace holding the volume, then becomes
		// the collector (same pid, so signals and the death signal reach it).
		args = append([]string{"--mount=" + spec.mountNamespace, "--", path}, args...)
		path = "/usr/bin/nsenter"
	}
	return runCollectorProcess(t, "collector "+t.Name(), healthPort, metricsPort, path, args, env)
}

// runCollectorProcess runs path with args and env as a collector serving
// its health check and telemetry on the loopback ports given, killed when t
// ends, its log captured as name; it does not wait for it to be healthy.
func runCollectorProcess(t testing.TB, name string, healthPort, metricsPort int, path string, args, env []string) *collector {
	t.Helper()
	c := &collector{
		t:          t,
		log:        newCapture(name),
		healthURL:  fmt.Sprintf("http://127.0.0.1:%d/", healthPort),
		metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort),
	}
	p, err := childproc.Start(childproc.Config{
		Name: "collector", Path: path, Args: args, Env: env, Output: c.log,
	})
	require.NoError(t, err)
	c.Process = p
	t.Cleanup(func() {
		_ = c.Signal(syscall.SIGKILL)
		<-c.Exited()
		if t.Failed() {
			t.Logf("%s log (last 8000 bytes):\n%s", name, c.Tail(8000))
		}
	})
	return c
}

func (c *collector) waitHealthy(ctx context.Context) error {
	return c.WaitHTTP(ctx, childproc.Probe{URL: c.healthURL})
}

// kill ends the collector with SIGKILL, as the OOM killer or a node does.
func (c *collector) kill() {
	c.t.Helper()
	require.NoError(c.t, c.Signal(syscall.SIGKILL))
	<-c.Exited()
}

// stop sends SIGTERM and returns how long the collector took to exit; it
// fails the test when the exit takes longer than within or is not clean.
func (c *collector) stop(within time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	// The error says "was killed" when the exit took longer than within.
	require.NoError(c.t, c.Stop(within), "collector exit")
	return time.Since(start)
}

// running reports whether the process is still alive.
func (c *collector) running() bool {
	select {
	case <-c.Exited():
		return false
	default:
		return true
	}
}

// rssBytes is the collector's resident set size.
func (c *collector) rssBytes() (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.Pid()))
	if err != nil {
		return 0, fmt.Errorf("cannot read process status: %w", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in process status")
}

// metrics reads the collector's own telemetry, each family summed over
// its label sets (name -> sum).
func (c *collector) metrics() (map[string]float64, error) {
	return scrapeSums(c.metricsURL)
}

// metric reads family from the collector's own telemetry, summed over the
// series whose labels match labelPairs (name, value, ...); a counter is
// read with or without the _total suffix. A family not exposed (yet) is 0.
func (c *collector) metric(family string, labelPairs ...string) (float64, error) {
	fams, err := scrapeFamilies(c.metricsURL)
	if err != nil {
		return 0, err
	}
	var v float64
	for _, name := range []string{family, family + "_total"} {
		for _, m := range fams[name].GetMetric() {
			if hasLabels(m, labelPairs) {
				v += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
			}
		}
	}
	return v, nil
}

// hasLabels reports whether m has every (name, value) of pairs.
func hasLabels(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == pairs[i] && l.GetValue() == pairs[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// scrapeSums fetches a Prometheus text exposition and sums each family.
func scrapeSums(url string) (map[string]float64, error) {
	families, err := scrapeFamilies(url)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for name, fam := range families {
		for _, m := range fam.GetMetric() {
			switch {
			case m.Counter != nil:
				out[name] += m.Counter.GetValue()
			case m.Gauge != nil:
				out[name] += m.Gauge.GetValue()
			case m.Untyped != nil:
				out[name] += m.Untyped.GetValue()
			}
		}
	}
	return out, nil
}

func scrapeFamilies(url string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, fmt.Errorf("cannot scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("cannot parse %s: %w", url, err)
	}
	return fams, nil
}

// queuedAtStart is what the queue held when c opened it, from its log
// ("remote-write queue opened", in the line that also holds every one of
// match, when c has several queues).
func queuedAtStart(t testing.TB, c *collector, match ...string) int64 {
	t.Helper()
	lines := c.logLines(append([]string{"remote-write queue opened"}, match...)...)
	require.Len(t, lines, 1, "the queue's opening is logged once")
	m := regexp.MustCompile(`"queued_requests": ([0-9]+)`).FindStringSubmatch(lines[0])
	require.NotNil(t, m, "no queued_requests in %q", lines[0])
	n, err := strconv.ParseInt(m[1], 10, 64)
	require.NoError(t, err)
	return n
}

// logCount counts the collector log lines containing every one of subs.
func (c *collector) logCount(subs ...string) int { return len(c.logLines(subs...)) }

// logLines returns the collector log lines containing every one of subs.
func (c *collector) logLines(subs ...string) []string {
	var out []string
	for _, line := range strings.Split(c.log.String(), "\n") {
		ok := true
		for _, s := range subs {
			if !strings.Contains(line, s) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}
