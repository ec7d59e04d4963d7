//go:build e2ek8s

package e2ek8s

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/otelcol-eks/otelcol-eks/test/harness/otelop"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/kubeapiserver"
)

// operatorConfig is the configuration the OpenTelemetry Operator writes
// for a stored OpenTelemetryCollector (otelop.Resource.OperatorConfig).
func operatorConfig(t *testing.T, cr map[string]any) map[string]any {
	t.Helper()
	r, err := otelop.ResourceFrom(cr)
	require.NoError(t, err)
	cfg, err := r.OperatorConfig()
	require.NoError(t, err)
	return cfg
}

// TestCollectorsScrapeThemselvesOnce runs one collector of each deploy/
// variant as the OpenTelemetry Operator would run it, against a real API
// server and a real Prometheus behind the SigV4-checking AMP stand-in: the
// variants applied as deploy/README.md says, each collector's pod created
// as the operator makes it (otelop: its annotations, env, ports, init
// containers) and marked running, the collector process given the
// configuration the operator writes and the pod's environment (the
// DaemonSet's as in a hostNetwork pod, HOSTNAME the node's name). Then in
// Prometheus: each collector's own metrics arrive once, under job
// otelcol-eks with the pod's name as instance and under no other job; no
// collector pod is a target of the kubernetes-pods jobs, which do scrape
// an annotated workload pod; no target at all is down.
//
// The StatefulSet's collector asks a target allocator that allocates no
// jobs (the operator's allocator cannot run here): what it shows is that
// the configuration the operator rewrites for the allocator starts and
// scrapes the collector itself.
func TestCollectorsScrapeThemselvesOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	kube := kubeapiserver.StartForTest(t, kubeapiserver.Options{})
	admin, err := kubernetes.NewForConfig(kube.AdminConfig())
	require.NoError(t, err)
	c := newCluster(t, ctx, admin)
	a := newApplier(t, kube.AdminConfig())
	a.installOperatorCRD(t, ctx)
	stored := map[string]map[string]any{}
	for _, variant := range []string{"deployment", "daemonset", "statefulset"} {
		for name, obj := range a.applyRendered(t, ctx, renderVariant(t, variant)) {
			stored[name] = obj.Object
		}
	}

	backend := startAMP(t)
	allocator := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/scrape_configs" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("{}")) // no jobs
	}))
	t.Cleanup(allocator.Close)

	// A workload pod the kubernetes-pods jobs scrape, on the node of the
	// Deployment's collector only (the DaemonSet's collector scrapes its
	// own node's pods, and two collectors must not write the same series).
	c.runPod(podSpec{namespace: "catalog", name: "catalog-mysql-0", node: nodes[0].name, path: "/metrics",
		labels:  map[string]string{"app.kubernetes.io/name": "catalog-mysql"},
		handler: fixedExposition("/metrics", "mysql_queries_total", 11)})

	kubeconfig, err := kube.ServiceAccountKubeconfig(ctx, deployNamespace, serviceAccount, t.TempDir())
	require.NoError(t, err)
	type collectorRun struct {
		resource, pod string
		node          node
		hostNetwork   bool
	}
	runs := []collectorRun{
		{"otelcol-eks", "otelcol-eks-collector-6c9f8d7b5-k4m2x", nodes[0], false},
		{"otelcol-eks-node", "otelcol-eks-node-collector-x7q2w", nodes[2], true},
		{"otelcol-eks-sharded", "otelcol-eks-sharded-collector-0", nodes[1], false},
	}
	var pods []string
	var collectors []*collector
	for _, run := range runs {
		cr := stored["OpenTelemetryCollector/"+run.resource]
		require.NotNil(t, cr, run.resource)
		r, err := otelop.ResourceFrom(cr)
		require.NoError(t, err)

		// The pod as the operator's workload makes it.
		pod, err := r.Pod(run.pod, run.node.name)
		require.NoError(t, err)
		created, err := admin.CoreV1().Pods(deployNamespace).Create(ctx, pod, metav1.CreateOptions{})
		require.NoError(t, err, "the API server refused the operator's pod of %s", run.resource)
		_, err = kubeapiserver.MarkPodRunning(ctx, admin, created, c.podIP())
		require.NoError(t, err)
		pods = append(pods, run.pod)

		podEnv, err := otelop.ContainerEnv(pod, otelop.Node{Name: run.node.name, CPU: resource.MustParse("2"), Memory: resource.MustParse("7Gi")}, run.hostNetwork)
		require.NoError(t, err)
		env := collectorEnv(t.TempDir(), kubeconfig, backend, podEnv...)
		config, healthPort := offClusterConfig(t, operatorConfig(t, cr), kubeconfig, allocator.URL)
		collectors = append(collectors, startCollector(t, config, healthPort, env))
	}

	// The workload pod is scraped (so the jobs run and see every pod),
	// and all three collectors report.
	_, err = backend.prom.WaitForQuery(queryCtx(t, changeDeadline), `up{job="kubernetes-pods", pod="catalog-mysql-0"} == 1`, time.Second,
		func(v model.Vector) bool { return len(v) == 1 })
	require.NoError(t, err, "the workload pod is never scraped")
	_, err = backend.prom.WaitForQuery(queryCtx(t, changeDeadline), `up{job="otelcol-eks"} == 1`, time.Second,
		func(v model.Vector) bool { return len(v) == len(runs) })
	require.NoError(t, err, "the collectors' own metrics")
	// Two discovery updates (5 s each) and scrapes more, for anything
	// that should not be there to arrive.
	time.Sleep(12 * time.Second)

	query := func(q string) model.Vector {
		t.Helper()
		v, err := backend.prom.Query(ctx, q, time.Time{})
		require.NoError(t, err, q)
		return v
	}
	up := query(`up{job="otelcol-eks"}`)
	var instances []string
	for _, s := range up {
		require.Equal(t, model.SampleValue(1), s.Value, "%v", s.Metric)
		require.Equal(t, model.LabelValue(accountID), s.Metric["account_id"], "the account ID as written")
		instances = append(instances, string(s.Metric["instance"]))
	}
	require.ElementsMatch(t, pods, instances, "one self-scrape per collector, its pod's name as instance")
	podsRe := strings.Join(pods, "|")
	for _, s := range query(`count by (instance) ({job="otelcol-eks", __name__=~"otelcol_.+"})`) {
		require.Contains(t, pods, string(s.Metric["instance"]), "the collectors' own metrics name the pod")
	}
	require.Len(t, query(fmt.Sprintf(`count by (instance) (target_info{job="otelcol-eks", instance=~%q})`, podsRe)), len(runs),
		"target_info names the pod too")
	require.Empty(t, query(`{job="otelcol-eks", __name__=~"otelcol_.+", instance!~`+fmt.Sprintf("%q", podsRe)+`}`),
		"a collector's metrics under another instance (its service.instance.id, its node)")
	require.Empty(t, query(`{__name__=~"otelcol_.+", job!="otelcol-eks"}`), "a collector's metrics arrive a second time")
	require.Empty(t, query(`up{pod=~"otelcol-eks.*"}`), "a collector pod is a scrape target")
	require.Empty(t, query(`up == 0`), "a target is down")
	require.Zero(t, backend.standin.Stats().RejectedTotal, "the stand-in rejected signatures")
	// What each collector costs before it scrapes anything of the cluster
	// (deploy/README.md, "Which mode"): its own series, and its memory.
	for i, run := range runs {
		series := query(fmt.Sprintf(`count({job="otelcol-eks", instance=%q})`, run.pod))
		require.Len(t, series, 1)
		t.Logf("%s: %v series of its own, RSS %d MiB", run.resource, series[0].Value, residentMiB(t, collectors[i].Pid()))
	}
}

// residentMiB is a process's resident set size (VmRSS), in MiB.
func residentMiB(t *testing.T, pid int) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kib int
			_, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kib)
			require.NoError(t, err)
			return kib >> 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// jsonDecode decodes a JSON-shaped tree into out.
func jsonDecode(v any, out any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}
