package k8smetaprocessor

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/kubemeta"
)

// The cluster of these tests: namespace shop (team=checkout) with
//   - orders-7d4b9c8f6-x2x7q (uid-1, 10.0.0.1), Deployment orders, on node-a
//     (an EKS managed node group's node);
//   - report-29408160-abcde (uid-2), CronJob report, on node-b (Karpenter);
//   - migrate-xyz (uid-3), Job migrate, on node-b;
//   - debug (uid-4), a bare pod on node-gone, a node the store does not know.
func testPods() []fakePod {
	return []fakePod{
		deploymentPod("shop", "orders", "uid-1", "10.0.0.1"),
		{Pod: kubemeta.Pod{UID: "uid-2", Namespace: "shop", Name: "report-29408160-abcde", IP: "10.0.0.2", Node: "node-b",
			Workload:  kubemeta.Workload{Kind: kubemeta.KindCronJob, Name: "report", Job: "report-29408160"},
			StartTime: "2026-01-02T03:04:05Z"}, labels: map[string]string{"app": "report"}},
		{Pod: kubemeta.Pod{UID: "uid-3", Namespace: "shop", Name: "migrate-xyz", IP: "10.0.0.3", Node: "node-b",
			Workload: kubemeta.Workload{Kind: kubemeta.KindJob, Name: "migrate"}}},
		{Pod: kubemeta.Pod{UID: "uid-4", Namespace: "shop", Name: "debug", Node: "node-gone",
			Workload: kubemeta.Workload{Kind: kubemeta.KindPod, Name: "debug"}}},
	}
}

var nodeB = fakeNode{name: "node-b", Node: kubemeta.Node{
	Zone: "eu-west-1b", Region: "eu-west-1", InstanceType: "c7g.large", CapacityType: "spot", KarpenterCapacity: true, Nodepool: "burst",
}, labels: map[string]string{"team": "infra"}}

func testStore(cfg *Config) *fakeStore {
	return newFakeStore(cfg, testPods(), []fakeNode{nodeA, nodeB}, map[string]map[string]string{"shop": {"team": "checkout"}})
}

// putAll puts kvs (key, value, key, value…; string or int values) into m.
func putAll(m pcommon.Map, kvs ...any) {
	for i := 0; i < len(kvs); i += 2 {
		switch v := kvs[i+1].(type) {
		case string:
			m.PutStr(kvs[i].(string), v)
		case int:
			m.PutInt(kvs[i].(string), int64(v))
		}
	}
}

// render lists m as "key=value" in order, "key=int:value" for ints.
func render(m pcommon.Map) []string {
	out := []string{}
	for k, v := range m.All() {
		if v.Type() == pcommon.ValueTypeStr {
			out = append(out, k+"="+v.Str())
		} else {
			out = append(out, k+"="+v.Type().String()+":"+v.AsString())
		}
	}
	return out
}

