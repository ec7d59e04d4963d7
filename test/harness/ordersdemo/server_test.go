package ordersdemo

import (
	"context"
	"encoding/json"
	"io"
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
// returns the State it describes.
func scrape(t *testing.T, base string) (State, string) {
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
	return st, string(body)
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
		st, _ := scrape(t, srv.URL())
		require.Equal(t, replay(t, seed, st.Orders), st)
		require.GreaterOrEqual(t, st.Orders, last, "the order count went backwards")
		last = st.Orders
	}
	require.Positive(t, last)

	paused := getState(t, http.MethodPost, srv.URL()+"/pause")
	require.True(t, paused.Paused)
	require.Equal(t, float64(200), paused.OrdersPerSecond)
	st, body := scrape(t, srv.URL())
	require.Equal(t, paused.State, st)
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
	st, body := scrape(t, srv.URL())
	require.Equal(t, State{Products: map[string]int64{}}, st)
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
