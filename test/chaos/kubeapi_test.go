//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/otelcol-eks/otelcol-eks/test/harness/synthtarget"
	"github.com/otelcol-eks/otelcol-eks/test/harness/tcpproxy"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/kubeapiserver"
)

// Scenario 6's cluster: what the synthetic targets' namespace/pod labels
// name, and what k8smeta is expected to write for them.
const (
	// kubeNode is the node every pod runs on: the K8S_NODE_NAME the suite
	// gives the collector, which the shipped node_filter reads.
	kubeNode   = "node-a"
	kubeZone   = "us-west-2a"
	kubeSANS   = "otelcol"
	kubeSAName = "otelcol-eks"
	// versionKey is a pod label the test allow-lists (tag "version") and
	// changes during the mid-run cut, to see when the cache is fresh again.
	versionKey = "app.kubernetes.io/version"
)

// Scenario 6's timings.
const (
	// kubeCut is how long the API stays unreachable mid-run.
	kubeCut = 20 * time.Second
	// kubeResync bounds how long after the API returns the processor's
	// reflectors are back: client-go's reflector backoff (0.8 s doubling to
	// a 30 s cap, each delay stretched by up to 2× jitter, reset only every
	// 2 minutes) reaches [25.6 s, 51.2 s) after about 40 s of failures.
	kubeResync = 80 * time.Second
)