// TestEnrichPoint: what is written on a data point that names its pod
// (namespace and pod labels), by configuration and by what the point
// already carries.
func TestEnrichPoint(t *testing.T) {
	f := func(configure func(*Config), point []any, want ...string) {
		t.Helper()
		cfg := createDefaultConfig()
		cfg.ClusterName = "prod"
		cfg.Extract.NodeTopology = true
		configure(cfg)
		require.NoError(t, cfg.Validate())
		md := pmetric.NewMetrics()
		attrs := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().
			SetEmptyGauge().DataPoints().AppendEmpty().Attributes()
		putAll(attrs, point...)
		newTestProcessor(t, cfg, testStore(cfg)).enrich(md)
		require.Equal(t, want, render(attrs))
	}
	same := func(*Config) {}
	orders := []any{"namespace", "shop", "pod", "orders-7d4b9c8f6-x2x7q"}

	f(same, orders, "namespace=shop", "pod=orders-7d4b9c8f6-x2x7q",
		"cluster=prod", "workload_kind=Deployment", "workload=orders", "deployment=orders", "node=node-a",
		"zone=eu-west-1a", "region=eu-west-1", "instance_type=m7g.xlarge", "nodegroup=general", "capacity_type=ON_DEMAND")
	// A CronJob's pod on a Karpenter node.
	f(same, []any{"namespace", "shop", "pod", "report-29408160-abcde"}, "namespace=shop", "pod=report-29408160-abcde",
		"cluster=prod", "workload_kind=CronJob", "workload=report", "cronjob=report", "job_name=report-29408160", "node=node-b",
		"zone=eu-west-1b", "region=eu-west-1", "instance_type=c7g.large", "capacity_type=spot", "nodepool=burst")
	// A Job's pod: job_name once.
	f(func(c *Config) { c.Extract.NodeTopology = false }, []any{"namespace", "shop", "pod", "migrate-xyz"},
		"namespace=shop", "pod=migrate-xyz", "cluster=prod", "workload_kind=Job", "workload=migrate", "job_name=migrate", "node=node-b")
	// A pod on a node the store does not know: no topology.
	f(same, []any{"namespace", "shop", "pod", "debug"},
		"namespace=shop", "pod=debug", "cluster=prod", "workload_kind=Pod", "workload=debug", "node=node-gone")
	// An unknown pod, or no pod named: the cluster name only.
	f(same, []any{"namespace", "shop", "pod", "unknown"}, "namespace=shop", "pod=unknown", "cluster=prod")
	f(same, []any{"namespace", "shop", "pod", ""}, "namespace=shop", "pod=", "cluster=prod")
	f(same, []any{"namespace", 1, "pod", "orders-7d4b9c8f6-x2x7q"}, "namespace=Int:1", "pod=orders-7d4b9c8f6-x2x7q", "cluster=prod")

	// Values already there: an empty string is replaced where it is;
	// anything else is kept, a non-string value too.
	preset := append(slices.Clone(orders), "workload", "", "zone", "custom", "node", 7)
	f(same, preset, "namespace=shop", "pod=orders-7d4b9c8f6-x2x7q", "workload=orders", "zone=custom", "node=Int:7",
		"cluster=prod", "workload_kind=Deployment", "deployment=orders",
		"region=eu-west-1", "instance_type=m7g.xlarge", "nodegroup=general", "capacity_type=ON_DEMAND")
	// With overwrite everything written is replaced, where it is.
	f(func(c *Config) { c.Overwrite = true }, preset,
		"namespace=shop", "pod=orders-7d4b9c8f6-x2x7q", "workload=orders", "zone=eu-west-1a", "node=node-a",
		"cluster=prod", "workload_kind=Deployment", "deployment=orders",
		"region=eu-west-1", "instance_type=m7g.xlarge", "nodegroup=general", "capacity_type=ON_DEMAND")

	// A tag equal to a built-in label: as if written in turn, the first
	// non-empty value wins (pod labels come before the topology), or the
	// last with overwrite, at the first one's place.
	zoneTag := func(c *Config) {
		c.Extract.PodLabels = []LabelConfig{{Key: "app", Tag: "zone"}}
		c.Extract.NodeTopology = true
	}
	f(func(c *Config) {
		zoneTag(c)
		c.DatapointLabelsExclude = []string{"region", "instance_type", "nodegroup", "capacity_type"}
	},
		orders, "namespace=shop", "pod=orders-7d4b9c8f6-x2x7q",
		"cluster=prod", "workload_kind=Deployment", "workload=orders", "deployment=orders", "node=node-a", "zone=orders")
	f(func(c *Config) {
		zoneTag(c)
		c.Overwrite = true
		c.DatapointLabelsExclude = []string{"region", "instance_type", "nodegroup", "capacity_type"}
	}, orders, "namespace=shop", "pod=orders-7d4b9c8f6-x2x7q",
		"cluster=prod", "workload_kind=Deployment", "workload=orders", "deployment=orders", "node=node-a", "zone=eu-west-1a")

	// Identity, labels of the pod, node and namespace; default tags.
	f(func(c *Config) {
		c.ClusterName = ""
		c.Extract = ExtractConfig{
			PodUID: true, PodStartTime: true,
			PodLabels:       []LabelConfig{{Key: "app"}},
			NodeLabels:      []LabelConfig{{Key: "team", Tag: "node_team"}},
			NamespaceLabels: []LabelConfig{{Key: "team"}},
		}
	}, []any{"namespace", "shop", "pod", "report-29408160-abcde"}, "namespace=shop", "pod=report-29408160-abcde",
		"pod_uid=uid-2", "pod_start_time=2026-01-02T03:04:05Z", "app=report", "node_team=infra", "team=checkout")

	// Excluded labels are not written.
	f(func(c *Config) {
		c.DatapointLabelsExclude = []string{"cluster", "deployment", "region", "capacity_type"}
	}, orders,
		"namespace=shop", "pod=orders-7d4b9c8f6-x2x7q", "workload_kind=Deployment", "workload=orders", "node=node-a",
		"zone=eu-west-1a", "instance_type=m7g.xlarge", "nodegroup=general")
	// Other association labels.
	f(func(c *Config) {
		c.Associations[0].NamespaceLabel, c.Associations[0].PodLabel = "exported_namespace", "exported_pod"
	},
		[]any{"namespace", "other", "exported_namespace", "shop", "exported_pod", "migrate-xyz"},
		"namespace=other", "exported_namespace=shop", "exported_pod=migrate-xyz",
		"cluster=prod", "workload_kind=Job", "workload=migrate", "job_name=migrate", "node=node-b",
		"zone=eu-west-1b", "region=eu-west-1", "instance_type=c7g.large", "capacity_type=spot", "nodepool=burst")
}

