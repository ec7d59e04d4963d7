package k8smetaprocessor

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/kubemeta"
	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/kubemeta/kubemetatest"
)

// The benchmarks read a real kubemeta cache, filled through client-go
// fakes with 1000 pods of Deployments svc0000…svc0999 in namespace shop on
// node-a.

const benchPoints = 1000

// Labels of node-a: its zone and region, or those of an EKS managed node
// group's node.
var (
	zoneRegion = map[string]string{"topology.kubernetes.io/zone": "eu-west-1a", "topology.kubernetes.io/region": "eu-west-1"}
	eksNode    = map[string]string{
		"topology.kubernetes.io/zone": "eu-west-1a", "topology.kubernetes.io/region": "eu-west-1",
		"node.kubernetes.io/instance-type": "m7g.xlarge", "eks.amazonaws.com/nodegroup": "general",
		"eks.amazonaws.com/capacityType": "ON_DEMAND",
	}
)

// benchProcessor returns a processor for cfg over the benchmark cluster,
// node-a labelled nodeLabels.
func benchProcessor(b *testing.B, cfg *Config, nodeLabels map[string]string) *k8smetaProcessor {
	ctrl := true
	objs := kubemetatest.Objects{Nodes: []corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "node-a", Labels: nodeLabels}}}}
	for i := range 1000 {
		name := fmt.Sprintf("svc%04d", i)
		objs.Pods = append(objs.Pods, corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: "shop", Name: name + "-7d4b9c8f6-x2x7q", UID: types.UID(fmt.Sprintf("uid-%06d", i)),
				Labels:          map[string]string{"pod-template-hash": "7d4b9c8f6", "app": name},
				OwnerReferences: []metav1.OwnerReference{{Kind: kubemeta.KindReplicaSet, Name: name + "-7d4b9c8f6", Controller: &ctrl}},
			},
			Spec:   corev1.PodSpec{NodeName: "node-a"},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.0.%d.%d", i>>8, i&255)},
		})
	}
	c, err := kubemeta.Start(cacheSettings(cfg), fakeClients(objs), zap.NewNop(), nil)
	require.NoError(b, err)
	b.Cleanup(c.Stop)
	<-c.Synced()
	return newTestProcessor(b, cfg, c)
}

// benchConfig is the default configuration with node topology: six labels
// per point (workload_kind, workload, deployment, node, zone, region).
func benchConfig() *Config {
	cfg := createDefaultConfig()
	cfg.Extract.NodeTopology = true
	return cfg
}

// pointBatch is a batch where every point names its own pod (namespace and
// pod labels), point i the pod svc<i mod pods>.
func pointBatch(pods int) pmetric.Metrics {
	return gaugeBatch(attrServerAddress, "192.168.1.5", benchPoints, func(i int, a pcommon.Map) {
		a.PutStr("namespace", "shop")
		a.PutStr("pod", fmt.Sprintf("svc%04d-7d4b9c8f6-x2x7q", i%pods))
		a.PutStr("container", "app")
	})
}

// benchEnrich measures processMetrics per data point on batch. steady: the
// batch is enriched once before timing, so every run does the full lookup
// and comparison but writes nothing (a re-scraped series already carrying
// its labels); otherwise each run gets a fresh copy (copy excluded from
// timing) and pays pdata's allocation per new attribute, as every freshly
// scraped batch does.
func benchEnrich(b *testing.B, p *k8smetaProcessor, batch pmetric.Metrics, points int, steady bool) {
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
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*points), "ns/point")
}

// Resource level: all points of one pod, identified by the resource.
func BenchmarkResourceLevelSteady(b *testing.B) {
	benchEnrich(b, benchProcessor(b, benchConfig(), zoneRegion), resourceBatch(benchPoints), benchPoints, true)
}

func BenchmarkResourceLevelFresh(b *testing.B) {
	benchEnrich(b, benchProcessor(b, benchConfig(), zoneRegion), resourceBatch(benchPoints), benchPoints, false)
}

