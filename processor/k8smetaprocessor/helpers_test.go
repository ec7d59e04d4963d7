package k8smetaprocessor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"sigs.k8s.io/yaml"

	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/kubemeta"
	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/kubemeta/kubemetatest"
)

// Test helpers shared by the tests, fuzz tests and benchmarks of this
// package.

// fakeStore is a kubemeta.Store over maps. Pods, nodes and namespaces are
// given with all their labels; the store keeps the values of the labels
// the processor's configuration asks for, in its order, as kubemeta does.
type fakeStore struct {
	byUID      map[string]*kubemeta.Pod
	byName     map[[2]string]*kubemeta.Pod
	byIP       map[string]*kubemeta.Pod
	nodes      map[string]*kubemeta.Node
	namespaces map[string]*kubemeta.Namespace
}

// fakePod is a pod and all its labels.
type fakePod struct {
	kubemeta.Pod
	labels map[string]string
}

// fakeNode is a node's topology and all its labels.
type fakeNode struct {
	kubemeta.Node
	name   string
	labels map[string]string
}

func newFakeStore(cfg *Config, pods []fakePod, nodes []fakeNode, namespaces map[string]map[string]string) *fakeStore {
	s := &fakeStore{
		byUID: map[string]*kubemeta.Pod{}, byName: map[[2]string]*kubemeta.Pod{}, byIP: map[string]*kubemeta.Pod{},
		nodes: map[string]*kubemeta.Node{}, namespaces: map[string]*kubemeta.Namespace{},
	}
	for _, p := range pods {
		s.putPod(cfg, p)
	}
	for _, n := range nodes {
		s.putNode(cfg, n)
	}
	for name, labels := range namespaces {
		s.namespaces[name] = &kubemeta.Namespace{Labels: values(labels, cfg.Extract.NamespaceLabels)}
	}
	return s
}

// putPod adds or replaces a pod; the Pod read before is not modified.
func (s *fakeStore) putPod(cfg *Config, p fakePod) {
	pod := p.Pod
	pod.Labels = values(p.labels, cfg.Extract.PodLabels)
	s.byUID[pod.UID] = &pod
	s.byName[[2]string{pod.Namespace, pod.Name}] = &pod
	if pod.IP != "" {
		s.byIP[pod.IP] = &pod
	}
}

func (s *fakeStore) putNode(cfg *Config, n fakeNode) {
	node := n.Node
	node.Labels = values(n.labels, cfg.Extract.NodeLabels)
	s.nodes[n.name] = &node
}

func values(labels map[string]string, allow []LabelConfig) []string {
	out := make([]string, len(allow))
	for i, l := range allow {
		out[i] = labels[l.Key]
	}
	return out
}

func (s *fakeStore) PodByUID(uid string) *kubemeta.Pod { return s.byUID[uid] }
func (s *fakeStore) PodByName(ns, name string) *kubemeta.Pod {
	return s.byName[[2]string{ns, name}]
}
func (s *fakeStore) PodByIP(ip string) *kubemeta.Pod           { return s.byIP[ip] }
func (s *fakeStore) Node(name string) *kubemeta.Node           { return s.nodes[name] }
func (s *fakeStore) Namespace(name string) *kubemeta.Namespace { return s.namespaces[name] }

var _ kubemeta.Store = (*fakeStore)(nil)

// newTestProcessor returns a processor that reads store (nil: none), with
// no cache of its own.
func newTestProcessor(tb testing.TB, cfg *Config, store kubemeta.Store) *k8smetaProcessor {
	tb.Helper()
	p, err := newK8smetaProcessor(cfg, componenttest.NewNopTelemetrySettings(), nil)
	require.NoError(tb, err)
	p.store = store
	return p
}

// deploymentPod is pod <name>-7d4b9c8f6-x2x7q of Deployment name on
// node-a, labelled app=name.
func deploymentPod(ns, name, uid, ip string) fakePod {
	return fakePod{
		Pod: kubemeta.Pod{
			UID: uid, Namespace: ns, Name: name + "-7d4b9c8f6-x2x7q", IP: ip, Node: "node-a",
			Workload: kubemeta.Workload{Kind: kubemeta.KindDeployment, Name: name},
		},
		labels: map[string]string{"app": name},
	}
}

// nodeA is an EKS managed node group's node.
var nodeA = fakeNode{name: "node-a", Node: kubemeta.Node{
	Zone: "eu-west-1a", Region: "eu-west-1", InstanceType: "m7g.xlarge", Nodegroup: "general", CapacityType: "ON_DEMAND",
}}

// gaugeBatch is one resource, with the attribute key=value, and one gauge
// of n points; attrs sets the attributes of point i.
func gaugeBatch(key, value string, n int, attrs func(i int, a pcommon.Map)) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(key, value)
	dps := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge().DataPoints()
	for i := range n {
		dp := dps.AppendEmpty()
		dp.SetIntValue(int64(i))
		attrs(i, dp.Attributes())
	}
	return md
}

// resourceBatch is one scrape of one pod identified by its resource
// (k8s.pod.uid uid-000001): n points of one gauge.
func resourceBatch(n int) pmetric.Metrics {
	return gaugeBatch(attrPodUID, "uid-000001", n, func(_ int, a pcommon.Map) { a.PutStr("method", "GET") })
}

// flatten lists every attribute map of md, resources then their points,
// as ordered "key", "type:value" pairs.
func flatten(md pmetric.Metrics) [][]string {
	var out [][]string
	list := func(m pcommon.Map) {
		kv := []string{}
		for k, v := range m.All() {
			kv = append(kv, k, v.Type().String()+":"+v.AsString())
		}
		out = append(out, kv)
	}
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		list(rms.At(i).Resource().Attributes())
		sms := rms.At(i).ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				forEachPointAttributes(ms.At(k), list)
			}
		}
	}
	return out
}

// loadObjects reads Kubernetes objects for the fake API from a YAML file
// of this package's testdata.
func loadObjects(tb testing.TB, path string) kubemetatest.Objects {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Clean(path))
	require.NoError(tb, err)
	var objs kubemetatest.Objects
	require.NoError(tb, yaml.UnmarshalStrict(raw, &objs))
	return objs
}

// fakeClients serves objs through client-go fakes.
func fakeClients(objs kubemetatest.Objects) Clients {
	kube, md := kubemetatest.FakeClients(objs)
	return Clients{Kube: kube, Metadata: md}
}