// TestEnrichResource: a resource-level match writes semantic-convention
// attributes on the resource and labels on every point that does not name
// a pod of its own; the association order decides which pod a point that
// names another one gets.
func TestEnrichResource(t *testing.T) {
	f := func(configure func(*Config), resource []any, wantResource []string, wantPoints [][]string, wantCounts map[string][2]int64) {
		t.Helper()
		cfg := createDefaultConfig()
		cfg.ClusterName = "prod"
		configure(cfg)
		require.NoError(t, cfg.Validate())
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		putAll(rm.Resource().Attributes(), resource...)
		dps := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptySum().DataPoints()
		putAll(dps.AppendEmpty().Attributes(), "code", "200")
		putAll(dps.AppendEmpty().Attributes(), "namespace", "shop", "pod", "migrate-xyz")
		counts := newTestProcessor(t, cfg, testStore(cfg)).enrich(md)
		require.Equal(t, wantResource, render(rm.Resource().Attributes()))
		var points [][]string
		for _, dp := range dps.All() {
			points = append(points, render(dp.Attributes()))
		}
		require.Equal(t, wantPoints, points)
		gotCounts := map[string][2]int64{}
		for s, c := range counts {
			if c != [2]int64{} {
				gotCounts[sourceNames[s]] = c
			}
		}
		require.Equal(t, wantCounts, gotCounts)
	}
	same := func(*Config) {}
	ordersPoint := []string{"code=200", "cluster=prod", "workload_kind=Deployment", "workload=orders", "deployment=orders", "node=node-a"}
	migratePoint := []string{"namespace=shop", "pod=migrate-xyz", "cluster=prod", "workload_kind=Job", "workload=migrate", "job_name=migrate", "node=node-b"}

	f(same, []any{attrPodUID, "uid-1"},
		[]string{attrPodUID + "=uid-1", "k8s.cluster.name=prod", "k8s.deployment.name=orders", "k8s.node.name=node-a"},
		[][]string{ordersPoint, migratePoint},
		map[string][2]int64{SourceDatapointLabels: {0, 1}, SourcePodUID: {0, 1}})
	// By name, then by IP (server.address when k8s.pod.ip is absent); a
	// miss is counted, and the next source tried.
	f(same, []any{attrNamespaceName, "shop", attrPodName, "nope", attrServerAddress, "10.0.0.1"},
		[]string{attrNamespaceName + "=shop", attrPodName + "=nope", attrServerAddress + "=10.0.0.1",
			"k8s.cluster.name=prod", "k8s.deployment.name=orders", "k8s.node.name=node-a"},
		[][]string{ordersPoint, migratePoint},
		map[string][2]int64{SourceDatapointLabels: {0, 1}, SourcePodName: {1, 0}, SourcePodIP: {0, 1}})
	// pod_uid before datapoint_labels: every point gets the resource's pod.
	f(func(c *Config) { c.Associations = []AssociationConfig{{Source: SourcePodUID}, c.Associations[0]} }, []any{attrPodUID, "uid-1"},
		[]string{attrPodUID + "=uid-1", "k8s.cluster.name=prod", "k8s.deployment.name=orders", "k8s.node.name=node-a"},
		[][]string{ordersPoint, append([]string{"namespace=shop", "pod=migrate-xyz"}, ordersPoint[1:]...)},
		map[string][2]int64{SourcePodUID: {0, 1}})
	// Values already on the resource are kept; an excluded label is still
	// written on the resource.
	f(func(c *Config) { c.DatapointLabelsExclude = []string{"deployment"} }, []any{attrPodUID, "uid-1", "k8s.deployment.name", "set-by-receiver"},
		[]string{attrPodUID + "=uid-1", "k8s.deployment.name=set-by-receiver", "k8s.cluster.name=prod", "k8s.node.name=node-a"},
		[][]string{{"code=200", "cluster=prod", "workload_kind=Deployment", "workload=orders", "node=node-a"},
			migratePoint},
		map[string][2]int64{SourceDatapointLabels: {0, 1}, SourcePodUID: {0, 1}})
	// No pod for the resource: its points get the cluster name.
	f(same, []any{attrPodUID, "uid-9"}, []string{attrPodUID + "=uid-9", "k8s.cluster.name=prod"},
		[][]string{{"code=200", "cluster=prod"}, migratePoint},
		map[string][2]int64{SourceDatapointLabels: {0, 1}, SourcePodUID: {1, 0}})
	// Only resource attributes, or only labels.
	f(func(c *Config) { c.DatapointLabels, c.Associations = false, c.Associations[1:] }, []any{attrPodUID, "uid-1"},
		[]string{attrPodUID + "=uid-1", "k8s.cluster.name=prod", "k8s.deployment.name=orders", "k8s.node.name=node-a"},
		[][]string{{"code=200"}, {"namespace=shop", "pod=migrate-xyz"}},
		map[string][2]int64{SourcePodUID: {0, 1}})
	f(func(c *Config) { c.ResourceAttributes = false }, []any{attrPodUID, "uid-1"}, []string{attrPodUID + "=uid-1"},
		[][]string{ordersPoint, migratePoint},
		map[string][2]int64{SourceDatapointLabels: {0, 1}, SourcePodUID: {0, 1}})
}

