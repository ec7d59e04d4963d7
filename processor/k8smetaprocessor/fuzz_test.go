package k8smetaprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// newTestProcessor returns a processor over a cache holding pods, without
// any API client.
func newTestProcessor(tb testing.TB, cfg *Config, pods ...*corev1.Pod) *k8smetaProcessor {
	tb.Helper()
	p, err := newK8smetaProcessor(cfg, componenttest.NewNopTelemetrySettings(), nil)
	require.NoError(tb, err)
	c := newMetaCache(settingsOf(cfg), time.Now)
	for _, pod := range pods {
		c.upsertPod(pod)
	}
	c.upsertNode(&metav1.ObjectMeta{Name: "node-a", Labels: map[string]string{labelZone: "eu-west-1a", labelRegion: "eu-west-1"}})
	p.cache.Store(c)
	return p
}

func deploymentPod(ns, name, uid, ip string) *corev1.Pod {
	ctrl := true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name + "-7d4b9c8f6-x2x7q", UID: types.UID(uid),
			Labels:          map[string]string{podTemplateHashLabel: "7d4b9c8f6", "app": name},
			OwnerReferences: []metav1.OwnerReference{{Kind: kindReplicaSet, Name: name + "-7d4b9c8f6", Controller: &ctrl}},
		},
		Spec:   corev1.PodSpec{NodeName: "node-a"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip},
	}
}

// snapshot flattens every attribute of md, resource and data point.
func snapshot(md pmetric.Metrics) (res []map[string]any, points []map[string]any) {
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		res = append(res, rms.At(i).Resource().Attributes().AsRaw())
		sms := rms.At(i).ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				dps := ms.At(k).Gauge().DataPoints()
				for l := range dps.Len() {
					points = append(points, dps.At(l).Attributes().AsRaw())
				}
			}
		}
	}
	return res, points
}

// requireKept checks that every non-empty attribute of before is in after
// with the same value (overwrite is off).
func requireKept(t *testing.T, before, after []map[string]any) {
	t.Helper()
	require.Len(t, after, len(before))
	for i := range before {
		for k, v := range before[i] {
			if s, ok := v.(string); ok && s == "" {
				continue
			}
			require.Equal(t, v, after[i][k], "attribute %q changed", k)
		}
	}
}

func FuzzProcessMetrics(f *testing.F) {
	f.Add("uid-1", "shop", "orders-7d4b9c8f6-x2x7q", "10.0.0.1", "shop", "orders-7d4b9c8f6-x2x7q", "deployment", "")
	f.Add("", "", "", "", "shop", "orders-7d4b9c8f6-x2x7q", "zone", "x")
	f.Add("uid-2", "kube-system", "\x00", "::1", "shop", "", "", "")
	f.Add("uid-1", "shop", "", "10.0.0.1", "monitoring", "fluent-bit", "node", "preset")
	cfg := createDefaultConfig()
	cfg.ClusterName = "c"
	cfg.Extract.NodeTopology = true
	cfg.Extract.PodLabels = []LabelConfig{{Key: "app"}}
	p := newTestProcessor(f, cfg, deploymentPod("shop", "orders", "uid-1", "10.0.0.1"), deploymentPod("monitoring", "fluent", "uid-3", "10.0.0.3"))
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
		beforeRes, beforePts := snapshot(md)
		out, err := p.processMetrics(context.Background(), md)
		require.NoError(t, err)
		afterRes, afterPts := snapshot(out)
		requireKept(t, beforeRes, afterRes)
		requireKept(t, beforePts, afterPts)
		require.Equal(t, int64(7), afterPts[1]["deployment"])
	})
}
