package ordersdemo

import (
	"context"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"
)

// acceptProtobuf is the Accept header of a Prometheus scraper that
// negotiates the protobuf exposition first (scrape_native_histograms).
const acceptProtobuf = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5," +
	"application/openmetrics-text;version=1.0.0;q=0.4,text/plain;version=0.0.4;q=0.1,*/*;q=0.05"

func sumCounts(m map[int64]int64) int64 {
	var n int64
	for _, c := range m {
		n += c
	}
	return n
}

// nativeBuckets resolves a native histogram's positive spans and deltas
// into bucket index -> count.
func nativeBuckets(h *dto.Histogram) map[int]int64 {
	out := map[int]int64{}
	idx, d := 0, 0
	var count int64
	for _, sp := range h.GetPositiveSpan() {
		idx += int(sp.GetOffset())
		for range sp.GetLength() {
			count += h.GetPositiveDelta()[d]
			d++
			if count != 0 {
				out[idx] = count
			}
			idx++
		}
	}
	return out
}

// placementIndex is the native bucket index (schema PlacementSchema) of
// the bucket whose upper bound is upper.
func placementIndex(upper float64) int {
	return int(math.Round(math.Log2(upper) * (1 << PlacementSchema)))
}

// TestPlacementBucketMatchesClientLibrary: for every latency the generator
// can draw, PlacementBucket names the bucket the Prometheus client library
// puts it in, boundaries (exact powers of two) included.
func TestPlacementBucketMatchesClientLibrary(t *testing.T) {
	for ms := int64(1); ms <= maxLatency.Milliseconds(); ms++ {
		v := float64(ms) / 1000
		h := newPlacementHistogram()
		h.Observe(v)
		var m dto.Metric
		require.NoError(t, h.Write(&m))
		got := nativeBuckets(m.GetHistogram())
		require.Len(t, got, 1, "%d ms", ms)
		require.Equal(t, int32(PlacementSchema), m.GetHistogram().GetSchema())
		lower, upper := PlacementBucket(v)
		require.Less(t, lower, v, "%d ms", ms)
		require.LessOrEqual(t, v, upper, "%d ms", ms)
		idx := placementIndex(upper)
		require.Equal(t, int64(1), got[idx], "%d ms: bucket %d (%v, %v], client library: %v", ms, idx, lower, upper, got)
		require.Equal(t, math.Exp2(float64(idx)/8), upper)
	}
}

func TestPlacementQuantile(t *testing.T) {
	f := func(counts map[int64]int64, q, want float64) {
		t.Helper()
		got := PlacementQuantile(counts, q)
		if math.IsNaN(want) {
			require.True(t, math.IsNaN(got), "got %v", got)
			return
		}
		require.Equal(t, want, got)
	}
	f(nil, 0.9, math.NaN())
	f(map[int64]int64{40: 1}, 0.9, 0.04)
	// 10 observations: the 9th smallest.
	f(map[int64]int64{10: 8, 20: 1, 30: 1}, 0.9, 0.02)
	f(map[int64]int64{10: 8, 20: 1, 30: 1}, 0.91, 0.03)
	f(map[int64]int64{10: 8, 20: 1, 30: 1}, 0.8, 0.01)
	f(map[int64]int64{10: 8, 20: 1, 30: 1}, 1, 0.03)
}

// TestScrapeNativeHistogram: a scraper that negotiates protobuf gets the
// placement histogram with its native buckets (the client library's schema
// for PlacementBucketFactor, its default zero bucket) and its classic
// buckets, both holding exactly the latencies of the state; a text scrape
// of the same moment holds the classic buckets alone.
func TestScrapeNativeHistogram(t *testing.T) {
	srv, err := Start(context.Background(), Config{
		Listen:    "127.0.0.1:0",
		Generator: GeneratorConfig{OrdersPerSecond: 200, Seed: 5},
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, srv.Close()) }()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Store().Snapshot().Orders < 100 {
		require.True(t, time.Now().Before(deadline), "too few orders placed")
		time.Sleep(10 * time.Millisecond)
	}
	srv.Generator().Pause()
	st := srv.Store().Snapshot()

	req, err := http.NewRequest(http.MethodGet, srv.URL()+MetricsPath, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", acceptProtobuf)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	format := expfmt.ResponseFormat(resp.Header)
	require.Equal(t, expfmt.TypeProtoDelim, format.FormatType(), "Content-Type %q", resp.Header.Get("Content-Type"))
	dec := expfmt.NewDecoder(resp.Body, format)
	var placement *dto.MetricFamily
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			break
		}
		if mf.GetName() == PlacementName {
			placement = &mf
		}
	}
	require.NotNil(t, placement)
	require.Len(t, placement.GetMetric(), 1)
	h := placement.GetMetric()[0].GetHistogram()

	require.Equal(t, int32(PlacementSchema), h.GetSchema())
	require.Equal(t, prometheus.DefNativeHistogramZeroThreshold, h.GetZeroThreshold())
	require.Zero(t, h.GetZeroCount())
	require.Empty(t, h.GetNegativeSpan())
	want := map[int]int64{}
	for ms, c := range st.LatencyMillis {
		_, upper := PlacementBucket(float64(ms) / 1000)
		want[placementIndex(upper)] += c
	}
	require.Equal(t, want, nativeBuckets(h))
	requireClassicPlacement(t, h, st.LatencyMillis)
	require.Equal(t, st.Orders, sumCounts(st.LatencyMillis))
	require.Greater(t, len(want), 10, "latencies should spread over many native buckets")

	_, text, body := scrape(t, srv.URL())
	requireClassicPlacement(t, text, st.LatencyMillis)
	require.Nil(t, text.Schema, "the text exposition carries no native buckets:\n%s", body)
}