// TestKubeAPIUnreachable is scenario 6: the Kubernetes API is unreachable
// when the collector starts and again for kubeCut in the middle of the
// run. A TCP proxy (test/harness/tcpproxy) between k8smeta and a real
// kube-apiserver refuses connections and cuts the open ones; scrape targets
// are static, so discovery does not depend on the API. Asserted, per
// phase, on the samples Prometheus stored:
//
//  1. API unreachable at start: everything scraped is delivered, during
//     the outage, unenriched (no workload label);
//  2. API reachable: enrichment appears (workload, node, zone, pod label)
//     without a restart;
//  3. API cut mid-run: delivery goes on, during the cut, losing nothing;
//     the processor keeps enriching from its cache (reflectors never clear
//     a store on errors), so a pod label changed during the cut is not
//     seen yet;
//  4. API back: the change arrives, on every pod.
//
// Over the whole run nothing is lost or stored twice, each pod's scrapes
// once enriched stay enriched, the collector never restarts, and each API
// error cause is logged once.
func TestKubeAPIUnreachable(t *testing.T) {
	t.Parallel()
	began := time.Now()
	api := startKubeAPIServerAsync(t)
	b := startBackendWith(t, backendOptions{})
	ts := startTargets(t, 3, 5)
	srv := api()
	t.Logf("%s control plane, Prometheus and targets up", since(began))

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	admin, err := kubernetes.NewForConfig(srv.AdminConfig())
	require.NoError(t, err)
	createSynthPods(t, ctx, admin, ts)
	dir := t.TempDir()
	proxy, kubeconfig := kubeconfigBehindProxy(t, ctx, srv, admin, dir)
	require.NoError(t, proxy.Refuse())

	k8smeta, pipeline := shippedK8smeta(t)
	k8smeta["auth_type"] = "kubeConfig"
	k8smeta["wait_for_sync"] = "2s"
	extract := k8smeta["extract"].(map[string]any)
	require.Equal(t, true, extract["node_topology"], "configs/daemonset.yaml turns node_topology on")
	extract["pod_labels"] = []any{map[string]any{"key": versionKey, "tag": "version"}}
	c := startCollector(t, dir, b.ampEndpoint(), dir, collectorSpec{
		Targets:         ts.Addrs(),
		Processors:      pipeline,
		ExtraProcessors: map[string]any{"k8smeta": k8smeta},
		Env:             []string{"KUBECONFIG=" + kubeconfig},
	})
	t.Logf("%s collector %d up, API unreachable", since(began), c.Pid())

	// Phase 1: delivered while the API is unreachable.
	waitFor(t, 30*time.Second, "3 scrapes of every target", func() bool {
		for _, tg := range ts.Targets() {
			if len(tg.Served()) < 3 {
				return false
			}
		}
		return true
	})
	s1 := snapshot(ts)
	tl := b.waitDelivered(t, s1, 30*time.Second, nil)
	require.Empty(t, tl.Missing, "not delivered while the API is unreachable: %s", tl.summarize(10))
	require.True(t, proxy.Refusing())
	require.Zero(t, k8smetaMetric(t, c, "otelcol_k8smeta_cache_synced"), "cache synced without the API")
	require.Positive(t, k8smetaMetric(t, c, "otelcol_k8smeta_api_errors"), "API errors not counted")
	apiBack := time.Now()
	require.NoError(t, proxy.Pass())
	t.Logf("%s API reachable (phase 1 delivered during the outage: %s)", since(began), tl)

	// Phase 2: enrichment appears.
	waitStored(t, b, kubeResync, "enriched samples of every pod", func(sc scrapeClass) bool { return sc.full > 0 }, ts)
	enrichedAt := time.Now()
	t.Logf("%s every pod enriched in Prometheus, %s after the API returned", since(began), enrichedAt.Sub(apiBack).Round(time.Millisecond))

	// Phase 3: cut mid-run; a pod label changes meanwhile.
	errorsBeforeCut := k8smetaMetric(t, c, "otelcol_k8smeta_api_errors")
	linesBeforeCut := c.logCount("kubernetes API error")
	cutAt := time.Now()
	require.NoError(t, proxy.Refuse())
	cut := proxy.Stats().Cut
	require.Positive(t, cut, "no open connection to the API server was cut")
	for _, tg := range ts.Targets() {
		patch := fmt.Sprintf(`{"metadata":{"labels":{%q:"v2"}}}`, versionKey)
		_, err := admin.CoreV1().Pods(synthNamespace).Patch(ctx, tg.Pod(), types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
		require.NoError(t, err)
	}
	runFor(t, c, kubeCut-5*time.Second)
	s3 := snapshot(ts)
	tl = b.waitDelivered(t, s3, 30*time.Second, nil)
	require.Empty(t, tl.Missing, "not delivered during the cut: %s", tl.summarize(10))
	if rest := kubeCut - time.Since(cutAt); rest > 0 {
		runFor(t, c, rest)
	}
	require.True(t, proxy.Refusing())
	errorsDuringCut := k8smetaMetric(t, c, "otelcol_k8smeta_api_errors") - errorsBeforeCut
	require.Positive(t, errorsDuringCut, "no API error counted during the cut")
	backAt := time.Now()
	require.NoError(t, proxy.Pass())
	t.Logf("%s API reachable again after a %s cut (%d connections cut; delivered during the cut: %s)",
		since(began), backAt.Sub(cutAt).Round(time.Millisecond), cut, tl)

	// Phase 4: the change made during the cut arrives.
	waitStored(t, b, kubeResync, "the pod label changed during the cut on every pod", func(sc scrapeClass) bool { return sc.v2 > 0 }, ts)
	t.Logf("%s label change seen for every pod, %s after the API returned", since(began), time.Since(backAt).Round(time.Millisecond))
	runFor(t, c, 2*time.Second)

	s := snapshot(ts)
	tl = b.waitDelivered(t, s, 30*time.Second, nil)
	t.Logf("whole run: %s", tl)
	require.Empty(t, tl.Missing, "scrapes not (fully) stored: %s", tl.summarize(10))
	require.Zero(t, tl.Duplicates)
	require.Zero(t, tl.Unknown)
	b.requireClean(t)

	m, err := b.rawSamples(ctx)
	require.NoError(t, err)
	classes, wrong := classifyScrapes(s, m)
	require.Empty(t, wrong, "enriched samples with labels missing or wrong (label: samples)")
	phases := []kubePhase{
		{name: "1 API unreachable at start", to: apiBack},
		{name: "2 API reachable", from: apiBack, to: cutAt},
		{name: "3 API cut mid-run", from: cutAt, to: backAt},
		{name: "4 API back", from: backAt, to: time.Now().Add(time.Hour)},
	}
	assertKubePhases(t, s, classes, phases)

	// No restart (the process is this test's child: still running, and its
	// service started once), API errors logged once per cause.
	require.True(t, c.running(), "collector exited: %v", c.Err())
	require.Equal(t, 1, c.logCount("Everything is ready"), "the collector's service started more than once")
	require.Equal(t, 1, c.logCount("not synced within wait_for_sync"))
	require.Equal(t, 1.0, k8smetaMetric(t, c, "otelcol_k8smeta_cache_synced"))
	apiLines := c.logLines("kubernetes API error")
	apiErrors := k8smetaMetric(t, c, "otelcol_k8smeta_api_errors")
	t.Logf("API errors: %v counted (%v during the cut), %d logged by k8smeta (%d during or after the cut); %d lines logged in all",
		apiErrors, errorsDuringCut, len(apiLines), len(apiLines)-linesBeforeCut, strings.Count(c.log.String(), "\n"))
	// One line per cause (verb, resource, reason); the causes are at most
	// list and watch of pods and nodes, each failing to connect.
	causes := map[string]bool{}
	for _, line := range apiLines {
		cause := apiErrorCause.FindStringSubmatch(line)
		require.NotNil(t, cause, "no verb, resource and reason in %q", line)
		require.False(t, causes[cause[0]], "cause logged twice: %s", cause[0])
		causes[cause[0]] = true
	}
	require.NotEmpty(t, causes)
	require.LessOrEqual(t, len(causes), 4, "unexpected causes:\n%s", strings.Join(apiLines, "\n"))
	require.Greater(t, apiErrors, float64(len(apiLines)), "retries were not counted")
	t.Logf("scenario 6 took %s", since(began))
}

// apiErrorCause finds the cause k8smeta logs with an API error.
var apiErrorCause = regexp.MustCompile(`"verb": "\w+", "resource": "\w+", "reason": "\w+"`)

// k8smetaMetric sums the collector's self-metric families named name or
// name_<suffix> (the Prometheus exporter adds _total to counters).
func k8smetaMetric(t *testing.T, c *collector, name string) float64 {
	t.Helper()
	tel, err := c.metrics()
	require.NoError(t, err)
	var v float64
	found := false
	for fam, sum := range tel {
		if fam == name || strings.HasPrefix(fam, name+"_") {
			v += sum
			found = true
		}
	}
	if !found {
		var names []string
		for fam := range tel {
			if strings.HasPrefix(fam, "otelcol_k8smeta") {
				names = append(names, fam)
			}
		}
		t.Fatalf("the collector exposes no %s; k8smeta families: %v", name, names)
	}
	return v
}

// startKubeAPIServerAsync starts etcd and kube-apiserver in the background
// (they take 10–30 s) and returns a function that waits for them; the
// control plane is stopped when t ends.
func startKubeAPIServerAsync(t *testing.T) func() *kubeapiserver.Server {
	t.Helper()
	done := make(chan struct{})
	var (
		srv *kubeapiserver.Server
		err error
	)
	go func() {
		defer close(done)
		srv, err = kubeapiserver.Start(context.Background(), kubeapiserver.Options{})
	}()
	t.Cleanup(func() {
		<-done
		if srv == nil {
			return
		}
		if t.Failed() {
			t.Logf("control plane logs:\n%s", srv.Logs())
		}
		if err := srv.Stop(); err != nil {
			t.Logf("cannot stop the control plane: %v", err)
		}
	})
	return func() *kubeapiserver.Server {
		t.Helper()
		<-done
		require.NoError(t, err, "cannot start the test control plane")
		return srv
	}
}

// synthNamespace is the namespace label synthtarget serves by default.
const synthNamespace = "synth"

// createSynthPods creates what the targets' labels name: node kubeNode with
// EKS topology labels, and per target a running pod of a Deployment's
// ReplicaSet (owner reference and pod-template-hash as the controllers set
// them; nothing reconciles them, so the ReplicaSet itself need not exist:
// k8smeta derives the Deployment from the names). The pods use the host's
// network, as the targets serve on the host's 127.0.0.1.
func createSynthPods(t *testing.T, ctx context.Context, admin kubernetes.Interface, ts *synthtarget.Set) {
	t.Helper()
	_, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: kubeNode, Labels: map[string]string{
		"kubernetes.io/hostname":           kubeNode,
		"topology.kubernetes.io/region":    testRegion,
		"topology.kubernetes.io/zone":      kubeZone,
		"node.kubernetes.io/instance-type": "m5.large",
		"eks.amazonaws.com/nodegroup":      "core",
		"eks.amazonaws.com/capacityType":   "ON_DEMAND",
	}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	require.NoError(t, kubeapiserver.EnsureNamespace(ctx, admin, synthNamespace))
	yes := true
	for _, tg := range ts.Targets() {
		rs, hash, deployment := replicaSetOf(tg.Pod())
		host, _, _ := strings.Cut(tg.Addr(), ":")
		pod, err := admin.CoreV1().Pods(synthNamespace).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: tg.Pod(), Namespace: synthNamespace,
				Labels: map[string]string{"app.kubernetes.io/name": deployment, "pod-template-hash": hash, versionKey: "v1"},
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs, UID: types.UID("uid-" + rs),
					Controller: &yes, BlockOwnerDeletion: &yes,
				}},
			},
			Spec: corev1.PodSpec{
				NodeName: kubeNode, HostNetwork: true,
				Containers: []corev1.Container{{Name: "app", Image: "example.com/synth:1"}},
			},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		_, err = kubeapiserver.MarkPodRunning(ctx, admin, pod, host)
		require.NoError(t, err)
	}
}

