//go:build e2ek8s

package e2ek8s

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/otelcol-eks/otelcol-eks/test/harness/ordersdemo"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/kubeapiserver"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/promserver"
)

const (
	accessKeyID = "AKIDE2EK8S"
	secretKey   = "e2e/K8s+Secret/0123456789abcdefGHIJKLMN"
	region      = "us-west-2"
	clusterName = "e2e-k8s"
	// accountID starts with 0: the external label must keep it as written.
	accountID      = "012345678901"
	serviceAccount = "otelcol-eks" // deploy/base/serviceaccount.yaml
	clusterRole    = "otelcol-eks" // deploy/base/clusterrole.yaml

	// changeDeadline bounds how long a change in the cluster may take to
	// show in Prometheus: discovery's 5s update interval, a 2s scrape, a 1s
	// batch, with room for a loaded machine.
	changeDeadline = 45 * time.Second
)

// target is what the test expects k8smeta to have written on every series
// of one scraped pod.
type target struct {
	namespace, pod, workload, kind string
	node                           node
}

// TestWorkshopOnKubernetes is the workshop against a real API server, in two
// phases. With deploy/'s ClusterRole: every series carries its workload,
// node and zone; the Order Service dashboard's query answers exactly what the
// orders service counted; a pod added, a pod relabelled and a pod deleted
// during the run show within one discovery update; the API server answered
// the collector's ServiceAccount no 403. Then, with the nodes rule removed
// from the ClusterRole and the collector restarted: it logs the missing
// permission by name and goes on delivering data, with workload and node
// (from pods) but no zone (from nodes).
func TestWorkshopOnKubernetes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	kube := kubeapiserver.StartForTest(t, kubeapiserver.Options{})
	admin, err := kubernetes.NewForConfig(kube.AdminConfig())
	require.NoError(t, err)
	backend := startAMP(t)
	prom, standin := backend.prom, backend.standin

	c := newCluster(t, ctx, admin)
	// deploy/deployment as the README applies it: the ServiceAccount,
	// ClusterRoles and the resource whose configuration the collector runs.
	a := newApplier(t, kube.AdminConfig())
	a.installOperatorCRD(t, ctx)
	deployed := a.applyRendered(t, ctx, renderVariant(t, "deployment"))
	w := c.createWorkloads()

	// The workshop's orders pod, served by the demo orders service.
	ordersSvc, ordersPodObj := c.ordersPod(ctx, w, "orders-"+ordersHash+"-x7k2p", nodes[0])

	targets := []target{
		{"orders", ordersPodObj.Name, "orders", "Deployment", nodes[0]},
		{"catalog", "catalog-mysql-0", "catalog-mysql", "StatefulSet", nodes[1]},
		{"catalog", "catalog-cache-q8z4m", "catalog-cache", "ReplicaSet", nodes[1]},
		{"kube-system", "node-exporter-h5n2c", "node-exporter", "DaemonSet", nodes[2]},
		{"catalog", w.reportJobName + "-t9w3b", "report", "CronJob", nodes[2]},
	}
	c.runPod(podSpec{namespace: "catalog", name: "catalog-mysql-0", node: nodes[1].name, path: "/metrics",
		labels:  map[string]string{"app.kubernetes.io/name": "catalog-mysql", "app.kubernetes.io/version": "8.0", "statefulset.kubernetes.io/pod-name": "catalog-mysql-0"},
		owner:   controllerRef("StatefulSet", w.mysql),
		handler: fixedExposition("/metrics", "mysql_queries_total", 11)})
	c.runPod(podSpec{namespace: "catalog", name: "catalog-cache-q8z4m", node: nodes[1].name, path: "/metrics",
		labels:  map[string]string{"app.kubernetes.io/name": "catalog-cache"},
		owner:   controllerRef("ReplicaSet", w.standaloneRS),
		handler: fixedExposition("/metrics", "cache_hits_total", 22)})
	c.runPod(podSpec{namespace: "kube-system", name: "node-exporter-h5n2c", node: nodes[2].name, path: "/metrics",
		labels:  map[string]string{"app.kubernetes.io/name": "node-exporter"},
		owner:   controllerRef("DaemonSet", w.nodeExporter),
		handler: fixedExposition("/metrics", "node_scrapes_total", 33)})
	c.runPod(podSpec{namespace: "catalog", name: w.reportJobName + "-t9w3b", node: nodes[2].name, path: "/metrics",
		labels:  jobPodLabels(w.reportJob),
		owner:   controllerRef("Job", w.reportJob),
		handler: fixedExposition("/metrics", "report_rows_total", 44)})

	// The collector, as deploy/'s ServiceAccount with a TokenRequest token.
	dir := t.TempDir()
	kubeconfig, err := kube.ServiceAccountKubeconfig(ctx, deployNamespace, serviceAccount, dir)
	require.NoError(t, err)
	config, healthPort := offClusterConfig(t, operatorConfig(t, deployed["OpenTelemetryCollector/otelcol-eks"].Object), kubeconfig, "")
	// POD_NAME from the downward API; HOSTNAME the kubelet's.
	env := collectorEnv(dir, kubeconfig, backend, "POD_NAME="+collectorPod, "HOSTNAME="+collectorPod)
	started := time.Now()
	col := startCollector(t, config, healthPort, env)

	// 1. Every scraped pod is a target, and every series of it carries its
	// workload, node and zone, as k8smeta writes them.
	assertTargets(t, prom, targets, true)
	_, err = prom.WaitForQuery(queryCtx(t, changeDeadline), `{job="kubernetes-pods", __name__!="target_info"}`, time.Second,
		func(v model.Vector) bool { return len(v) > 0 })
	require.NoError(t, err)
	unenriched, err := prom.Query(ctx, `{job="kubernetes-pods", __name__!="target_info", workload=""} or {job="kubernetes-pods", __name__!="target_info", node=""} or {job="kubernetes-pods", __name__!="target_info", zone=""}`, time.Time{})
	require.NoError(t, err)
	require.Empty(t, unenriched, "series without workload, node or zone")
	t.Logf("phase 1: all %d targets enriched %s after the collector started", len(targets), time.Since(started).Round(time.Second))
	assertSelfMetrics(t, prom)

	// 2. The Order Service dashboard's query answers what the service
	// counted (paused, so both sides hold still).
	ordersSvc.Generator().Pause()
	want := ordersSvc.Store().Snapshot()
	require.NotEmpty(t, want.Products)
	got, err := prom.WaitForQuery(queryCtx(t, changeDeadline), `sum by(productId)(watch_orders_total{productId!="*"})`, time.Second,
		func(v model.Vector) bool {
			if len(v) != len(want.Products) {
				return false
			}
			for _, s := range v {
				if float64(s.Value) != float64(want.Products[string(s.Metric["productId"])]) {
					return false
				}
			}
			return true
		})
	require.NoError(t, err, "sum by(productId): %v, want %v", got, want.Products)
	ordersSvc.Generator().Resume()

	// 3. Changes during the run. Added: a second orders replica on another
	// node, in another zone.
	added := c.ordersReplica(w, "orders-"+ordersHash+"-m3v8r", nodes[1])
	targets = append(targets, target{"orders", added.Name, "orders", "Deployment", nodes[1]})
	// Deleted: the CronJob's pod. No kubelet confirms a graceful
	// termination here, so the pod goes at once (grace period 0), as it
	// does once the kubelet reports its containers gone.
	deleted := targets[4]
	var now int64
	require.NoError(t, admin.CoreV1().Pods(deleted.namespace).Delete(ctx, deleted.pod, metav1.DeleteOptions{GracePeriodSeconds: &now}))
	targets = append(targets[:4], targets[5:]...)
	changed := time.Now()

	assertTargets(t, prom, targets, true)
	_, err = prom.WaitForQuery(queryCtx(t, changeDeadline), fmt.Sprintf(`{pod=%q}`, deleted.pod), time.Second,
		func(v model.Vector) bool { return len(v) == 0 })
	require.NoError(t, err, "the deleted pod's series go stale")
	t.Logf("phase 1: add and delete reflected %s after the changes", time.Since(changed).Round(time.Second))

	// Relabelled: the StatefulSet pod's version label (labelmap'd by the
	// workshop's relabelling) changes. Only once the deletion has gone
	// through: the old and the new target of a relabelled pod share one
	// target_info series, so the old target's staleness markers arrive out
	// of order. AMP accepts them within its out-of-order window, as this
	// Prometheus does (promserver.DefaultConfig); a backend without one
	// refuses the whole request that carries them, with whatever else it
	// held (the deleted pod's markers, if sent together).
	c.setPodLabel("catalog", "catalog-mysql-0", "app.kubernetes.io/version", "8.4")
	changed = time.Now()
	_, err = prom.WaitForQuery(queryCtx(t, changeDeadline), `up{pod="catalog-mysql-0", app_kubernetes_io_version="8.4"} == 1`, time.Second,
		func(v model.Vector) bool { return len(v) == 1 })
	require.NoError(t, err, "relabelled pod")
	// ... and is no longer scraped under the old one. (No sample in the
	// last 6 s rather than "stale": on a backend without an out-of-order
	// window the old target's staleness markers are refused, as above, and
	// the old series only fade after the 5-minute lookback.)
	_, err = prom.WaitForQuery(queryCtx(t, changeDeadline), `count_over_time(up{pod="catalog-mysql-0", app_kubernetes_io_version="8.0"}[6s])`, time.Second,
		func(v model.Vector) bool { return len(v) == 0 })
	require.NoError(t, err, "the old label set is still scraped")
	t.Logf("phase 1: relabel reflected %s after the change", time.Since(changed).Round(time.Second))

	// 4. Not one forbidden answer to the collector's ServiceAccount, which
	// did list and watch pods and nodes (so the token and the role were used).
	user := kubeapiserver.ServiceAccountUser(deployNamespace, serviceAccount)
	calls := auditByUser(t, kube, user)
	require.Empty(t, calls[403], "forbidden answers to %s with deploy/'s ClusterRole", user)
	t.Logf("phase 1: %s's calls by status: %v", user, calls)
	for _, want := range []string{"watch pods", "watch nodes", "get replicasets"} {
		require.Contains(t, calls[200], want, "%s never did %q; its successful calls: %v", user, want, calls[200])
	}
	for _, e := range col.entries() {
		require.NotContains(t, strings.ToLower(e.str("msg")+" "+e.str("error")), "forbidden", "collector log: %v", e)
	}
	require.Zero(t, standin.Stats().RejectedTotal, "the stand-in rejected signatures")

	// Phase 2: remove the nodes rule from the ClusterRole and restart the
	// collector (running watches would keep their permission until they are
	// renewed, minutes later; a restart is where users meet the problem).
	col.stop(t)
	role, err := admin.RbacV1().ClusterRoles().Get(ctx, clusterRole, metav1.GetOptions{})
	require.NoError(t, err)
	var kept []rbacv1.PolicyRule
	for _, r := range role.Rules {
		if !(len(r.Resources) == 1 && r.Resources[0] == "nodes") {
			kept = append(kept, r)
		}
	}
	require.Len(t, kept, len(role.Rules)-1, "deploy/base/clusterrole.yaml has one rule for nodes")
	role.Rules = kept
	_, err = admin.RbacV1().ClusterRoles().Update(ctx, role, metav1.UpdateOptions{})
	require.NoError(t, err)
	asCollector := kubernetesAs(t, kube, ctx)
	waitFor(t, 10*time.Second, "RBAC to deny nodes", func() bool {
		_, err := asCollector.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 1})
		return err != nil && strings.Contains(err.Error(), "forbidden")
	})

	restarted := time.Now()
	col = startCollector(t, config, healthPort, env)
	var warning logEntry
	waitFor(t, changeDeadline, "the collector to log the missing nodes permission", func() bool {
		for _, e := range col.entries() {
			if strings.Contains(e.str("msg"), "missing RBAC permission") && strings.Contains(e.str("permission"), `resources: ["nodes"]`) {
				warning = e
				return true
			}
		}
		return false
	})
	require.Equal(t, "warn", warning.str("level"), "%v", warning)
	// client-go streams the initial list as a watch (WatchList), so the
	// refused call may be either; the hint names the whole triple to add.
	require.Contains(t, warning.str("permission"), `verbs: ["get", "list", "watch"]`, "%v", warning)
	t.Logf("phase 2: the collector said %q (%s)", warning.str("msg"), warning.str("permission"))
	refused := auditByUser(t, kube, user)[403]
	require.True(t, slices.Contains(refused, "watch nodes") || slices.Contains(refused, "list nodes"), "the API server refused: %v", refused)
	for _, call := range refused {
		require.True(t, strings.HasSuffix(call, " nodes"), "only the nodes calls may be refused: %v", refused)
	}

	// It keeps delivering: every pod's data arrives, with workload and node
	// (from pods) but without zone (from nodes).
	assertTargets(t, prom, targets, false)
	_, err = prom.WaitForQuery(queryCtx(t, changeDeadline), `sum(watch_orders_total{productId!="*", zone="", workload="orders"})`, time.Second,
		func(v model.Vector) bool { return len(v) == 1 && v[0].Value > 0 })
	require.NoError(t, err, "unenriched orders data keeps flowing")
	t.Logf("phase 2: unenriched data delivered %s after the restart", time.Since(restarted).Round(time.Second))
	require.Zero(t, standin.Stats().RejectedTotal, "the stand-in rejected signatures")
}