// TestNoStore: with auth_type none, or before start, only the cluster name
// is written, on resources and points.
func TestNoStore(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.ClusterName = "prod"
	md := resourceBatch(2)
	counts := newTestProcessor(t, cfg, nil).enrich(md)
	require.Equal(t, assocCounts{}, counts)
	require.Equal(t, [][]string{
		{attrPodUID, "Str:uid-000001", "k8s.cluster.name", "Str:prod"},
		{"method", "Str:GET", "cluster", "Str:prod"},
		{"method", "Str:GET", "cluster", "Str:prod"},
	}, flatten(md))
}

// TestDuplicateKeys: OTLP data may repeat an attribute key (the Prometheus
// receiver never does); reads and writes see the first occurrence, as
// pcommon.Map.Get does.
func TestDuplicateKeys(t *testing.T) {
	const input = `{"resourceMetrics":[{"resource":{"attributes":[
	 {"key":"k8s.pod.uid","value":{"intValue":"1"}},{"key":"k8s.pod.uid","value":{"stringValue":"uid-1"}},
	 {"key":"k8s.node.name","value":{"stringValue":""}},{"key":"k8s.node.name","value":{"stringValue":"other"}}]},
	 "scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[
	  {"asInt":"1","attributes":[{"key":"namespace","value":{"intValue":"1"}},{"key":"namespace","value":{"stringValue":"shop"}},
	   {"key":"pod","value":{"stringValue":"migrate-xyz"}},{"key":"zone","value":{"stringValue":""}},{"key":"zone","value":{"stringValue":"x"}}]},
	  {"asInt":"2","attributes":[{"key":"namespace","value":{"stringValue":"shop"}},{"key":"pod","value":{"stringValue":"migrate-xyz"}},
	   {"key":"pod","value":{"stringValue":"orders-7d4b9c8f6-x2x7q"}},{"key":"node","value":{"stringValue":"n1"}},{"key":"node","value":{"stringValue":""}}]}]}}]}]}]}`
	cfg := createDefaultConfig()
	cfg.Extract.NodeTopology = true
	cfg.DatapointLabelsExclude = []string{"region", "instance_type", "capacity_type", "nodepool"}
	md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics([]byte(input))
	require.NoError(t, err)
	counts := newTestProcessor(t, cfg, testStore(cfg)).enrich(md)
	require.Equal(t, [][]string{
		// k8s.pod.uid is first an int: no association by UID; nor by
		// name or IP (absent): the resource has no pod.
		{"k8s.pod.uid", "Int:1", "k8s.pod.uid", "Str:uid-1", "k8s.node.name", "Str:", "k8s.node.name", "Str:other"},
		// namespace is first an int: no association; nothing written.
		{"namespace", "Int:1", "namespace", "Str:shop", "pod", "Str:migrate-xyz", "zone", "Str:", "zone", "Str:x"},
		// pod is first migrate-xyz; the first node is kept.
		{"namespace", "Str:shop", "pod", "Str:migrate-xyz", "pod", "Str:orders-7d4b9c8f6-x2x7q", "node", "Str:n1", "node", "Str:",
			"workload_kind", "Str:Job", "workload", "Str:migrate", "job_name", "Str:migrate", "zone", "Str:eu-west-1b"},
	}, flatten(md))
	require.Equal(t, int64(1), counts[srcDatapoint][1])
}