// replicaSetOf splits a Deployment pod's name <deployment>-<hash>-<suffix>.
func replicaSetOf(pod string) (rs, hash, deployment string) {
	rs = pod[:strings.LastIndexByte(pod, '-')]
	i := strings.LastIndexByte(rs, '-')
	return rs, rs[i+1:], rs[:i]
}

// kubeconfigBehindProxy gives ServiceAccount kubeSANS/kubeSAName the
// permissions the k8smeta README lists (waiting until RBAC enforces them),
// starts a TCP proxy to the API server and writes the ServiceAccount's
// kubeconfig with the proxy as server. TLS still verifies: the serving
// certificate is valid for 127.0.0.1.
func kubeconfigBehindProxy(t *testing.T, ctx context.Context, srv *kubeapiserver.Server, admin kubernetes.Interface, dir string) (*tcpproxy.Proxy, string) {
	t.Helper()
	require.NoError(t, kubeapiserver.EnsureNamespace(ctx, admin, kubeSANS))
	_, err := admin.CoreV1().ServiceAccounts(kubeSANS).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: kubeSAName}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "otelcol-eks-k8smeta"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "nodes"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"get"}},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "otelcol-eks-k8smeta"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "otelcol-eks-k8smeta"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: kubeSANS, Name: kubeSAName}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	path, err := srv.ServiceAccountKubeconfig(ctx, kubeSANS, kubeSAName, dir)
	require.NoError(t, err)
	direct, err := clientcmd.BuildConfigFromFlags("", path)
	require.NoError(t, err)
	sa, err := kubernetes.NewForConfig(direct)
	require.NoError(t, err)
	// RBAC bindings reach the authorizer through an informer: poll, so that
	// the collector meets no 403 once the API is reachable.
	waitFor(t, 30*time.Second, "the ServiceAccount's RBAC binding", func() bool {
		_, errPods := sa.CoreV1().Pods("").List(ctx, metav1.ListOptions{Limit: 1})
		_, errNodes := sa.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 1})
		return errPods == nil && errNodes == nil
	})

	proxy, err := tcpproxy.Start(tcpproxy.Config{Upstream: strings.TrimPrefix(srv.URL(), "https://")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = proxy.Close() })
	cfg, err := clientcmd.LoadFromFile(path)
	require.NoError(t, err)
	for _, cluster := range cfg.Clusters {
		cluster.Server = "https://" + proxy.Addr()
	}
	require.NoError(t, clientcmd.WriteToFile(*cfg, path))
	return proxy, path
}

