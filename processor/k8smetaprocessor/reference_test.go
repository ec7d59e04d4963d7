package k8smetaprocessor

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// referenceProcess is the straightforward form of processMetrics, as it
// was before the hot path was optimised: one Map.Get per label checked and
// one write at a time. TestMatchesReference holds the optimised path to
// exactly its output, attribute order included.
func referenceProcess(p *k8smetaProcessor, md pmetric.Metrics) assocCounts {
	c := p.cache.Load()
	var counts assocCounts
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		rm := rms.At(i)
		res := rm.Resource().Attributes()
		var (
			pod *podMeta
			pos = len(p.order)
		)
		if c != nil {
			pod, pos = p.associateResource(c, res, &counts)
		}
		if p.cfg.ResourceAttributes {
			referencePut(p, res, keyCluster.resource, p.cfg.ClusterName)
			if pod != nil {
				referenceWritePod(p, c, res, pod, false)
			}
		}
		if !p.cfg.DatapointLabels {
			continue
		}
		perPoint := c != nil && p.pointPos < pos
		if pod == nil && !perPoint && p.cfg.ClusterName == "" {
			continue
		}
		forEachPointAttributes(rm, func(attrs pcommon.Map) {
			own := pod
			if perPoint {
				if ns, ok := strAttr(attrs, p.nsLabel); ok {
					if name, ok := strAttr(attrs, p.podLabel); ok {
						found := c.podByName(ns, name)
						counts.add(srcDatapoint, found != nil)
						if found != nil {
							own = found
						}
					}
				}
			}
			if !slices.Contains(p.cfg.DatapointLabelsExclude, keyCluster.label) {
				referencePut(p, attrs, keyCluster.label, p.cfg.ClusterName)
			}
			if own != nil {
				referenceWritePod(p, c, attrs, own, true)
			}
		})
	}
	return counts
}

func forEachPointAttributes(rm pmetric.ResourceMetrics, f func(pcommon.Map)) {
	sms := rm.ScopeMetrics()
	for j := range sms.Len() {
		ms := sms.At(j).Metrics()
		for k := range ms.Len() {
			m := ms.At(k)
			switch m.Type() {
			case pmetric.MetricTypeGauge:
				for i := range m.Gauge().DataPoints().Len() {
					f(m.Gauge().DataPoints().At(i).Attributes())
				}
			case pmetric.MetricTypeSum:
				for i := range m.Sum().DataPoints().Len() {
					f(m.Sum().DataPoints().At(i).Attributes())
				}
			case pmetric.MetricTypeHistogram:
				for i := range m.Histogram().DataPoints().Len() {
					f(m.Histogram().DataPoints().At(i).Attributes())
				}
			case pmetric.MetricTypeExponentialHistogram:
				for i := range m.ExponentialHistogram().DataPoints().Len() {
					f(m.ExponentialHistogram().DataPoints().At(i).Attributes())
				}
			case pmetric.MetricTypeSummary:
				for i := range m.Summary().DataPoints().Len() {
					f(m.Summary().DataPoints().At(i).Attributes())
				}
			}
		}
	}
}

func referenceWritePod(p *k8smetaProcessor, c *metaCache, m pcommon.Map, pod *podMeta, label bool) {
	e := &p.cfg.Extract
	put := func(k keyPair, v string) {
		if label {
			if !slices.Contains(p.cfg.DatapointLabelsExclude, k.label) {
				referencePut(p, m, k.label, v)
			}
		} else {
			referencePut(p, m, k.resource, v)
		}
	}
	if e.Workload && pod.workload.kind != "" {
		put(keyWorkloadKind, pod.workload.kind)
		put(keyWorkload, pod.workload.name)
		if k, ok := workloadKeys[pod.workload.kind]; ok {
			put(k, pod.workload.name)
		}
		put(keyJobOfCronJob, pod.workload.job)
	}
	if e.Node {
		put(keyNode, pod.node)
	}
	if e.PodUID {
		put(keyPodUID, pod.uid)
	}
	if e.PodStartTime {
		put(keyPodStart, pod.startTime)
	}
	for i, k := range p.podLabels {
		put(k, pod.labels[i])
	}
	if node := c.nodes[pod.node]; node != nil {
		if e.NodeTopology {
			put(keyZone, node.zone)
			put(keyRegion, node.region)
			put(keyInstanceType, node.instanceType)
			put(keyNodegroup, node.nodegroup)
			capKey := keyCapacityEKS
			if node.karpenterCapacity {
				capKey = keyCapacityKarp
			}
			put(capKey, node.capacity)
			put(keyNodepool, node.nodepool)
		}
		for i, k := range p.nodeLabels {
			put(k, node.labels[i])
		}
	}
	if ns := c.namespaces[pod.namespace]; ns != nil {
		for i, k := range p.nsLabels {
			put(k, ns.labels[i])
		}
	}
}

