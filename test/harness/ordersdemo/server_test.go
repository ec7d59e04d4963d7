package ordersdemo

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scrape fetches /actuator/prometheus as the Prometheus text format and
// returns the State it describes, the placement histogram and the body.
// The State's LatencyMillis, which classic buckets cannot tell, is left
// nil: requireClassicPlacement checks the histogram against them.
func scrape(t *testing.T, base string) (State, *dto.Histogram, string) {
	t.Helper()
	resp, err := http.Get(base + "/actuator/prometheus")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	require.NoError(t, err)

	st := State{Products: map[string]int64{}}
	orders := fams["watch_orders_total"]
	require.NotNil(t, orders, "no watch_orders_total in\n%s", body)
	require.Equal(t, dto.MetricType_COUNTER, orders.GetType())
	for _, m := range orders.GetMetric() {
		require.Len(t, m.GetLabel(), 1)
		require.Equal(t, "productId", m.GetLabel()[0].GetName())
		v := int64(m.GetCounter().GetValue())
		if id := m.GetLabel()[0].GetValue(); id == AllProducts {
			st.Orders = v
		} else {
			st.Products[id] = v
		}
	}
	total := fams["watch_orderTotal"]
	require.NotNil(t, total)
	require.Equal(t, dto.MetricType_GAUGE, total.GetType())
	st.OrderTotal = total.GetMetric()[0].GetGauge().GetValue()
	require.Len(t, fams["jdbc_connections_idle"].GetMetric(), 2)
	placement := fams[PlacementName]
	require.NotNil(t, placement, "no %s in\n%s", PlacementName, body)
	require.Equal(t, dto.MetricType_HISTOGRAM, placement.GetType())
	require.Len(t, placement.GetMetric(), 1)
	return st, placement.GetMetric()[0].GetHistogram(), string(body)
}

// withoutLatencies is st as scrape describes it.
func withoutLatencies(st State) State {
	st.LatencyMillis = nil
	return st
}

// requireClassicPlacement checks the classic part of a scraped placement
// histogram against the latencies it must hold: count, sum and the
// cumulative count of every classic bucket.
func requireClassicPlacement(t *testing.T, h *dto.Histogram, latencyMillis map[int64]int64) {
	t.Helper()
	var n int64
	var sum float64
	for ms, c := range latencyMillis {
		n += c
		sum += float64(c) * float64(ms) / 1000
	}
	require.Equal(t, uint64(n), h.GetSampleCount())
	require.InDelta(t, sum, h.GetSampleSum(), 1e-9*max(sum, 1))
	buckets := h.GetBucket()
	if last := len(buckets) - 1; last >= 0 && math.IsInf(buckets[last].GetUpperBound(), 1) {
		// The text parser lists +Inf; the protobuf exposition leaves it implied.
		require.Equal(t, uint64(n), buckets[last].GetCumulativeCount())
		buckets = buckets[:last]
	}
	require.Len(t, buckets, len(PlacementClassicBuckets))
	for i, b := range buckets {
		require.Equal(t, PlacementClassicBuckets[i], b.GetUpperBound())
		var below int64
		for ms, c := range latencyMillis {
			if float64(ms)/1000 <= b.GetUpperBound() {
				below += c
			}
		}
		require.Equal(t, uint64(below), b.GetCumulativeCount(), "bucket le=%v", b.GetUpperBound())
	}
}

func getState(t *testing.T, method, url string) StateResponse {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var sr StateResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&sr))
	return sr
}

func TestServerScrapeMatchesState(t *testing.T) {
	const seed = 11
	srv, err := Start(context.Background(), Config{
		Listen:    "127.0.0.1:0",
		Generator: GeneratorConfig{OrdersPerSecond: 200, Seed: seed},
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, srv.Close()) }()

	// While orders flow, every scrape is one snapshot: it is exactly the
	// state after its own order count, as replayed from the seed.
	var last int64
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < 200 && (i < 20 || last < 20); i++ {
		require.True(t, time.Now().Before(deadline), "generator placed only %d orders", last)
		st, placement, _ := scrape(t, srv.URL())
		want := replay(t, seed, st.Orders)
		require.Equal(t, withoutLatencies(want), st)
		requireClassicPlacement(t, placement, want.LatencyMillis)
		require.GreaterOrEqual(t, st.Orders, last, "the order count went backwards")
		last = st.Orders
	}
	require.Positive(t, last)

	paused := getState(t, http.MethodPost, srv.URL()+"/pause")
	require.True(t, paused.Paused)
	require.Equal(t, float64(200), paused.OrdersPerSecond)
	st, placement, body := scrape(t, srv.URL())
	require.Equal(t, withoutLatencies(paused.State), st)
	requireClassicPlacement(t, placement, paused.LatencyMillis)
	require.Equal(t, paused.Orders, sumCounts(paused.LatencyMillis), "one latency per order")
	require.Equal(t, paused, getState(t, http.MethodGet, srv.URL()+"/state"))
	require.Contains(t, body, `watch_orders_total{productId="*"} `)

	resumed := getState(t, http.MethodPost, srv.URL()+"/resume")
	require.False(t, resumed.Paused)
	deadline = time.Now().Add(10 * time.Second)
	for getState(t, http.MethodGet, srv.URL()+"/state").Orders == paused.Orders {
		require.True(t, time.Now().Before(deadline), "no order placed after resume")
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServerStartsWithZeroOrderCount(t *testing.T) {
	srv, err := Start(context.Background(), Config{
		Listen:    "127.0.0.1:0",
		Generator: GeneratorConfig{OrdersPerSecond: 1, Paused: true},
	})
	require.NoError(t, err)
	st, _, body := scrape(t, srv.URL())
	require.Equal(t, State{Products: map[string]int64{}}, st)
	require.Contains(t, body, PlacementName+`_count 0`)
	require.Contains(t, body, `watch_orders_total{productId="*"} 0`)
	require.Equal(t, int64(1), srv.Scrapes())

	resp, err := http.Get(srv.URL() + "/actuator/health/liveness")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	require.NoError(t, srv.Close())
	require.NoError(t, srv.Close(), "second Close")
	_, err = http.Get(srv.URL() + "/state")
	require.Error(t, err, "still serving after Close")
}

func TestStartFailsOnBusyAddress(t *testing.T) {
	a, err := Start(context.Background(), Config{Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	defer a.Close()
	_, err = Start(context.Background(), Config{Listen: a.Addr()})
	require.ErrorContains(t, err, "cannot listen")
}