// collectorPod is the collector's pod name: POD_NAME (downward API), which
// the shipped configuration makes the instance of the collector's own
// metrics.
const collectorPod = "otelcol-eks-collector-6c9f8d7b5-k4m2x"

// assertSelfMetrics waits for the collector's own metrics, which the
// shipped configuration scrapes (prometheus/self, job otelcol-eks) and
// sends like everything else: one collector, instance its pod name, the
// external labels of every series, and its delivery queue, remote-write
// answers and k8smeta hits among them.
func assertSelfMetrics(t *testing.T, prom *promserver.Server) {
	t.Helper()
	up, err := prom.WaitForQuery(queryCtx(t, changeDeadline), `up{job="otelcol-eks"}`, time.Second,
		func(v model.Vector) bool { return len(v) > 0 })
	require.NoError(t, err, "the collector's own metrics never arrived")
	require.Len(t, up, 1, "one collector: %v", up)
	want := model.LabelSet{"job": "otelcol-eks", "instance": collectorPod, "cluster": clusterName, "account_id": accountID, "region": region}
	for k, v := range want {
		require.Equal(t, v, up[0].Metric[k], "label %s of the collector's own metrics: %v", k, up[0].Metric)
	}
	require.Equal(t, model.SampleValue(1), up[0].Value)
	for _, q := range []string{
		`otelcol_remote_write_queue_oldest_age{job="otelcol-eks"}`,
		`otelcol_remote_write_answers_total{job="otelcol-eks", code="204"} > 0`,
		`otelcol_k8smeta_associations_total{job="otelcol-eks", result="hit", source="datapoint_labels"} > 0`,
	} {
		v, err := prom.WaitForQuery(queryCtx(t, changeDeadline), q, time.Second, func(v model.Vector) bool { return len(v) == 1 })
		require.NoError(t, err, q)
		for k, val := range want {
			require.Equal(t, val, v[0].Metric[k], "%s: label %s: %v", q, k, v[0].Metric)
		}
	}
}