// referencePut writes k=v unless v is empty or a non-empty value is there
// (an empty string counts as absent; overwrite replaces anything).
func referencePut(p *k8smetaProcessor, m pcommon.Map, k, v string) {
	if k == "" || v == "" {
		return
	}
	if cur, ok := m.Get(k); ok {
		if !p.cfg.Overwrite && (cur.Type() != pcommon.ValueTypeStr || cur.Str() != "") {
			return
		}
		if cur.Type() == pcommon.ValueTypeStr && cur.Str() == v {
			return
		}
		cur.SetStr(v)
		return
	}
	m.PutStr(k, v)
}

// TestMatchesReference runs random batches through processMetrics and
// referenceProcess under configurations that stress the corner cases
// (label tags equal to built-in names or to the association labels,
// overwrite, karpenter nodes, unknown pods, duplicate keys, empty and
// non-string values) and requires identical attributes, in identical
// order, and identical association counts.
func TestMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for ci := range 48 {
		cfg := randomConfig(rng, ci)
		t.Run(fmt.Sprintf("config%02d", ci), func(t *testing.T) {
			p := newTestProcessor(t, cfg, referencePods()...)
			c := p.cache.Load()
			c.upsertNode(&metav1.ObjectMeta{Name: "node-b", Labels: map[string]string{
				labelZone: "eu-west-1b", labelRegion: "eu-west-1", labelInstanceType: "c7g.large",
				labelKarpenterCapacity: "spot", labelNodepool: "default", "team": "infra",
			}})
			c.upsertNamespace(&metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"team": "shop", "zone": "ns-zone"}})
			for range 20 {
				input := randomBatch(rng)
				want := pmetric.NewMetrics()
				input.CopyTo(want)
				wantCounts := referenceProcess(p, want)

				gotCounts := p.enrich(input)
				require.Equal(t, flatten(want), flatten(input))
				require.Equal(t, wantCounts, gotCounts)
			}
		})
	}
}