// TestEnrichmentFollowsStore checks that what is written follows every
// change of what it is built from, between batches of one processor: the
// pod, its node and its namespace.
func TestEnrichmentFollowsStore(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Extract.NodeTopology = true
	cfg.Extract.PodLabels = []LabelConfig{{Key: "app"}}
	cfg.Extract.NamespaceLabels = []LabelConfig{{Key: "team"}}
	store := testStore(cfg)
	p := newTestProcessor(t, cfg, store)

	// f applies change to the store, enriches a fresh point of the pod and
	// compares the labels named in want ("" means absent).
	f := func(change func(), want map[string]string) {
		t.Helper()
		change()
		md := pmetric.NewMetrics()
		attrs := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().
			SetEmptyGauge().DataPoints().AppendEmpty().Attributes()
		putAll(attrs, "namespace", "shop", "pod", "orders-7d4b9c8f6-x2x7q")
		p.enrich(md)
		for k, v := range want {
			got, ok := attrs.Get(k)
			if v == "" {
				require.False(t, ok, "%s should be absent", k)
				continue
			}
			require.True(t, ok, "%s missing", k)
			require.Equal(t, v, got.Str(), k)
		}
	}
	f(func() {}, map[string]string{"zone": "eu-west-1a", "app": "orders", "team": "checkout", "deployment": "orders"})
	f(func() {
		store.putNode(cfg, fakeNode{name: "node-a", Node: kubemeta.Node{Zone: "eu-west-1b"}})
	}, map[string]string{"zone": "eu-west-1b", "region": ""})
	f(func() {
		store.namespaces["shop"] = &kubemeta.Namespace{Labels: []string{"payments"}}
	}, map[string]string{"team": "payments", "zone": "eu-west-1b"})
	relabelled := deploymentPod("shop", "orders", "uid-1", "10.0.0.1")
	relabelled.labels["app"] = "orders-v2"
	f(func() { store.putPod(cfg, relabelled) }, map[string]string{"app": "orders-v2", "team": "payments"})
	f(func() { delete(store.nodes, "node-a") }, map[string]string{"zone": "", "app": "orders-v2"})
	f(func() { delete(store.namespaces, "shop") }, map[string]string{"team": "", "app": "orders-v2"})
}

