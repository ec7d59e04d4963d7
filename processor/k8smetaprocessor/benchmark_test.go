package k8smetaprocessor

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const benchPoints = 1000

func benchPods(n int) []*corev1.Pod {
	pods := make([]*corev1.Pod, n)
	for i := range pods {
		pods[i] = deploymentPod("shop", fmt.Sprintf("svc%04d", i), fmt.Sprintf("uid-%06d", i), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	return pods
}

func benchConfig() *Config {
	cfg := createDefaultConfig()
	cfg.Extract.NodeTopology = true
	return cfg
}

// resourceBatch is one scrape of one pod: benchPoints points, identity on
// the resource only.
func resourceBatch() pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(attrPodUID, "uid-000001")
	dps := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge().DataPoints()
	for i := range benchPoints {
		dp := dps.AppendEmpty()
		dp.Attributes().PutStr("method", "GET")
		dp.SetIntValue(int64(i))
	}
	return md
}

// pointBatch is a cadvisor-like scrape: every point names its own pod.
func pointBatch(pods int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(attrServerAddress, "192.168.1.5")
	dps := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge().DataPoints()
	for i := range benchPoints {
		dp := dps.AppendEmpty()
		dp.Attributes().PutStr("namespace", "shop")
		dp.Attributes().PutStr("pod", fmt.Sprintf("svc%04d-7d4b9c8f6-x2x7q", i%pods))
		dp.Attributes().PutStr("container", "app")
	}
	return md
}

// benchEnrich measures processMetrics per data point. steady: the batch is
// enriched once before timing, so every run does the full lookup and
// comparison but writes nothing (a re-scraped series already carrying its
// labels, or the cost floor); otherwise each run gets a fresh copy (copy
// excluded from timing) and pays pdata's allocation per new attribute.
func benchEnrich(b *testing.B, batch pmetric.Metrics, steady bool) {
	p := newTestProcessor(b, benchConfig(), benchPods(1000)...)
	ctx := context.Background()
	if steady {
		_, err := p.processMetrics(ctx, batch)
		require.NoError(b, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		md := batch
		if !steady {
			b.StopTimer()
			md = pmetric.NewMetrics()
			batch.CopyTo(md)
			b.StartTimer()
		}
		if _, err := p.processMetrics(ctx, md); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchPoints), "ns/point")
}

func BenchmarkResourceLevelSteady(b *testing.B)  { benchEnrich(b, resourceBatch(), true) }
func BenchmarkResourceLevelFresh(b *testing.B)   { benchEnrich(b, resourceBatch(), false) }
func BenchmarkDatapointLevelSteady(b *testing.B) { benchEnrich(b, pointBatch(1000), true) }
func BenchmarkDatapointLevelFresh(b *testing.B)  { benchEnrich(b, pointBatch(1000), false) }

// Shape of BenchmarkCadvisorBatch: one kubelet cadvisor scrape of a node
// running cadvisorPods pods, cadvisorSeries series per pod.
const (
	cadvisorPods   = 30
	cadvisorSeries = 40
)

// cadvisorBatch is shaped like the Prometheus receiver's output for a
// cadvisor scrape: one resource (the kubelet, host network), one metric per
// family, and in each metric one point per pod, so consecutive points
// belong to different pods and each pod recurs in every metric. Every point
// carries cadvisor's labels, with attribute capacity equal to length as the
// receiver allocates it.
func cadvisorBatch() pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(attrServerAddress, "192.168.1.5")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	for m := range cadvisorSeries {
		metric := ms.AppendEmpty()
		metric.SetName(fmt.Sprintf("container_metric_%02d", m))
		dps := metric.SetEmptyGauge().DataPoints()
		for i := range cadvisorPods {
			pod := fmt.Sprintf("svc%04d-7d4b9c8f6-x2x7q", i)
			dp := dps.AppendEmpty()
			dp.SetDoubleValue(float64(m * i))
			a := dp.Attributes()
			a.EnsureCapacity(6)
			a.PutStr("container", "app")
			a.PutStr("id", "/kubepods/burstable/pod"+pod+"/0123456789abcdef")
			a.PutStr("image", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/app:v1.2.3")
			a.PutStr("name", "0123456789abcdef0123456789abcdef")
			a.PutStr("namespace", "shop")
			a.PutStr("pod", pod)
		}
	}
	return md
}

// cadvisorProcessor is configured as on EKS: cluster name, workload, node
// and node topology from a node carrying the EKS labels, so that ten labels
// are written on every point of cadvisorBatch.
func cadvisorProcessor(b *testing.B) *k8smetaProcessor {
	cfg := benchConfig()
	cfg.ClusterName = "prod-eu"
	p := newTestProcessor(b, cfg, benchPods(1000)...)
	p.cache.Load().upsertNode(&metav1.ObjectMeta{Name: "node-a", Labels: map[string]string{
		labelZone: "eu-west-1a", labelRegion: "eu-west-1", labelInstanceType: "m7g.xlarge",
		labelNodegroup: "general", labelCapacityType: "ON_DEMAND",
	}})
	return p
}

// cadvisorLabels are the ten labels cadvisorProcessor writes, for the
// pdata floor benchmark.
var cadvisorLabels = [][2]string{
	{"cluster", "prod-eu"}, {"workload_kind", "Deployment"}, {"workload", "svc0001"}, {"deployment", "svc0001"},
	{"node", "node-a"}, {"zone", "eu-west-1a"}, {"region", "eu-west-1"}, {"instance_type", "m7g.xlarge"},
	{"nodegroup", "general"}, {"capacity_type", "ON_DEMAND"},
}

// benchCadvisor runs f over fresh copies of cadvisorBatch (copies made
// outside the timer): the realistic steady state of a scrape pipeline,
// where every batch is freshly scraped pdata and every label is new on
// every point.
func benchCadvisor(b *testing.B, f func(pmetric.Metrics)) {
	batch := cadvisorBatch()
	const points = cadvisorPods * cadvisorSeries
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		md := pmetric.NewMetrics()
		batch.CopyTo(md)
		b.StartTimer()
		f(md)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*points), "ns/point")
}