func randomConfig(rng *rand.Rand, i int) *Config {
	cfg := createDefaultConfig()
	cfg.Overwrite = i%2 == 1
	if rng.IntN(3) > 0 {
		cfg.ClusterName = "prod"
	}
	cfg.ResourceAttributes = rng.IntN(4) > 0
	cfg.DatapointLabels = rng.IntN(6) > 0
	cfg.Extract.Workload = rng.IntN(4) > 0
	cfg.Extract.Node = rng.IntN(2) > 0
	cfg.Extract.NodeTopology = rng.IntN(3) > 0
	cfg.Extract.PodUID = rng.IntN(3) == 0
	cfg.Extract.PodStartTime = rng.IntN(3) == 0
	// Tags that collide with built-in names and with the association labels.
	tags := []string{"", "app", "zone", "cluster", "node", "job_name", "pod", "namespace", "workload"}
	for range rng.IntN(3) {
		cfg.Extract.PodLabels = append(cfg.Extract.PodLabels, LabelConfig{Key: "app", Tag: tags[rng.IntN(len(tags))]})
	}
	for range rng.IntN(3) {
		cfg.Extract.NodeLabels = append(cfg.Extract.NodeLabels, LabelConfig{Key: "team", Tag: tags[rng.IntN(len(tags))]})
	}
	for range rng.IntN(3) {
		cfg.Extract.NamespaceLabels = append(cfg.Extract.NamespaceLabels, LabelConfig{Key: []string{"team", "zone"}[rng.IntN(2)], Tag: tags[rng.IntN(len(tags))]})
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

// referencePods covers every workload kind on two nodes, one with EKS
// labels missing and one Karpenter node.
func referencePods() []*corev1.Pod {
	ctrl := true
	owned := func(name, uid, ip, node, kind, owner string) *corev1.Pod {
		pod := deploymentPod("shop", name, uid, ip)
		pod.Name = name
		pod.Spec.NodeName = node
		pod.OwnerReferences = []metav1.OwnerReference{{Kind: kind, Name: owner, Controller: &ctrl}}
		return pod
	}
	start := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	pods := []*corev1.Pod{
		deploymentPod("shop", "orders", "uid-1", "10.0.0.1"),
		owned("db-0", "uid-2", "10.0.0.2", "node-b", kindStatefulSet, "db"),
		owned("agent-x", "uid-3", "10.0.0.3", "node-b", kindDaemonSet, "agent"),
		owned("report-29000000-abc", "uid-4", "10.0.0.4", "node-a", kindJob, "report-29000000"),
		owned("once-abc", "uid-5", "10.0.0.5", "node-b", kindJob, "once"),
		owned("rs-pod", "uid-6", "10.0.0.6", "node-a", kindReplicaSet, "lonely"),
		owned("gone-node", "uid-7", "10.0.0.7", "node-z", kindStatefulSet, "z"),
	}
	pods[1].Status.StartTime = &start
	bare := testPod("bare", "uid-8", "10.0.0.8", "")
	bare.Spec.NodeName = "node-b"
	return append(pods, bare)
}

var referenceKeys = []string{
	"namespace", "pod", "container", "cluster", "workload", "workload_kind", "deployment",
	"statefulset", "job_name", "cronjob", "node", "zone", "region", "capacity_type", "app", "team",
	attrPodUID, attrNamespaceName, attrPodName, attrServerAddress, attrPodIP, attrDeploymentName,
	attrNodeName, attrZone, attrClusterName, "k8s.pod.label.app", "k8s.node.label.team",
}

var referencePodNames = []string{
	"orders-7d4b9c8f6-x2x7q", "db-0", "agent-x", "report-29000000-abc", "once-abc",
	"rs-pod", "gone-node", "bare", "unknown", "",
}

// randomAttrs fills m with random keys (duplicates allowed) and values:
// pod names, IPs, UIDs, empty strings, other strings and ints.
func randomAttrs(rng *rand.Rand, m pcommon.Map, n int) {
	for range n {
		k := referenceKeys[rng.IntN(len(referenceKeys))]
		switch rng.IntN(8) {
		case 0:
			m.PutEmpty(k).SetInt(rng.Int64N(3))
		case 1:
			m.PutEmpty(k).SetStr("")
		case 2:
			m.PutEmpty(k).SetStr(fmt.Sprintf("10.0.0.%d", rng.IntN(10)))
		case 3:
			m.PutEmpty(k).SetStr(fmt.Sprintf("uid-%d", rng.IntN(10)))
		case 4:
			m.PutEmpty(k).SetStr([]string{"shop", "other", "eu-west-1a", "prod"}[rng.IntN(4)])
		default:
			m.PutEmpty(k).SetStr(referencePodNames[rng.IntN(len(referencePodNames))])
		}
	}
}

func randomBatch(rng *rand.Rand) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for range 1 + rng.IntN(3) {
		rm := md.ResourceMetrics().AppendEmpty()
		randomAttrs(rng, rm.Resource().Attributes(), rng.IntN(6))
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()
		for range 1 + rng.IntN(4) {
			m := ms.AppendEmpty()
			var newAttrs func() pcommon.Map
			switch rng.IntN(5) {
			case 0:
				dps := m.SetEmptyGauge().DataPoints()
				newAttrs = func() pcommon.Map { return dps.AppendEmpty().Attributes() }
			case 1:
				dps := m.SetEmptySum().DataPoints()
				newAttrs = func() pcommon.Map { return dps.AppendEmpty().Attributes() }
			case 2:
				dps := m.SetEmptyHistogram().DataPoints()
				newAttrs = func() pcommon.Map { return dps.AppendEmpty().Attributes() }
			case 3:
				dps := m.SetEmptyExponentialHistogram().DataPoints()
				newAttrs = func() pcommon.Map { return dps.AppendEmpty().Attributes() }
			default:
				dps := m.SetEmptySummary().DataPoints()
				newAttrs = func() pcommon.Map { return dps.AppendEmpty().Attributes() }
			}
			for range rng.IntN(8) {
				a := newAttrs()
				if rng.IntN(3) > 0 { // most points name a pod
					a.PutStr("namespace", []string{"shop", "other"}[rng.IntN(4)/3])
					a.PutStr("pod", referencePodNames[rng.IntN(len(referencePodNames))])
				}
				randomAttrs(rng, a, rng.IntN(5))
			}
		}
	}
	return md
}

// flatten lists every attribute map of md, resources then points, as
// ordered key/value pairs.
func flatten(md pmetric.Metrics) [][]string {
	var out [][]string
	list := func(m pcommon.Map) {
		var kv []string
		m.Range(func(k string, v pcommon.Value) bool {
			kv = append(kv, k, v.Type().String()+":"+v.AsString())
			return true
		})
		out = append(out, kv)
	}
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		list(rms.At(i).Resource().Attributes())
		forEachPointAttributes(rms.At(i), list)
	}
	return out
}

