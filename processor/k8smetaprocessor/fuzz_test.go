package k8smetaprocessor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// FuzzProcessMetrics feeds arbitrary identities and preset labels through
// processMetrics: it must never fail or panic, never change a non-empty
// value already there (overwrite is off), and enrich every point that
// names the known pod shop/orders with that pod's workload.
func FuzzProcessMetrics(f *testing.F) {
	f.Add("uid-1", "shop", "orders-7d4b9c8f6-x2x7q", "10.0.0.1", "shop", "orders-7d4b9c8f6-x2x7q", "deployment", "")
	f.Add("", "", "", "", "shop", "orders-7d4b9c8f6-x2x7q", "zone", "x")
	f.Add("uid-2", "kube-system", "\x00", "::1", "shop", "", "", "")
	f.Add("uid-1", "shop", "", "10.0.0.1", "monitoring", "fluent-7d4b9c8f6-x2x7q", "node", "preset")
	f.Add("uid-3", "", "", "", "shop", "orders-7d4b9c8f6-x2x7q", "workload", "")
	p := newFuzzProcessor(f)
	f.Fuzz(func(t *testing.T, uid, ns, pod, ip, pointNS, pointPod, presetKey, presetVal string) {
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		ra := rm.Resource().Attributes()
		ra.PutStr(attrPodUID, uid)
		ra.PutStr(attrNamespaceName, ns)
		ra.PutStr(attrPodName, pod)
		ra.PutStr(attrServerAddress, ip)
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()
		g := ms.AppendEmpty()
		g.SetName("m")
		dps := g.SetEmptyGauge().DataPoints()
		dp := dps.AppendEmpty()
		dp.Attributes().PutStr("namespace", pointNS)
		dp.Attributes().PutStr("pod", pointPod)
		if presetKey != "" {
			dp.Attributes().PutStr(presetKey, presetVal)
		}
		dp2 := dps.AppendEmpty()
		dp2.Attributes().PutInt("deployment", 7) // non-string values are kept
		before := md.ResourceMetrics().At(0).Resource().Attributes().AsRaw()
		beforePoint := dp.Attributes().AsRaw()

		out, err := p.processMetrics(context.Background(), md)
		require.NoError(t, err)
		requireKept(t, before, out.ResourceMetrics().At(0).Resource().Attributes().AsRaw())
		points := out.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Gauge().DataPoints()
		requireKept(t, beforePoint, points.At(0).Attributes().AsRaw())
		v, _ := points.At(1).Attributes().Get("deployment")
		require.Equal(t, int64(7), v.Int())
		if beforePoint["namespace"] == "shop" && beforePoint["pod"] == "orders-7d4b9c8f6-x2x7q" && (beforePoint["workload"] == nil || beforePoint["workload"] == "") {
			v, _ := points.At(0).Attributes().Get("workload")
			require.Equal(t, "orders", v.Str(), "a point of a known pod is enriched")
		}
	})
}

// newFuzzProcessor is the processor the fuzz tests run: cluster name,
// node topology and a pod label, over a store with two Deployments' pods,
// shop/orders-7d4b9c8f6-x2x7q (uid-1) and monitoring/fluent-7d4b9c8f6-x2x7q
// (uid-3), on node-a.
func newFuzzProcessor(f *testing.F) *k8smetaProcessor {
	cfg := createDefaultConfig()
	cfg.ClusterName = "c"
	cfg.Extract.NodeTopology = true
	cfg.Extract.PodLabels = []LabelConfig{{Key: "app"}}
	store := newFakeStore(cfg, []fakePod{deploymentPod("shop", "orders", "uid-1", "10.0.0.1"), deploymentPod("monitoring", "fluent", "uid-3", "10.0.0.3")},
		[]fakeNode{nodeA}, nil)
	return newTestProcessor(f, cfg, store)
}

// requireKept checks that every non-empty attribute of before is in after
// with the same value.
func requireKept(t *testing.T, before, after map[string]any) {
	t.Helper()
	for k, v := range before {
		if s, ok := v.(string); ok && s == "" {
			continue
		}
		require.Equal(t, v, after[k], "attribute %q changed", k)
	}
}
