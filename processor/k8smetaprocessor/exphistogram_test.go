package k8smetaprocessor

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Native histograms scraped by the Prometheus receiver arrive as
// exponential-histogram points. These tests pin that k8smeta treats such a
// point like any other: it gets exactly the labels a gauge point with the
// same attributes gets, and nothing of its histogram (scale, zero bucket,
// buckets, sum, count, min, max, exemplars, flags, timestamps) changes.

// expHistogram describes one exponential-histogram point's payload.
type expHistogram struct {
	scale                int32
	zeroThreshold        float64
	zeroCount            uint64
	posOffset, negOffset int32
	pos, neg             []uint64
	sum                  float64
	noRecordedValue      bool
}

// fill writes h into dp, with a count consistent with its buckets, the
// min and max of a latency, an exemplar and timestamps.
func (h expHistogram) fill(dp pmetric.ExponentialHistogramDataPoint) {
	dp.SetScale(h.scale)
	dp.SetZeroThreshold(h.zeroThreshold)
	dp.SetZeroCount(h.zeroCount)
	dp.Positive().SetOffset(h.posOffset)
	dp.Positive().BucketCounts().FromRaw(h.pos)
	dp.Negative().SetOffset(h.negOffset)
	dp.Negative().BucketCounts().FromRaw(h.neg)
	count := h.zeroCount
	for _, c := range append(append([]uint64(nil), h.pos...), h.neg...) {
		count += c
	}
	dp.SetCount(count)
	dp.SetSum(h.sum)
	dp.SetMin(0.003)
	dp.SetMax(2.5)
	dp.SetStartTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000))
	dp.SetTimestamp(pcommon.Timestamp(1_700_000_060_000_000_000))
	ex := dp.Exemplars().AppendEmpty()
	ex.SetDoubleValue(0.42)
	ex.SetTimestamp(pcommon.Timestamp(1_700_000_059_000_000_000))
	ex.FilteredAttributes().PutStr("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")
	dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(h.noRecordedValue))
}

// latency is a native histogram as client_golang exposes a latency with
// NativeHistogramBucketFactor 1.1 (schema/scale 3), with observations of
// zero and one negative bucket so that every part of the point is set.
var latency = expHistogram{
	scale: 3, zeroThreshold: math.Ldexp(1, -128), zeroCount: 2,
	posOffset: -27, pos: []uint64{1, 0, 4, 9, 3, 0, 0, 1},
	negOffset: 4, neg: []uint64{1},
	sum: 7.25,
}

// sameAttributesBatch is one resource with attributes res and, for each
// attribute set of points, a gauge point and an exponential-histogram point
// (payload h) carrying it: the two metrics' points pair up by index.
func sameAttributesBatch(res []any, h expHistogram, points ...[]any) (md pmetric.Metrics, gauge pmetric.NumberDataPointSlice, hist pmetric.ExponentialHistogramDataPointSlice) {
	md = pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	putAll(rm.Resource().Attributes(), res...)
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	g := ms.AppendEmpty()
	g.SetName("orders_in_flight")
	gauge = g.SetEmptyGauge().DataPoints()
	e := ms.AppendEmpty()
	e.SetName("orders_placement_duration_seconds")
	eh := e.SetEmptyExponentialHistogram()
	eh.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	hist = eh.DataPoints()
	for _, attrs := range points {
		gp := gauge.AppendEmpty()
		gp.SetDoubleValue(1)
		putAll(gp.Attributes(), attrs...)
		hp := hist.AppendEmpty()
		h.fill(hp)
		putAll(hp.Attributes(), attrs...)
	}
	return md, gauge, hist
}

// histogramPayload is the wire form of the exponential-histogram metric of
// md with every point's attributes left out: equal payloads mean equal
// histograms, NaN sums included.
func histogramPayload(t testing.TB, md pmetric.Metrics) []byte {
	t.Helper()
	c := pmetric.NewMetrics()
	md.CopyTo(c)
	ms := c.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	ms.RemoveIf(func(m pmetric.Metric) bool { return m.Type() != pmetric.MetricTypeExponentialHistogram })
	for _, dp := range ms.At(0).ExponentialHistogram().DataPoints().All() {
		dp.Attributes().Clear()
	}
	c.ResourceMetrics().At(0).Resource().Attributes().Clear()
	b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(c)
	require.NoError(t, err)
	return b
}