// Data point level, one point per pod: a label set built per point.
func BenchmarkDatapointLevelSteady(b *testing.B) {
	benchEnrich(b, benchProcessor(b, benchConfig(), zoneRegion), pointBatch(1000), benchPoints, true)
}

func BenchmarkDatapointLevelFresh(b *testing.B) {
	benchEnrich(b, benchProcessor(b, benchConfig(), zoneRegion), pointBatch(1000), benchPoints, false)
}

// BenchmarkShippedConfigFresh is the shape of `make bench`: the shipped
// configs' k8smeta (cluster name, workload, node, node topology, the
// kind-specific workload labels, most of the topology and the cluster
// excluded: five labels per point) on fresh scrapes of a synthetic target, whose points
// all name the target's own pod with six labels of their own.
func BenchmarkShippedConfigFresh(b *testing.B) {
	cfg := benchConfig()
	cfg.ClusterName = "prod-eu"
	cfg.DatapointLabelsExclude = []string{"deployment", "statefulset", "daemonset", "replicaset", "cronjob", "job_name",
		"region", "instance_type", "capacity_type", "nodepool", "cluster"}
	md := gaugeBatch(attrServerAddress, "127.0.0.1", benchPoints, func(i int, a pcommon.Map) {
		a.EnsureCapacity(6)
		a.PutStr("namespace", "shop")
		a.PutStr("pod", "svc0001-7d4b9c8f6-x2x7q")
		a.PutStr("container", "app")
		a.PutStr("method", "GET")
		a.PutStr("code", "200")
		a.PutStr("route", fmt.Sprintf("/api/v1/items/%d", i))
	})
	benchEnrich(b, benchProcessor(b, cfg, eksNode), md, benchPoints, false)
}

// Shape of the cadvisor benchmarks: one kubelet cadvisor scrape of a node
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

// cadvisorConfig is configured as on EKS with every label on series:
// cluster name, workload, node and node topology, ten labels per point of
// cadvisorBatch.
func cadvisorConfig() *Config {
	cfg := benchConfig()
	cfg.ClusterName = "prod-eu"
	return cfg
}

// BenchmarkCadvisorBatch: the processor on fresh cadvisor batches.
func BenchmarkCadvisorBatch(b *testing.B) {
	benchEnrich(b, benchProcessor(b, cadvisorConfig(), eksNode), cadvisorBatch(), cadvisorPods*cadvisorSeries, false)
}

// BenchmarkCadvisorSteady: the same batch once enriched, so every label is
// present and nothing is written: lookups and checks alone when pods recur
// in a batch (here every 30 points).
func BenchmarkCadvisorSteady(b *testing.B) {
	benchEnrich(b, benchProcessor(b, cadvisorConfig(), eksNode), cadvisorBatch(), cadvisorPods*cadvisorSeries, true)
}

// BenchmarkCadvisorPdataFloor is what pdata charges any processor that adds
// ten labels to every point of the same fresh batches, with no lookup at
// all: one capacity reservation and ten Map.PutStr per point.
// BenchmarkCadvisorBatch minus this is the processor's own cost.
func BenchmarkCadvisorPdataFloor(b *testing.B) {
	labels := [][2]string{
		{"cluster", "prod-eu"}, {"workload_kind", "Deployment"}, {"workload", "svc0001"}, {"deployment", "svc0001"},
		{"node", "node-a"}, {"zone", "eu-west-1a"}, {"region", "eu-west-1"}, {"instance_type", "m7g.xlarge"},
		{"nodegroup", "general"}, {"capacity_type", "ON_DEMAND"},
	}
	batch := cadvisorBatch()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		md := pmetric.NewMetrics()
		batch.CopyTo(md)
		b.StartTimer()
		ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
		for i := range ms.Len() {
			for _, dp := range ms.At(i).Gauge().DataPoints().All() {
				a := dp.Attributes()
				a.EnsureCapacity(a.Len() + len(labels))
				for _, kv := range labels {
					a.PutStr(kv[0], kv[1])
				}
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*cadvisorPods*cadvisorSeries), "ns/point")
}