// ordersPod runs the workshop's orders pod (its Deployment's pod template
// labels and annotations) backed by a demo orders service on the pod's IP.
func (c *cluster) ordersPod(ctx context.Context, w workloads, name string, n node) (*ordersdemo.Server, *corev1.Pod) {
	c.t.Helper()
	ip := c.podIP()
	svc, err := ordersdemo.Start(ctx, ordersdemo.Config{
		Listen:    ip + ":0",
		Generator: ordersdemo.GeneratorConfig{OrdersPerSecond: 5, Seed: 7},
	})
	require.NoError(c.t, err)
	c.t.Cleanup(func() { _ = svc.Close() })
	return svc, c.createOrdersPod(w, name, n, ip, svc)
}

// ordersReplica is a second orders pod, another demo service.
func (c *cluster) ordersReplica(w workloads, name string, n node) *corev1.Pod {
	_, pod := c.ordersPod(c.ctx, w, name, n)
	return pod
}

func (c *cluster) createOrdersPod(w workloads, name string, n node, ip string, svc *ordersdemo.Server) *corev1.Pod {
	c.t.Helper()
	port := svc.Addr()[strings.LastIndex(svc.Addr(), ":")+1:]
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "orders", Name: name,
			// deploy/'s workshop reference: orders/deployment.yaml's template.
			Labels: map[string]string{
				"app.kubernetes.io/name":       "orders",
				"app.kubernetes.io/instance":   "orders",
				"app.kubernetes.io/component":  "service",
				"app.kubernetes.io/created-by": "eks-workshop",
				"pod-template-hash":            ordersHash,
			},
			Annotations: map[string]string{
				"prometheus.io/path":   ordersdemo.MetricsPath,
				"prometheus.io/port":   port,
				"prometheus.io/scrape": "true",
			},
			OwnerReferences: []metav1.OwnerReference{*controllerRef("ReplicaSet", w.ordersRS)},
		},
		Spec: corev1.PodSpec{
			NodeName: n.name,
			Containers: []corev1.Container{{
				Name: "orders", Image: "public.ecr.aws/aws-containers/retail-store-sample-orders:1.2.1",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(mustAtoi(c.t, port)), Protocol: corev1.ProtocolTCP}},
			}},
		},
	}
	created, err := c.client.CoreV1().Pods("orders").Create(c.ctx, pod, metav1.CreateOptions{})
	require.NoError(c.t, err)
	running, err := kubeapiserver.MarkPodRunning(c.ctx, c.client, created, ip)
	require.NoError(c.t, err)
	return running
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	_, err := fmt.Sscan(s, &n)
	require.NoError(t, err)
	return n
}