// requirePairedLikeGauge checks that each histogram point carries exactly
// the attributes, in order, of the gauge point of the same index.
func requirePairedLikeGauge(t testing.TB, gauge pmetric.NumberDataPointSlice, hist pmetric.ExponentialHistogramDataPointSlice) {
	t.Helper()
	require.Equal(t, gauge.Len(), hist.Len())
	for i := range gauge.Len() {
		require.Equal(t, render(gauge.At(i).Attributes()), render(hist.At(i).Attributes()), "point %d", i)
	}
}

// TestExponentialHistogramPoints: a pod target's native histogram gets its
// workload like the target's other series; a point naming another pod
// (namespace/pod labels, as kube-state-metrics or cadvisor write them)
// gets that pod's. Its histogram is left as it was.
func TestExponentialHistogramPoints(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.ClusterName = "prod"
	cfg.Extract.NodeTopology = true
	require.NoError(t, cfg.Validate())
	p := newTestProcessor(t, cfg, testStore(cfg))

	md, gauge, hist := sameAttributesBatch([]any{attrPodUID, "uid-1"}, latency,
		[]any{"method", "POST"},
		[]any{"namespace", "shop", "pod", "migrate-xyz"},
		[]any{"namespace", "shop", "pod", "unknown"},
		[]any{"workload", "", "zone", "custom"})
	before := histogramPayload(t, md)
	_, err := p.processMetrics(context.Background(), md)
	require.NoError(t, err)

	ordersLabels := []string{"cluster=prod", "workload_kind=Deployment", "workload=orders", "deployment=orders", "node=node-a",
		"zone=eu-west-1a", "region=eu-west-1", "instance_type=m7g.xlarge", "nodegroup=general", "capacity_type=ON_DEMAND"}
	require.Equal(t, append([]string{"method=POST"}, ordersLabels...), render(hist.At(0).Attributes()))
	require.Equal(t, []string{"namespace=shop", "pod=migrate-xyz", "cluster=prod", "workload_kind=Job", "workload=migrate",
		"job_name=migrate", "node=node-b", "zone=eu-west-1b", "region=eu-west-1", "instance_type=c7g.large", "capacity_type=spot", "nodepool=burst"},
		render(hist.At(1).Attributes()))
	// A pod the store does not know: the point has no match of its own
	// and gets the resource's pod (README, "associations").
	require.Equal(t, append([]string{"namespace=shop", "pod=unknown"}, ordersLabels...), render(hist.At(2).Attributes()))
	// An empty value is filled where it is; a value already there is kept.
	require.Equal(t, []string{"workload=orders", "zone=custom", "cluster=prod", "workload_kind=Deployment", "deployment=orders", "node=node-a",
		"region=eu-west-1", "instance_type=m7g.xlarge", "nodegroup=general", "capacity_type=ON_DEMAND"},
		render(hist.At(3).Attributes()))
	requirePairedLikeGauge(t, gauge, hist)
	require.True(t, bytes.Equal(before, histogramPayload(t, md)), "the histogram's payload changed")

	// The stale marker the receiver sends when a native histogram
	// disappears (no recorded value, empty buckets) is enriched alike, so
	// it ends the same series.
	stale := expHistogram{scale: 3, noRecordedValue: true, sum: math.NaN()}
	md, gauge, hist = sameAttributesBatch([]any{attrPodUID, "uid-1"}, stale, []any{"method", "POST"})
	before = histogramPayload(t, md)
	_, err = p.processMetrics(context.Background(), md)
	require.NoError(t, err)
	require.Equal(t, append([]string{"method=POST"}, ordersLabels...), render(hist.At(0).Attributes()))
	requirePairedLikeGauge(t, gauge, hist)
	require.True(t, hist.At(0).Flags().NoRecordedValue())
	require.True(t, bytes.Equal(before, histogramPayload(t, md)), "the stale marker's payload changed")
}