// shippedK8smeta returns configs/daemonset.yaml's k8smeta processor section
// and its metrics pipeline's processors, in order.
func shippedK8smeta(t *testing.T) (k8smeta map[string]any, pipeline []string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "configs", "daemonset.yaml"))
	require.NoError(t, err)
	var cfg struct {
		Processors map[string]map[string]any `yaml:"processors"`
		Service    struct {
			Pipelines map[string]struct {
				Processors []string `yaml:"processors"`
			} `yaml:"pipelines"`
		} `yaml:"service"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	k8smeta = cfg.Processors["k8smeta"]
	require.NotNil(t, k8smeta, "configs/daemonset.yaml has no k8smeta processor")
	pipeline = cfg.Service.Pipelines["metrics"].Processors
	require.Contains(t, pipeline, "k8smeta", "configs/daemonset.yaml's metrics pipeline has no k8smeta")
	if _, ok := k8smeta["extract"].(map[string]any); !ok {
		k8smeta["extract"] = map[string]any{}
	}
	return k8smeta, pipeline
}

// scrapeClass counts a scrape's stored samples by what k8smeta wrote.
type scrapeClass struct {
	// plain have no workload label; full have every expected label, with
	// the pod label at v1 or v2; noTopology have every label of the pod
	// but none of its node's topology (the pods reflector has synced, the
	// nodes one not yet: each backs off on its own); wrong have anything
	// else.
	plain, full, v1, v2, noTopology, wrong int
}

func (sc scrapeClass) stored() int { return sc.plain + sc.full + sc.noTopology + sc.wrong }

// classifyScrapes classifies every stored sample of a scrape in s by its
// enrichment labels; wrong counts the samples of class wrong by what they
// lack or have wrong.
func classifyScrapes(s served, m model.Matrix) (classes map[scrapeKey]*scrapeClass, wrong map[string]int) {
	out := map[scrapeKey]*scrapeClass{}
	wrong = map[string]int{}
	last := map[string]int64{}
	for pod, scrapes := range s.byPod {
		if len(scrapes) > 0 {
			last[pod] = scrapes[len(scrapes)-1].Seq
		}
	}
	for _, ss := range m {
		pod := string(ss.Metric["pod"])
		_, _, deployment := replicaSetOf(pod)
		for _, v := range ss.Values {
			seq, ok := synthtarget.SeqOf(string(ss.Metric[model.MetricNameLabel]), string(ss.Metric["le"]), float64(v.Value))
			if !ok || seq > last[pod] {
				continue
			}
			k := scrapeKey{pod, seq}
			sc := out[k]
			if sc == nil {
				sc = &scrapeClass{}
				out[k] = sc
			}
			l := ss.Metric
			if l["workload"] == "" {
				sc.plain++
				continue
			}
			switch w := wrongEnrichment(l, deployment); w {
			case "":
			case noTopology:
				sc.noTopology++
				continue
			default:
				sc.wrong++
				wrong[w]++
				continue
			}
			sc.full++
			if l["version"] == "v1" {
				sc.v1++
			} else {
				sc.v2++
			}
		}
	}
	return out, wrong
}

// noTopology is what wrongEnrichment says of a sample enriched while the
// node was not cached yet.
const noTopology = `nodegroup="" zone=""`

// wrongEnrichment names the labels k8smeta should have written on an
// enriched sample of a pod of deployment and did not (or wrote wrong);
// "" when all are right. The labels the shipped configuration keeps off
// series (datapoint_labels_exclude) must be absent. (region is not
// checked: the shipped exporter sets it as an external label.)
func wrongEnrichment(l model.Metric, deployment string) string {
	want := map[model.LabelName]string{
		"workload": deployment, "workload_kind": "Deployment", "node": kubeNode,
		"zone": kubeZone, "nodegroup": "core",
		"deployment": "", "instance_type": "", "capacity_type": "",
	}
	var wrong []string
	for name, v := range want {
		if string(l[name]) != v {
			wrong = append(wrong, fmt.Sprintf("%s=%q", name, l[name]))
		}
	}
	if v := l["version"]; v != "v1" && v != "v2" {
		wrong = append(wrong, fmt.Sprintf("version=%q", v))
	}
	sort.Strings(wrong)
	return strings.Join(wrong, " ")
}

// waitStored polls Prometheus until, for every target, some stored scrape
// satisfies ok.
func waitStored(t *testing.T, b *backend, timeout time.Duration, what string, ok func(scrapeClass) bool, ts *synthtarget.Set) {
	t.Helper()
	waitFor(t, timeout, what, func() bool {
		m, err := b.rawSamples(context.Background())
		if err != nil {
			return false
		}
		s := snapshot(ts)
		pods := map[string]bool{}
		classes, _ := classifyScrapes(s, m)
		for k, sc := range classes {
			if ok(*sc) {
				pods[k.pod] = true
			}
		}
		return len(pods) == len(ts.Targets())
	})
}

// phaseMargin: scrapes served this close to the end of an outage are not
// held to what the outage implies (see assertKubePhases).
const phaseMargin = time.Second

type kubePhase struct {
	name     string
	from, to time.Time
}

// assertKubePhases checks every scrape of s against its phase (by the time
// it was served) and logs served and stored samples per phase:
//   - every scrape is stored exactly once, in one form only;
//   - phase 1 scrapes are unenriched;
//   - per pod, enrichment once complete stays complete (phases 3 and 4
//     included) and the pod label goes from v1 to v2 once, never back;
//   - phase 3 scrapes are enriched from the cache, still at v1.
func assertKubePhases(t *testing.T, s served, classes map[scrapeKey]*scrapeClass, phases []kubePhase) {
	t.Helper()
	type sums struct{ served, stored, plain, full, v2, noTopology int }
	per := make([]sums, len(phases))
	phaseOf := func(at time.Time) int {
		for i, p := range phases {
			if !at.Before(p.from) && at.Before(p.to) {
				return i
			}
		}
		t.Fatalf("scrape at %s is in no phase", at.Format("15:04:05.000"))
		return -1
	}
	pods := make([]string, 0, len(s.byPod))
	for pod := range s.byPod {
		pods = append(pods, pod)
	}
	sort.Strings(pods)
	for _, pod := range pods {
		var firstFull, firstV2 *synthtarget.Scrape
		for _, sc := range s.byPod[pod] {
			want := sc.LabelSets * synthtarget.SamplesPerLabelSet
			c := scrapeClass{}
			if got := classes[scrapeKey{pod, sc.Seq}]; got != nil {
				c = *got
			}
			i := phaseOf(sc.At)
			per[i].served += want
			per[i].stored += c.stored()
			per[i].plain += c.plain
			per[i].full += c.full
			per[i].v2 += c.v2
			per[i].noTopology += c.noTopology
			where := fmt.Sprintf("%s#%d served %s in phase %s", pod, sc.Seq, sc.At.Format("15:04:05.000"), phases[i].name)
			if c.noTopology > 0 {
				t.Logf("%s: %d of %d samples enriched before the node was cached", where, c.noTopology, want)
			}
			require.Equal(t, want, c.stored(), "%s: stored samples (%+v)", where, c)
			// One scrape is one enrich call under one cache read lock.
			require.True(t, c.plain == want || c.full == want || c.noTopology == want, "%s: stored in several forms (%+v)", where, c)
			// A scrape is enriched within milliseconds of being served, and
			// the reflectors need a TLS handshake and a list after the API
			// returns: the margin only keeps the check off that race.
			settled := !sc.At.After(phases[i].to.Add(-phaseMargin))
			if i == 0 && settled {
				require.Equal(t, want, c.plain, "%s: enriched although the API was unreachable (%+v)", where, c)
			}
			if firstFull != nil {
				require.Equal(t, want, c.full, "%s: no longer fully enriched (%+v)", where, c)
			} else if c.full == want {
				firstFull = &sc
			}
			if firstV2 != nil {
				require.Equal(t, want, c.v2, "%s: pod label went back to v1 (%+v)", where, c)
			} else if c.v2 == want {
				firstV2 = &sc
			}
			if i == 2 && settled {
				require.Equal(t, want, c.v1, "%s: not enriched from the cache during the cut (%+v)", where, c)
			}
		}
		require.NotNil(t, firstFull, "%s never enriched", pod)
		require.NotNil(t, firstV2, "%s never saw the label changed during the cut", pod)
		t.Logf("%s: first enriched scrape %s after the API returned, first v2 scrape %s after it returned again", pod,
			firstFull.At.Sub(phases[1].from).Round(time.Millisecond), firstV2.At.Sub(phases[3].from).Round(time.Millisecond))
	}
	for i, p := range phases {
		t.Logf("phase %s (%s): served %d samples, stored %d: %d unenriched, %d enriched (%d with the label changed during the cut), %d before the node was cached",
			p.name, phaseLength(p), per[i].served, per[i].stored, per[i].plain, per[i].full, per[i].v2, per[i].noTopology)
	}
}

func phaseLength(p kubePhase) string {
	if p.from.IsZero() {
		return "until " + p.to.Format("15:04:05")
	}
	if p.to.After(time.Now()) {
		return "from " + p.from.Format("15:04:05")
	}
	return p.to.Sub(p.from).Round(100 * time.Millisecond).String()
}

func since(t time.Time) string {
	return fmt.Sprintf("+%s", time.Since(t).Round(100*time.Millisecond))
}