// duplicateKeysJSON holds attribute maps with repeated keys, which OTLP
// data may carry (the Prometheus receiver never makes them): reads and
// writes must see the first occurrence, as Map.Get does.
const duplicateKeysJSON = `{"resourceMetrics":[{"resource":{"attributes":[
 {"key":"k8s.pod.uid","value":{"intValue":"1"}},{"key":"k8s.pod.uid","value":{"stringValue":"uid-1"}},
 {"key":"k8s.node.name","value":{"stringValue":""}},{"key":"k8s.node.name","value":{"stringValue":"other"}}]},
 "scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[
  {"asInt":"1","attributes":[{"key":"namespace","value":{"intValue":"1"}},{"key":"namespace","value":{"stringValue":"shop"}},
   {"key":"pod","value":{"stringValue":"db-0"}},{"key":"zone","value":{"stringValue":""}},{"key":"zone","value":{"stringValue":"x"}}]},
  {"asInt":"2","attributes":[{"key":"namespace","value":{"stringValue":"shop"}},{"key":"pod","value":{"stringValue":"db-0"}},
   {"key":"pod","value":{"stringValue":"bare"}},{"key":"node","value":{"stringValue":"n1"}},{"key":"node","value":{"stringValue":""}},
   {"key":"region","value":{"stringValue":""}},{"key":"region","value":{"stringValue":""}}]}]}}]}]}]}`

func TestMatchesReferenceDuplicateKeys(t *testing.T) {
	for _, overwrite := range []bool{false, true} {
		cfg := createDefaultConfig()
		cfg.ClusterName = "prod"
		cfg.Overwrite = overwrite
		cfg.Extract.NodeTopology = true
		p := newTestProcessor(t, cfg, referencePods()...)
		p.cache.Load().upsertNode(&metav1.ObjectMeta{Name: "node-b", Labels: map[string]string{labelZone: "eu-west-1b", labelRegion: "eu-west-1"}})
		unmarshal := func() pmetric.Metrics {
			md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics([]byte(duplicateKeysJSON))
			require.NoError(t, err)
			return md
		}
		want, got := unmarshal(), unmarshal()
		require.Equal(t, 4, want.ResourceMetrics().At(0).Resource().Attributes().Len(), "duplicates kept by the unmarshaler")
		wantCounts := referenceProcess(p, want)
		require.Equal(t, wantCounts, p.enrich(got))
		require.Equal(t, flatten(want), flatten(got))
	}
}

// TestConcurrentBatches runs batches through one processor from several
// goroutines: each call takes its own pooled batchState.
func TestConcurrentBatches(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.ClusterName = "prod"
	cfg.Extract.NodeTopology = true
	cfg.Extract.PodLabels = []LabelConfig{{Key: "app"}}
	p := newTestProcessor(t, cfg, referencePods()...)
	const workers = 4
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range 50 {
				input := randomBatch(rng)
				want := pmetric.NewMetrics()
				input.CopyTo(want)
				wantCounts := referenceProcess(p, want)
				if gotCounts := p.enrich(input); gotCounts != wantCounts {
					errs <- fmt.Errorf("counts %v, want %v", gotCounts, wantCounts)
					return
				}
				if got, want := fmt.Sprint(flatten(input)), fmt.Sprint(flatten(want)); got != want {
					errs <- fmt.Errorf("attributes %s, want %s", got, want)
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