// FuzzExponentialHistogramPoints feeds arbitrary exponential-histogram
// payloads (any scale, zero bucket, offsets, bucket counts, sum, the
// no-recorded-value flag) and identities through processMetrics: it must
// never fail or panic, must give each histogram point exactly the
// attributes a gauge point with the same input attributes gets, and must
// leave the histogram itself unchanged.
func FuzzExponentialHistogramPoints(f *testing.F) {
	f.Add("uid-1", "", "", int32(3), math.Ldexp(1, -128), uint64(2), int32(-27), []byte{1, 0, 4, 9, 3}, int32(4), []byte{1}, 7.25, false, "deployment", "")
	f.Add("", "shop", "orders-7d4b9c8f6-x2x7q", int32(8), 0.0, uint64(0), int32(0), []byte{}, int32(0), []byte{}, 0.0, false, "", "")
	f.Add("uid-9", "shop", "migrate-xyz", int32(-4), 1e-3, uint64(1<<40), int32(math.MinInt32), []byte{255, 255}, int32(math.MaxInt32), []byte{0}, math.Inf(1), false, "workload", "x")
	f.Add("uid-1", "monitoring", "fluent-7d4b9c8f6-x2x7q", int32(20), math.NaN(), uint64(0), int32(-1), []byte{7}, int32(-1), []byte{}, math.NaN(), true, "zone", "")
	f.Add("uid-3", "\x00", "", int32(-10), -1.0, uint64(3), int32(5), []byte{1, 2, 3}, int32(0), []byte{}, -2.5, false, "node", "\xff")
	p := newFuzzProcessor(f)
	counts := func(raw []byte) []uint64 {
		out := make([]uint64, len(raw))
		for i, b := range raw {
			out[i] = uint64(b) * 1_000_003 // large counts too
		}
		return out
	}
	f.Fuzz(func(t *testing.T, uid, pointNS, pointPod string, scale int32, zeroThreshold float64, zeroCount uint64,
		posOffset int32, pos []byte, negOffset int32, neg []byte, sum float64, noRecorded bool, presetKey, presetVal string,
	) {
		h := expHistogram{
			scale: scale, zeroThreshold: zeroThreshold, zeroCount: zeroCount,
			posOffset: posOffset, pos: counts(pos), negOffset: negOffset, neg: counts(neg),
			sum: sum, noRecordedValue: noRecorded,
		}
		points := [][]any{{"namespace", pointNS, "pod", pointPod}, {"code", "200"}}
		if presetKey != "" {
			points[0] = append(points[0], presetKey, presetVal)
		}
		md, gauge, hist := sameAttributesBatch([]any{attrPodUID, uid}, h, points...)
		before := histogramPayload(t, md)
		beforePoint := hist.At(0).Attributes().AsRaw()

		_, err := p.processMetrics(context.Background(), md)
		require.NoError(t, err)
		requirePairedLikeGauge(t, gauge, hist)
		requireKept(t, beforePoint, hist.At(0).Attributes().AsRaw())
		require.True(t, bytes.Equal(before, histogramPayload(t, md)), "the histogram's payload changed")
		// The preset attribute may overwrite the point's namespace or pod,
		// so the point's own attributes, not the arguments, say which pod
		// it names.
		if beforePoint["namespace"] == "shop" && beforePoint["pod"] == "orders-7d4b9c8f6-x2x7q" && (beforePoint["workload"] == nil || beforePoint["workload"] == "") {
			v, _ := hist.At(0).Attributes().Get("workload")
			require.Equal(t, "orders", v.Str(), "a histogram point of a known pod is enriched")
		}
		if uid == "uid-1" {
			v, _ := hist.At(1).Attributes().Get("workload")
			require.Equal(t, "orders", v.Str(), "a histogram point of the resource's pod is enriched")
		}
	})
}