// randomConfig stresses the corner cases: tags equal to built-in names and
// to the association labels, overwrite, exclusions, any association order.
func randomConfig(rng *rand.Rand, i int) *Config {
	cfg := createDefaultConfig()
	cfg.Overwrite = i%2 == 1
	if rng.IntN(3) > 0 {
		cfg.ClusterName = "prod"
	}
	cfg.ResourceAttributes = rng.IntN(4) > 0
	cfg.DatapointLabels = !cfg.ResourceAttributes || rng.IntN(6) > 0
	cfg.Extract.Workload = rng.IntN(4) > 0
	cfg.Extract.Node = rng.IntN(2) > 0
	cfg.Extract.NodeTopology = rng.IntN(3) > 0
	cfg.Extract.PodUID = rng.IntN(3) == 0
	cfg.Extract.PodStartTime = rng.IntN(3) == 0
	tags := []string{"", "app", "zone", "cluster", "node", "job_name", "pod", "namespace", "workload"}
	for range rng.IntN(3) {
		cfg.Extract.PodLabels = append(cfg.Extract.PodLabels, LabelConfig{Key: "app", Tag: tags[rng.IntN(len(tags))]})
	}
	for range rng.IntN(3) {
		cfg.Extract.NodeLabels = append(cfg.Extract.NodeLabels, LabelConfig{Key: "team", Tag: tags[rng.IntN(len(tags))]})
	}
	for range rng.IntN(3) {
		cfg.Extract.NamespaceLabels = append(cfg.Extract.NamespaceLabels, LabelConfig{Key: "team", Tag: tags[rng.IntN(len(tags))]})
	}
	if !cfg.DatapointLabels {
		cfg.Associations = cfg.Associations[1:]
	}
	rng.Shuffle(len(cfg.Associations), func(a, b int) {
		cfg.Associations[a], cfg.Associations[b] = cfg.Associations[b], cfg.Associations[a]
	})
	if cfg.DatapointLabels && rng.IntN(3) == 0 {
		for _, name := range cfg.datapointLabelNames() {
			if rng.IntN(2) == 0 {
				cfg.DatapointLabelsExclude = append(cfg.DatapointLabelsExclude, name)
			}
		}
	}
	return cfg
}

var (
	randomKeys = []string{
		"namespace", "pod", "container", "cluster", "workload", "workload_kind", "deployment", "cronjob", "job_name",
		"node", "zone", "region", "capacity_type", "app", "team", attrPodUID, attrNamespaceName, attrPodName,
		attrServerAddress, attrPodIP, "k8s.deployment.name", "k8s.node.name", "cloud.availability_zone", "k8s.cluster.name",
		"k8s.pod.label.app", "k8s.node.label.team",
	}
	randomValues = []string{
		"orders-7d4b9c8f6-x2x7q", "report-29408160-abcde", "migrate-xyz", "debug", "unknown", "",
		"shop", "other", "uid-1", "uid-3", "10.0.0.1", "10.0.0.2", "eu-west-1a", "prod",
	}
)

// randomAttrs puts n random attributes into m: known names, repeated
// names, pod names, UIDs, IPs, empty strings and ints.
func randomAttrs(rng *rand.Rand, m pcommon.Map, n int) {
	for range n {
		k := randomKeys[rng.IntN(len(randomKeys))]
		if rng.IntN(8) == 0 {
			m.PutInt(k, rng.Int64N(3))
		} else {
			m.PutStr(k, randomValues[rng.IntN(len(randomValues))])
		}
	}
}

