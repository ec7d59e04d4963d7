package k8smetaprocessor

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	corev1 "k8s.io/api/core/v1"
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