// BenchmarkCadvisorBatch: the processor on fresh cadvisor batches.
func BenchmarkCadvisorBatch(b *testing.B) {
	p := cadvisorProcessor(b)
	benchCadvisor(b, func(md pmetric.Metrics) { p.enrich(md) })
}

// BenchmarkCadvisorPdataFloor is what pdata charges any processor that
// adds the same ten labels to every point of the same fresh batches, with
// no lookup at all: one capacity reservation and ten Map.PutStr per point.
// BenchmarkCadvisorBatch minus this is the processor's own cost.
func BenchmarkCadvisorPdataFloor(b *testing.B) {
	benchCadvisor(b, func(md pmetric.Metrics) {
		ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
		for i := range ms.Len() {
			dps := ms.At(i).Gauge().DataPoints()
			for j := range dps.Len() {
				a := dps.At(j).Attributes()
				a.EnsureCapacity(a.Len() + len(cadvisorLabels))
				for _, kv := range cadvisorLabels {
					a.PutStr(kv[0], kv[1])
				}
			}
		}
	})
}

// BenchmarkCadvisorSteady: the same batch once enriched, so every label is
// present and nothing is written: the cost of lookups and checks alone
// when pods recur in a batch (here every 30 points).
func BenchmarkCadvisorSteady(b *testing.B) {
	p := cadvisorProcessor(b)
	batch := cadvisorBatch()
	p.enrich(batch)
	const points = cadvisorPods * cadvisorSeries
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		p.enrich(batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*points), "ns/point")
}

// enrichedCadvisorPoints returns cadvisorProcessor and the attributes of
// every point of a cadvisorBatch it has enriched, for the floors below.
func enrichedCadvisorPoints(b *testing.B) (*k8smetaProcessor, []pcommon.Map) {
	p := cadvisorProcessor(b)
	batch := cadvisorBatch()
	p.enrich(batch)
	var points []pcommon.Map
	ms := batch.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := range ms.Len() {
		dps := ms.At(i).Gauge().DataPoints()
		for j := range dps.Len() {
			points = append(points, dps.At(j).Attributes())
		}
	}
	return p, points
}

// BenchmarkCadvisorScanFloor is the least any processor pays to read every
// attribute of every point of the enriched batch of BenchmarkCadvisorSteady
// through pdata's public API (Map.Range, one type check per value), with no
// lookup at all: the floor under the steady-state cost, since a point's
// attributes can only be found by reading them all (pcommon.Map has no
// index).
func BenchmarkCadvisorScanFloor(b *testing.B) {
	_, points := enrichedCadvisorPoints(b)
	strs := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, attrs := range points {
			attrs.Range(func(k string, v pcommon.Value) bool {
				if len(k) > 0 && v.Type() == pcommon.ValueTypeStr {
					strs++
				}
				return true
			})
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(points)), "ns/point")
	require.Equal(b, b.N*len(points)*16, strs, "every point carries 6 cadvisor and 10 written labels")
}

// BenchmarkCadvisorLookupFloor is a lower bound of the steady state at data
// point level that still does what the processor must: read the point's
// attributes once, find its pod by the namespace and pod labels (the
// association counts need the lookup even when nothing is written), get
// the pod's label set, and confirm that each of its ten labels is there
// with its value, matched in order by plain string comparison (no index,
// no duplicate-key or empty-value rules). Whatever the processor does
// beyond this is what a faster steady state could still remove.
func BenchmarkCadvisorLookupFloor(b *testing.B) {
	p, points := enrichedCadvisorPoints(b)
	c := p.cache.Load()
	s := newBatchState(p)
	s.c = c
	matched := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, attrs := range points {
			var ns, name string
			var set []keyValue
			e := 0
			attrs.Range(func(k string, v pcommon.Value) bool {
				switch {
				case set != nil:
					if e < len(set) && k == p.pointNames.idx.keys[set[e].slot] && v.Str() == set[e].value {
						e++
					}
				case k == "namespace":
					ns = v.Str()
				case k == "pod":
					name = v.Str()
					set = s.pointSet(c.podByName(ns, name))
				}
				return true
			})
			matched += e
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(points)), "ns/point")
	s.reset()
	require.Equal(b, b.N*len(points)*10, matched, "every point carries its pod's ten labels")
}

// BenchmarkPodMemory reports the heap held per cached pod (all indexes
// included) after adding 5000 pods, and the total.
func BenchmarkPodMemory(b *testing.B) {
	const n = 5000
	cfg := benchConfig()
	cfg.Extract.PodLabels = []LabelConfig{{Key: "app"}}
	for range b.N {
		pods := benchPods(n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c := newMetaCache(settingsOf(cfg), nil)
		for _, p := range pods {
			c.upsertPod(p)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(pods)
		held := float64(after.HeapAlloc - before.HeapAlloc)
		b.ReportMetric(held/n, "B/pod")
		b.ReportMetric(held/(1<<20), "MB/5000pods")
		runtime.KeepAlive(c)
	}
}