// randomBatch has one to three resources, each with metrics of every type
// whose points mostly name a pod.
func randomBatch(rng *rand.Rand) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for range 1 + rng.IntN(3) {
		rm := md.ResourceMetrics().AppendEmpty()
		randomAttrs(rng, rm.Resource().Attributes(), rng.IntN(6))
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()
		for range 1 + rng.IntN(4) {
			m := ms.AppendEmpty()
			var newPoint func() pcommon.Map
			switch rng.IntN(5) {
			case 0:
				newPoint = func() pcommon.Map { return m.SetEmptyGauge().DataPoints().AppendEmpty().Attributes() }
			case 1:
				newPoint = func() pcommon.Map { return m.Sum().DataPoints().AppendEmpty().Attributes() }
				m.SetEmptySum()
			case 2:
				newPoint = func() pcommon.Map { return m.Histogram().DataPoints().AppendEmpty().Attributes() }
				m.SetEmptyHistogram()
			case 3:
				newPoint = func() pcommon.Map { return m.ExponentialHistogram().DataPoints().AppendEmpty().Attributes() }
				m.SetEmptyExponentialHistogram()
			default:
				newPoint = func() pcommon.Map { return m.Summary().DataPoints().AppendEmpty().Attributes() }
				m.SetEmptySummary()
			}
			for range 1 + rng.IntN(8) {
				a := newPoint()
				if rng.IntN(3) > 0 {
					a.PutStr("namespace", []string{"shop", "other"}[rng.IntN(4)/3])
					a.PutStr("pod", randomValues[rng.IntN(6)])
				}
				randomAttrs(rng, a, rng.IntN(5))
			}
		}
	}
	return md
}

// split returns md as one batch per data point (each with its resource),
// plus one batch per resource without points.
func split(md pmetric.Metrics) []pmetric.Metrics {
	var out []pmetric.Metrics
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				n := 0
				forEachPointAttributes(m, func(pcommon.Map) { n++ })
				for i := range n {
					one := pmetric.NewMetrics()
					orm := one.ResourceMetrics().AppendEmpty()
					rm.Resource().CopyTo(orm.Resource())
					om := orm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
					m.CopyTo(om)
					j := 0
					keep := func(pcommon.Map) bool { j++; return j-1 != i }
					switch om.Type() {
					case pmetric.MetricTypeGauge:
						om.Gauge().DataPoints().RemoveIf(func(dp pmetric.NumberDataPoint) bool { return keep(dp.Attributes()) })
					case pmetric.MetricTypeSum:
						om.Sum().DataPoints().RemoveIf(func(dp pmetric.NumberDataPoint) bool { return keep(dp.Attributes()) })
					case pmetric.MetricTypeHistogram:
						om.Histogram().DataPoints().RemoveIf(func(dp pmetric.HistogramDataPoint) bool { return keep(dp.Attributes()) })
					case pmetric.MetricTypeExponentialHistogram:
						om.ExponentialHistogram().DataPoints().RemoveIf(func(dp pmetric.ExponentialHistogramDataPoint) bool { return keep(dp.Attributes()) })
					case pmetric.MetricTypeSummary:
						om.Summary().DataPoints().RemoveIf(func(dp pmetric.SummaryDataPoint) bool { return keep(dp.Attributes()) })
					}
					out = append(out, one)
				}
			}
		}
	}
	return out
}

