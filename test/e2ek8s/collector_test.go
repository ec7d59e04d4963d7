//go:build e2ek8s

package e2ek8s

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
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
//   - only the workshop's kubernetes-pods job, its relabelling unchanged;
//     the kubelet jobs need a kubelet, which this test has not;
//   - discovery and k8smeta authenticate with kubeconfig (the
//     ServiceAccount's TokenRequest token) instead of the pod's
//     in-cluster files;
//   - a shorter scrape interval and batch timeout;
//   - loopback ports of its own for health_check, no pprof, JSON logs, no
//     self-metrics port (other collectors may run on this machine).
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

	k8smeta := dig(t, cfg, "processors", "k8smeta")
	require.Equal(t, "serviceAccount", k8smeta["auth_type"])
	k8smeta["auth_type"] = "kubeConfig" // reads $KUBECONFIG
	dig(t, cfg, "processors", "batch")["timeout"] = batchTimeout

	exts := dig(t, cfg, "extensions")
	delete(exts, "pprof")
	exts["health_check"] = map[string]any{"endpoint": fmt.Sprintf("127.0.0.1:%d", healthPort)}
	service := dig(t, cfg, "service")
	service["extensions"] = []any{"health_check", "sigv4auth"}
	service["telemetry"] = map[string]any{
		"logs":    map[string]any{"encoding": "json"},
		"metrics": map[string]any{"level": "none"},
	}

	out, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "collector.yaml")
	require.NoError(t, os.WriteFile(path, out, 0o600))
	return path
}

func dig(t *testing.T, m map[string]any, keys ...string) map[string]any {
	t.Helper()
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		require.True(t, ok, "config has no map at %s", strings.Join(keys, "."))
		m = next
	}
	return m
}

// collector is a running bin/otelcol-eks.
type collector struct {
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan struct{}
}

// startCollector runs the binary with config and env and waits until its
// health_check answers.
func startCollector(t *testing.T, config string, healthPort int, env []string) *collector {
	t.Helper()
	bin := os.Getenv("OTELCOL_EKS_BIN")
	if bin == "" {
		bin = filepath.Join("..", "..", "bin", "otelcol-eks")
	}
	_, err := os.Stat(bin)
	require.NoError(t, err, "the collector binary is missing: run `make build` (or set OTELCOL_EKS_BIN)")
	c := &collector{logs: &syncBuffer{}, exited: make(chan struct{})}
	c.cmd = exec.Command(bin, "--config", config)
	c.cmd.Env = env
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, c.cmd.Start())
	go func() { _ = c.cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() {
		c.stop(t)
		if t.Failed() {
			t.Logf("collector log:\n%s", tail(c.logs.String(), 10000))
		}
	})

	health := fmt.Sprintf("http://127.0.0.1:%d/", healthPort)
	waitFor(t, 60*time.Second, "the collector's health check", func() bool {
		select {
		case <-c.exited:
			t.Fatalf("the collector exited: %s", tail(c.logs.String(), 4000))
		default:
		}
		resp, err := http.Get(health)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return c
}

// stop ends the collector (SIGTERM, SIGKILL after 20s) and waits for it.
func (c *collector) stop(t *testing.T) {
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		t.Logf("the collector did not stop in 20s; killing it")
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// logEntry is one line of the collector's JSON log.
type logEntry map[string]any

func (e logEntry) str(key string) string { s, _ := e[key].(string); return s }

// entries parses the JSON log lines written so far (other lines, such as a
// panic's, are ignored here and shown when the test fails).
func (c *collector) entries() []logEntry {
	var out []logEntry
	sc := bufio.NewScanner(strings.NewReader(c.logs.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var e logEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
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

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// queryCtx bounds one PromQL wait.
func queryCtx(t *testing.T, timeout time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}
