//go:build e2ek8s

package e2ek8s

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/otelcol-eks/otelcol-eks/test/harness/workshop"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-eks/otelcol-eks/test/harness/ampstandin"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/childproc"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/promserver"
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

// offClusterConfig writes cfg, the configuration the operator gives one of
// deploy/'s collectors, as a collector on this machine runs it:
//   - of the workshop's jobs only kubernetes-pods, its relabelling
//     unchanged (the kubelet jobs need a kubelet, which this test has
//     not); with the target allocator (statefulset mode), the receiver
//     asks the allocator at taEndpoint instead; the collector's own
//     metrics (prometheus/self, unchanged but for its interval);
//   - discovery and k8smeta authenticate with kubeconfig (the
//     ServiceAccount's TokenRequest token) instead of the pod's
//     in-cluster files;
//   - a shorter scrape interval and batch timeout;
//   - loopback ports of its own for health_check and the telemetry
//     endpoint (which prometheus/self scrapes: both change together;
//     other collectors run on this machine), no pprof, JSON logs.
func offClusterConfig(t *testing.T, cfg map[string]any, kubeconfig, taEndpoint string) (path string, healthPort int) {
	t.Helper()
	prom := dig(t, cfg, "receivers", "prometheus")
	promCfg := dig(t, prom, "config")
	if global, ok := promCfg["global"].(map[string]any); ok {
		global["scrape_interval"], global["scrape_timeout"] = scrapeInterval, scrapeTimeout
	}
	if ta, ok := prom["target_allocator"].(map[string]any); ok {
		require.NotContains(t, promCfg, "scrape_configs", "the operator moves the jobs to the allocator")
		ta["endpoint"] = taEndpoint
		ta["interval"] = scrapeInterval
	} else {
		var pods map[string]any
		for _, j := range promCfg["scrape_configs"].([]any) {
			if job := j.(map[string]any); job["job_name"] == "kubernetes-pods" {
				pods = job
			}
		}
		require.NotNil(t, pods, "no kubernetes-pods job")
		sd := pods["kubernetes_sd_configs"].([]any)
		require.Len(t, sd, 1)
		sd[0].(map[string]any)["kubeconfig_file"] = kubeconfig
		promCfg["scrape_configs"] = []any{pods}
	}

	metricsPort := freePort(t)
	self := dig(t, cfg, "receivers", "prometheus/self", "config")["scrape_configs"].([]any)
	require.Len(t, self, 1, "prometheus/self has one job")
	selfJob := self[0].(map[string]any)
	require.Equal(t, "otelcol-eks", selfJob["job_name"])
	selfJob["scrape_interval"] = scrapeInterval
	selfJob["static_configs"] = []any{map[string]any{"targets": []any{fmt.Sprintf("localhost:%d", metricsPort)}}}

	k8smeta := dig(t, cfg, "processors", "k8smeta")
	require.Equal(t, "serviceAccount", k8smeta["auth_type"])
	k8smeta["auth_type"] = "kubeConfig" // reads $KUBECONFIG
	dig(t, cfg, "processors", "batch")["timeout"] = batchTimeout

	healthPort = freePort(t)
	exts := dig(t, cfg, "extensions")
	delete(exts, "pprof")
	dig(t, exts, "health_check")["endpoint"] = fmt.Sprintf("127.0.0.1:%d", healthPort)
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
	readers := telemetry["metrics"].(map[string]any)["readers"].([]any)
	require.Len(t, readers, 1, "the shipped telemetry endpoint, which prometheus/self scrapes")
	dig(t, readers[0].(map[string]any), "pull", "exporter", "prometheus")["port"] = metricsPort
	telemetry["logs"] = map[string]any{"encoding": "json"}

	return workshop.WriteConfig(t, t.TempDir(), cfg), healthPort
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

// amp is a real Prometheus behind the SigV4-checking AMP stand-in.
type amp struct {
	prom    *promserver.Server
	standin *ampstandin.Proxy
	// workspace is the workspace URL, ending in '/' (AMP_ENDPOINT).
	workspace string
}

// startAMP starts both for t; the stand-in's log, which names each refused
// request, is printed if t fails.
func startAMP(t *testing.T) *amp {
	t.Helper()
	prom := promserver.StartForTest(t, promserver.Options{})
	var standinLog childproc.SyncBuffer
	standin, err := ampstandin.New(ampstandin.Config{
		Upstream:    prom.RemoteWriteURL(),
		Credentials: aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secretKey},
		Region:      region,
		Logger:      slog.New(slog.NewTextHandler(&standinLog, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stand-in log:\n%s", standinLog.Tail(4000))
		}
	})
	srv := httptest.NewServer(standin)
	t.Cleanup(srv.Close)
	return &amp{prom: prom, standin: standin, workspace: srv.URL + "/workspaces/ws-e2e-k8s/"}
}

// collectorEnv is the environment of a collector run off-cluster as
// deploy/'s ServiceAccount (kubeconfig) against backend: the workshop's
// variables (otelcol-eks-env), the test credentials, its queue in dir, and
// podEnv, what the kubelet sets in the pod (POD_NAME, HOSTNAME...).
func collectorEnv(dir, kubeconfig string, backend *amp, podEnv ...string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir, // no ~/.kube/config of the machine's
		"KUBECONFIG=" + kubeconfig,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID=" + accessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + secretKey,
		"AWS_REGION=" + region,
		"EKS_CLUSTER_NAME=" + clusterName,
		"AWS_ACCOUNT_ID=" + accountID,
		"AMP_ENDPOINT=" + backend.workspace,
		// The remote_write_delivery queue; kept across restarts of the
		// collector, as the manifests' volumes keep it.
		"OTELCOL_STORAGE_DIR=" + filepath.Join(dir, "storage"),
	}, podEnv...)
}