// TestRandomBatches runs random batches under random configurations and
// checks what must hold whatever the input:
//   - an attribute already there keeps its place, and its value unless it
//     is an empty string or overwrite is set, and then only if it is a name
//     the configuration writes;
//   - added attributes come after them, each once, with a name the
//     configuration writes and a non-empty string value;
//   - a batch gives each point what the point gets alone (the per-batch
//     label sets and the last lookup belong to no other point), and the
//     same association counts in sum;
//   - without overwrite, enriching the result again changes nothing.
func TestRandomBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for ci := range 64 {
		cfg := randomConfig(rng, ci)
		require.NoError(t, cfg.Validate(), "config %d", ci)
		t.Run(fmt.Sprintf("config%02d", ci), func(t *testing.T) {
			p := newTestProcessor(t, cfg, testStore(cfg))
			written := map[string]bool{}
			for _, n := range []*names{p.pointNames, p.resourceNames} {
				for _, kv := range p.podAttributes(nil, n, p.store, nil) {
					written[kv.name] = true
				}
				for _, pod := range testPods() {
					for _, kv := range p.podAttributes(nil, n, p.store, p.store.PodByUID(pod.UID)) {
						written[kv.name] = true
					}
				}
			}
			for range 16 {
				input := randomBatch(rng)
				got := pmetric.NewMetrics()
				input.CopyTo(got)
				counts := p.enrich(got)

				before, after := flatten(input), flatten(got)
				require.Len(t, after, len(before))
				for i := range before {
					requireWrittenOver(t, cfg.Overwrite, written, before[i], after[i])
				}

				var alone assocCounts
				var pieces [][]string
				for _, one := range split(input) {
					c := p.enrich(one)
					for s := range c {
						alone[s][0] += c[s][0]
						alone[s][1] += c[s][1]
					}
					pieces = append(pieces, flatten(one)[1:]...)
				}
				require.Equal(t, pointsOf(got), pieces, "points enriched alone")
				require.Equal(t, counts[srcDatapoint], alone[srcDatapoint], "data point associations")

				if !cfg.Overwrite {
					again := pmetric.NewMetrics()
					got.CopyTo(again)
					p.enrich(again)
					require.Equal(t, after, flatten(again), "enriched again")
				}
			}
		})
	}
}

// pointsOf lists the attributes of md's points, as flatten does.
func pointsOf(md pmetric.Metrics) [][]string {
	var out [][]string
	for _, rm := range md.ResourceMetrics().All() {
		one := pmetric.NewMetrics()
		orm := one.ResourceMetrics().AppendEmpty()
		rm.ScopeMetrics().CopyTo(orm.ScopeMetrics())
		out = append(out, flatten(one)[1:]...)
	}
	return out
}

// requireWrittenOver checks one attribute map, before and after
// enrichment, as flatten lists them.
func requireWrittenOver(t *testing.T, overwrite bool, written map[string]bool, before, after []string) {
	t.Helper()
	require.GreaterOrEqual(t, len(after), len(before))
	for i := 0; i < len(before); i += 2 {
		k, was, is := before[i], before[i+1], after[i+1]
		require.Equal(t, k, after[i], "attribute %d moved", i/2)
		replaceable := written[k] && (overwrite || was == "Str:")
		if !replaceable || slices.Index(before, k) != i { // only the first of repeated keys is written
			require.Equal(t, was, is, "%s changed", k)
		}
	}
	seen := map[string]bool{}
	for i := len(before); i < len(after); i += 2 {
		k, v := after[i], after[i+1]
		require.True(t, written[k], "%s added, not a name written", k)
		require.False(t, seen[k] || slices.Contains(before, k), "%s added twice", k)
		seen[k] = true
		require.NotEqual(t, "Str:", v)
		require.Equal(t, "Str:", v[:4], "%s added as %s", k, v)
	}
}

// TestConcurrentBatches runs batches through one processor from several
// goroutines; each must get what it gets alone.
func TestConcurrentBatches(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.ClusterName = "prod"
	cfg.Extract.NodeTopology = true
	cfg.Extract.PodLabels = []LabelConfig{{Key: "app"}}
	p := newTestProcessor(t, cfg, testStore(cfg))
	rng := rand.New(rand.NewPCG(3, 4))
	var inputs []pmetric.Metrics
	var want [][][]string
	for range 50 {
		in := randomBatch(rng)
		inputs = append(inputs, in)
		out := pmetric.NewMetrics()
		in.CopyTo(out)
		p.enrich(out)
		want = append(want, flatten(out))
	}
	const workers = 4
	errs := make(chan error, workers)
	for range workers {
		go func() {
			for i, in := range inputs {
				md := pmetric.NewMetrics()
				in.CopyTo(md)
				p.enrich(md)
				if got := flatten(md); !slices.EqualFunc(got, want[i], slices.Equal) {
					errs <- fmt.Errorf("batch %d: %v, want %v", i, got, want[i])
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		require.NoError(t, <-errs)
	}
}
