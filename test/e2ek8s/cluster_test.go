//go:build e2ek8s

package e2ek8s

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/kubeapiserver"
)

// node is an EKS-style worker: the labels k8smeta reads for topology.
type node struct {
	name, zone, nodegroup, instanceType, capacityType string
}

var nodes = []node{
	{"ip-10-0-1-10.us-west-2.compute.internal", "us-west-2a", "core", "m5.large", "ON_DEMAND"},
	{"ip-10-0-2-20.us-west-2.compute.internal", "us-west-2b", "core", "m5.large", "ON_DEMAND"},
	{"ip-10-0-3-30.us-west-2.compute.internal", "us-west-2c", "spot", "c6g.xlarge", "SPOT"},
}

func (n node) object() *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: map[string]string{
		"kubernetes.io/hostname":           n.name,
		"kubernetes.io/os":                 "linux",
		"topology.kubernetes.io/region":    "us-west-2",
		"topology.kubernetes.io/zone":      n.zone,
		"node.kubernetes.io/instance-type": n.instanceType,
		"eks.amazonaws.com/nodegroup":      n.nodegroup,
		"eks.amazonaws.com/capacityType":   n.capacityType,
	}}}
}

// cluster creates objects as the admin and tracks the loopback servers
// standing in for the pods' containers.
type cluster struct {
	t      *testing.T
	ctx    context.Context
	client kubernetes.Interface
	nextIP int
}

func newCluster(t *testing.T, ctx context.Context, client kubernetes.Interface) *cluster {
	t.Helper()
	c := &cluster{t: t, ctx: ctx, client: client, nextIP: 10}
	for _, n := range nodes {
		_, err := client.CoreV1().Nodes().Create(ctx, n.object(), metav1.CreateOptions{})
		require.NoError(t, err)
	}
	for _, ns := range []string{"orders", "catalog", "kube-system", deployNamespace} {
		require.NoError(t, kubeapiserver.EnsureNamespace(ctx, client, ns))
	}
	return c
}

// podIP hands out loopback addresses, one per pod. 127.88.0.0/16 is unlikely
// to be used by anything else on the machine; each address is only bound on
// a free port anyway.
func (c *cluster) podIP() string {
	c.nextIP++
	return fmt.Sprintf("127.88.0.%d", c.nextIP)
}

// serve starts an HTTP server on ip:0 with handler and returns its port.
func (c *cluster) serve(ip string, handler http.Handler) int {
	c.t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	require.NoError(c.t, err)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	c.t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// fixedExposition serves one counter in the Prometheus text format at path,
// as any instrumented application would.
func fixedExposition(path, name string, value int) http.Handler {
	body := fmt.Sprintf("# HELP %[1]s Requests served.\n# TYPE %[1]s counter\n%[1]s{code=\"200\"} %[2]d\n", name, value)
	mux := http.NewServeMux()
	mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(body))
	})
	return mux
}

// podSpec describes a scrape-annotated pod served on its own loopback IP.
type podSpec struct {
	namespace, name, node, path string
	labels                      map[string]string
	owner                       *metav1.OwnerReference
	handler                     http.Handler
}

// runPod creates the pod as its controller would (owner reference, node
// already chosen), serves its container on a fresh loopback IP and marks it
// Running on that IP, so service discovery makes it a scrape target.
func (c *cluster) runPod(s podSpec) *corev1.Pod {
	c.t.Helper()
	ip := c.podIP()
	port := c.serve(ip, s.handler)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: s.namespace, Name: s.name, Labels: s.labels,
			Annotations: map[string]string{
				"prometheus.io/scrape": "true",
				"prometheus.io/path":   s.path,
				"prometheus.io/port":   fmt.Sprint(port),
			},
		},
		Spec: corev1.PodSpec{
			NodeName: s.node,
			Containers: []corev1.Container{{
				Name: "app", Image: "example.com/app:1",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port), Protocol: corev1.ProtocolTCP}},
			}},
		},
	}
	if s.owner != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*s.owner}
	}
	created, err := c.client.CoreV1().Pods(s.namespace).Create(c.ctx, pod, metav1.CreateOptions{})
	require.NoError(c.t, err)
	running, err := kubeapiserver.MarkPodRunning(c.ctx, c.client, created, ip)
	require.NoError(c.t, err)
	return running
}

