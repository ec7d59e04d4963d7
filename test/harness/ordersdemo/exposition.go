package ordersdemo

import (
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// AllProducts is the productId label value of the order-count series, as in
// the Java service's Micrometer counter.
const AllProducts = "*"

var (
	ordersDesc = prometheus.NewDesc("watch_orders_total",
		"The number of orders placed", []string{"productId"}, nil)
	orderTotalDesc = prometheus.NewDesc("watch_orderTotal",
		"The total value of orders placed", nil, nil)
	jdbcIdleDesc = prometheus.NewDesc("jdbc_connections_idle",
		"Number of established but idle connections.", []string{"name"}, nil)
)

// idleConnections is the size of each of the Java service's two JDBC pools,
// which sit idle in the workshop's sample scrape.
const idleConnections = 10

// stateCollector renders one Snapshot per scrape, so a scrape never mixes
// values from before and after an order.
type stateCollector struct{ store *Store }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- ordersDesc
	ch <- orderTotalDesc
	ch <- jdbcIdleDesc
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.store.Snapshot()
	ch <- prometheus.MustNewConstMetric(ordersDesc, prometheus.CounterValue, float64(st.Orders), AllProducts)
	ids := make([]string, 0, len(st.Products))
	for id := range st.Products {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		ch <- prometheus.MustNewConstMetric(ordersDesc, prometheus.CounterValue, float64(st.Products[id]), id)
	}
	ch <- prometheus.MustNewConstMetric(orderTotalDesc, prometheus.GaugeValue, st.OrderTotal)
	for _, pool := range []string{"reader", "writer"} {
		ch <- prometheus.MustNewConstMetric(jdbcIdleDesc, prometheus.GaugeValue, idleConnections, pool)
	}
}

// newMetricsHandler serves the store's metrics in whichever exposition
// format the scraper negotiates (text, OpenMetrics or protobuf).
func newMetricsHandler(store *Store) (http.Handler, error) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(stateCollector{store: store}); err != nil {
		return nil, err
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
}
