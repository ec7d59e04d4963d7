//go:build e2ek8s

package e2ek8s

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otelcol-eks/otelcol-eks/test/harness/workshop"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/childproc"
)

// Test timings: scrapes every 2s and batches of at most 1s, so a change in
// the cluster reaches Prometheus within Prometheus' 5s discovery update
// interval plus a scrape and a batch; deadlines allow several of those on a
// loaded 2-core machine.
const (
	scrapeInterval = "2s"
	scrapeTimeout  = "1s"
	batchTimeout   = "1s"
)

// collectorConfig is deploy/deployment's spec.config, run off-cluster:
//   - of the workshop's jobs only kubernetes-pods, its relabelling
//     unchanged (the kubelet jobs need a kubelet, which this test has
//     not), and the collector's own metrics (prometheus/self, unchanged
//     but for its interval);
//   - discovery and k8smeta authenticate with kubeconfig (the
//     ServiceAccount's TokenRequest token) instead of the pod's
//     in-cluster files;
//   - a shorter scrape interval and batch timeout;
//   - loopback ports of its own for health_check (and, through
//     OTELCOL_METRICS_PORT, the telemetry endpoint: other collectors may
//     run on this machine), no pprof, JSON logs.
func collectorConfig(t *testing.T, kubeconfig string, healthPort int) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "deployment", "opentelemetrycollector.yaml"))
	require.NoError(t, err)
	var resource struct {
		Spec struct {
			Config map[string]any `yaml:"config"`
		} `yaml:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(data, &resource))
	cfg := resource.Spec.Config

	prom := dig(t, cfg, "receivers", "prometheus", "config")
	global := dig(t, prom, "global")
	global["scrape_interval"], global["scrape_timeout"] = scrapeInterval, scrapeTimeout
	var pods map[string]any
	for _, j := range prom["scrape_configs"].([]any) {
		if job := j.(map[string]any); job["job_name"] == "kubernetes-pods" {
			pods = job
		}
	}
	require.NotNil(t, pods, "deploy/deployment has no kubernetes-pods job")
	sd := pods["kubernetes_sd_configs"].([]any)
	require.Len(t, sd, 1)
	sd[0].(map[string]any)["kubeconfig_file"] = kubeconfig
	prom["scrape_configs"] = []any{pods}
	self := dig(t, cfg, "receivers", "prometheus/self", "config")["scrape_configs"].([]any)
	require.Len(t, self, 1, "deploy/deployment's prometheus/self has one job")
	require.Equal(t, "otelcol-eks", self[0].(map[string]any)["job_name"])
	self[0].(map[string]any)["scrape_interval"] = scrapeInterval

	k8smeta := dig(t, cfg, "processors", "k8smeta")
	require.Equal(t, "serviceAccount", k8smeta["auth_type"])
	k8smeta["auth_type"] = "kubeConfig" // reads $KUBECONFIG
	dig(t, cfg, "processors", "batch")["timeout"] = batchTimeout

	exts := dig(t, cfg, "extensions")
	delete(exts, "pprof")
	exts["health_check"] = map[string]any{"endpoint": fmt.Sprintf("127.0.0.1:%d", healthPort)}
	service := dig(t, cfg, "service")
	// The shipped list minus pprof (deleted above), so extensions the
	// exporter needs (sigv4auth, remote_write_delivery) stay.
	var keep []any
	for _, e := range service["extensions"].([]any) {
		if e != "pprof" {
			keep = append(keep, e)
		}
	}
	service["extensions"] = keep
	telemetry := dig(t, service, "telemetry")
	require.Contains(t, telemetry, "metrics", "the shipped telemetry endpoint, which prometheus/self scrapes")
	telemetry["logs"] = map[string]any{"encoding": "json"}

	return workshop.WriteConfig(t, t.TempDir(), cfg)
}

func dig(t *testing.T, m map[string]any, keys ...string) map[string]any {
	t.Helper()
	return workshop.ConfigMap(t, m, keys...)
}

// collector is a running bin/otelcol-eks.
type collector struct{ *childproc.Process }

// startCollector runs the binary with config and env and waits until its
// health_check answers.
func startCollector(t *testing.T, config string, healthPort int, env []string) *collector {
	t.Helper()
	root, err := workshop.RepoRoot()
	require.NoError(t, err)
	bin := workshop.CollectorBinary(root)
	require.NoError(t, workshop.CheckCollectorBinary(bin))
	p, err := childproc.Start(childproc.Config{
		Name: "collector", Path: bin, Args: []string{"--config", config}, Env: env,
	})
	require.NoError(t, err)
	c := &collector{Process: p}
	t.Cleanup(func() {
		c.stop(t)
		if t.Failed() {
			t.Logf("collector log:\n%s", c.Tail(10000))
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, c.WaitHTTP(ctx, childproc.Probe{URL: fmt.Sprintf("http://127.0.0.1:%d/", healthPort)}))
	return c
}

// stop ends the collector (SIGTERM, SIGKILL after 20s) and waits for it.
func (c *collector) stop(t *testing.T) {
	if err := c.Stop(20 * time.Second); err != nil {
		t.Logf("cannot stop the collector cleanly: %v", err)
	}
}

// logEntry is one line of the collector's JSON log.
type logEntry map[string]any

func (e logEntry) str(key string) string { s, _ := e[key].(string); return s }

// entries parses the JSON log lines written so far (other lines, such as a
// panic's, are ignored here and shown when the test fails).
func (c *collector) entries() []logEntry {
	var out []logEntry
	sc := bufio.NewScanner(strings.NewReader(c.Log()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var e logEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
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

// queryCtx bounds one PromQL wait.
func queryCtx(t *testing.T, timeout time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}