// controllerRef is the owner reference a controller of kind puts on what it
// creates.
func controllerRef(kind string, obj metav1.Object) *metav1.OwnerReference {
	apiVersion := "apps/v1"
	if kind == "Job" || kind == "CronJob" {
		apiVersion = "batch/v1"
	}
	yes := true
	return &metav1.OwnerReference{
		APIVersion: apiVersion, Kind: kind, Name: obj.GetName(), UID: obj.GetUID(),
		Controller: &yes, BlockOwnerDeletion: &yes,
	}
}

// deployNamespace is where deploy/'s kustomizations put everything.
const deployNamespace = "other"

// workloads creates the controllers whose pods the test runs. Nothing
// reconciles them (no controller manager): they exist for their names, UIDs
// and owner chains, which is what k8smeta reads.
type workloads struct {
	ordersRS, standaloneRS *appsv1.ReplicaSet
	mysql                  *appsv1.StatefulSet
	nodeExporter           *appsv1.DaemonSet
	reportJob              *batchv1.Job
	reportJobName          string
}

const ordersHash = "7d9f8b6c5d"

func (c *cluster) createWorkloads() workloads {
	t, ctx, client := c.t, c.ctx, c.client
	var w workloads
	var err error
	replicas := int32(1)
	sel := func(app string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": app}}
	}
	tmpl := func(app string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/name": app}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/app:1"}}},
		}
	}

	orders, err := client.AppsV1().Deployments("orders").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "orders"},
		Spec:       appsv1.DeploymentSpec{Replicas: &replicas, Selector: sel("orders"), Template: tmpl("orders")},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	rsTmpl := tmpl("orders")
	rsTmpl.Labels["pod-template-hash"] = ordersHash
	w.ordersRS, err = client.AppsV1().ReplicaSets("orders").Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: "orders-" + ordersHash, Labels: rsTmpl.Labels,
			OwnerReferences: []metav1.OwnerReference{*controllerRef("Deployment", orders)},
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: rsTmpl.Labels}, Template: rsTmpl},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	// A ReplicaSet of its own (no Deployment, no pod-template-hash): k8smeta
	// must GET it to learn it has no owner, with the ClusterRole's
	// replicasets get.
	w.standaloneRS, err = client.AppsV1().ReplicaSets("catalog").Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "catalog-cache"},
		Spec:       appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: sel("catalog-cache"), Template: tmpl("catalog-cache")},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	w.mysql, err = client.AppsV1().StatefulSets("catalog").Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "catalog-mysql"},
		Spec:       appsv1.StatefulSetSpec{Replicas: &replicas, Selector: sel("catalog-mysql"), Template: tmpl("catalog-mysql")},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	w.nodeExporter, err = client.AppsV1().DaemonSets("kube-system").Create(ctx, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "node-exporter"},
		Spec:       appsv1.DaemonSetSpec{Selector: sel("node-exporter"), Template: tmpl("node-exporter")},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	jobTmpl := tmpl("report")
	jobTmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	cron, err := client.BatchV1().CronJobs("catalog").Create(ctx, &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "report"},
		Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", JobTemplate: batchv1.JobTemplateSpec{
			Spec: batchv1.JobSpec{Template: jobTmpl},
		}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	// The CronJob controller names a Job <cronjob>-<minutes since epoch>.
	w.reportJobName = fmt.Sprintf("report-%d", time.Now().Unix()/60)
	jobTmpl.Labels = nil // the API server adds the Job's own selector labels
	w.reportJob, err = client.BatchV1().Jobs("catalog").Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:            w.reportJobName,
			OwnerReferences: []metav1.OwnerReference{*controllerRef("CronJob", cron)},
		},
		Spec: batchv1.JobSpec{Template: jobTmpl},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	return w
}

// jobPodLabels are the labels the Job controller puts on its pods and the
// API server put in the Job's selector.
func jobPodLabels(job *batchv1.Job) map[string]string {
	return map[string]string{
		"batch.kubernetes.io/controller-uid": string(job.UID),
		"batch.kubernetes.io/job-name":       job.Name,
		"controller-uid":                     string(job.UID),
		"job-name":                           job.Name,
	}
}

// setPodLabel changes one label of a running pod (a strategic merge patch,
// as `kubectl label --overwrite` does).
func (c *cluster) setPodLabel(namespace, name, key, value string) {
	c.t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, key, value)
	_, err := c.client.CoreV1().Pods(namespace).Patch(c.ctx, name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	require.NoError(c.t, err)
}
