package ordersdemo

import (
	"math"
	"net/http"
	"slices"
	"sort"
	"sync"

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

// PlacementName is the histogram of how long placing an order took, a
// native histogram (NativeHistogramBucketFactor PlacementBucketFactor) that
// also has the classic buckets PlacementClassicBuckets, as an application
// migrating to native histograms exposes them: a scraper negotiating the
// protobuf exposition gets both, the text exposition carries the classic
// buckets only.
const PlacementName = "watch_order_placement_seconds"

// PlacementBucketFactor is the histogram's NativeHistogramBucketFactor. The
// client library picks the largest schema whose bucket growth factor
// 2^(2^-schema) does not exceed it: PlacementSchema.
const (
	PlacementBucketFactor = 1.1
	PlacementSchema       = 3
)

// PlacementClassicBuckets are the histogram's classic upper bounds (+Inf
// implied).
var PlacementClassicBuckets = []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1}

// placementBounds are the upper bounds, divided by 2^exponent, of the
// 2^PlacementSchema native buckets within one power of two: 2^(j/8)/2
// (the client library's own table for schema 3).
var placementBounds = func() []float64 {
	b := make([]float64, 1<<PlacementSchema)
	for j := range b {
		b[j] = math.Exp2(float64(j)/float64(len(b))) / 2
	}
	return b
}()

// PlacementBucket returns the native bucket (lower, upper] of
// PlacementName that an observation v > 0 falls in. Native buckets include
// their upper bound: bucket i of schema s is (2^((i-1)/2^s), 2^(i/2^s)].
// Tests compute with it what a quantile of the stored histogram must be.
func PlacementBucket(v float64) (lower, upper float64) {
	frac, exp := math.Frexp(v) // v = frac × 2^exp, frac in [0.5, 1)
	i := sort.SearchFloat64s(placementBounds, frac) + (exp-1)*len(placementBounds)
	n := float64(len(placementBounds))
	return math.Exp2(float64(i-1) / n), math.Exp2(float64(i) / n)
}

// PlacementQuantile returns the q-quantile (0 < q ≤ 1) of the placement
// latencies counted in latencyMillis, in seconds, as Prometheus ranks
// observations: the ⌈q·n⌉-th smallest of n. It returns NaN when there are
// none.
func PlacementQuantile(latencyMillis map[int64]int64, q float64) float64 {
	var n int64
	ms := make([]int64, 0, len(latencyMillis))
	for v, c := range latencyMillis {
		ms = append(ms, v)
		n += c
	}
	if n == 0 {
		return math.NaN()
	}
	slices.Sort(ms)
	rank := int64(math.Ceil(q * float64(n)))
	var seen int64
	for _, v := range ms {
		if seen += latencyMillis[v]; seen >= rank {
			return float64(v) / 1000
		}
	}
	return float64(ms[len(ms)-1]) / 1000
}

func newPlacementHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:                        PlacementName,
		Help:                        "Time taken to place an order.",
		Buckets:                     PlacementClassicBuckets,
		NativeHistogramBucketFactor: PlacementBucketFactor,
	})
}

// stateCollector renders one Snapshot per scrape, so a scrape never mixes
// values from before and after an order. The placement histogram is a
// client library histogram fed, at each scrape, the latencies the snapshot
// holds that it has not observed yet: it holds exactly the snapshot's.
type stateCollector struct {
	store *Store

	mu        sync.Mutex // serialises scrapes' feeding and collection
	placement prometheus.Histogram
	observed  map[int64]int64 // latency in ms -> orders observed
}

func newStateCollector(store *Store) *stateCollector {
	return &stateCollector{store: store, placement: newPlacementHistogram(), observed: map[int64]int64{}}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- ordersDesc
	ch <- orderTotalDesc
	ch <- jdbcIdleDesc
	c.placement.Describe(ch)
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.store.Snapshot()
	c.mu.Lock()
	for ms, n := range st.LatencyMillis {
		for range n - c.observed[ms] {
			c.placement.Observe(float64(ms) / 1000)
		}
		c.observed[ms] = n
	}
	c.placement.Collect(ch)
	c.mu.Unlock()
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
// format the scraper negotiates (text or protobuf; only protobuf carries
// native histograms).
func newMetricsHandler(store *Store) (http.Handler, error) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(newStateCollector(store)); err != nil {
		return nil, err
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
}