// assertTargets waits until exactly the expected pods are up, each with
// the labels k8smeta derives: workload, kind, node always; zone, node group
// and instance type when enriched (with the nodes permission), absent when
// not.
func assertTargets(t *testing.T, prom *promserver.Server, targets []target, enriched bool) {
	t.Helper()
	zone := `zone!=""`
	if !enriched {
		zone = `zone=""`
	}
	query := fmt.Sprintf(`up{job="kubernetes-pods", %s} == 1`, zone)
	var problems []string
	_, err := prom.WaitForQuery(queryCtx(t, changeDeadline), query, time.Second, func(v model.Vector) bool {
		problems = problems[:0]
		byPod := map[string]model.Metric{}
		for _, s := range v {
			byPod[string(s.Metric["pod"])] = s.Metric
		}
		for _, want := range targets {
			m, ok := byPod[want.pod]
			if !ok {
				problems = append(problems, want.pod+": not up")
				continue
			}
			delete(byPod, want.pod)
			expect := map[string]string{
				"namespace": want.namespace, "workload": want.workload, "workload_kind": want.kind,
				"node": want.node.name, "cluster": clusterName, "account_id": accountID, "region": region,
				// Kept off series by the shipped datapoint_labels_exclude.
				"deployment": "", "statefulset": "", "instance_type": "", "capacity_type": "",
			}
			if enriched {
				expect["zone"], expect["nodegroup"] = want.node.zone, want.node.nodegroup
			}
			for k, v := range expect {
				if string(m[model.LabelName(k)]) != v {
					problems = append(problems, fmt.Sprintf("%s: %s=%q, want %q", want.pod, k, m[model.LabelName(k)], v))
				}
			}
		}
		for pod := range byPod {
			problems = append(problems, pod+": up but not expected")
		}
		return len(problems) == 0
	})
	require.NoError(t, err, "targets: %v", problems)
}

// auditByUser groups the user's requests by response code, each once as
// "verb resource".
func auditByUser(t *testing.T, kube *kubeapiserver.Server, user string) map[int][]string {
	t.Helper()
	events, err := kube.AuditEvents()
	require.NoError(t, err)
	out := map[int][]string{}
	for _, e := range events {
		call := e.Verb + " " + e.Resource()
		if e.User.Username == user && !slices.Contains(out[e.Code()], call) {
			out[e.Code()] = append(out[e.Code()], call)
		}
	}
	return out
}

// kubernetesAs is a client authenticating as deploy/'s ServiceAccount.
func kubernetesAs(t *testing.T, kube *kubeapiserver.Server, ctx context.Context) kubernetes.Interface {
	t.Helper()
	cfg, err := kube.ServiceAccountConfig(ctx, deployNamespace, serviceAccount)
	require.NoError(t, err)
	client, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return client
}
