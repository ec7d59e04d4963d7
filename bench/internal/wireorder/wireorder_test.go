package wireorder

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-eks/otelcol-eks/test/harness/synthtarget"
)

// benchSeries returns one sample of every series of the 100 K benchmark
// (100 targets × 143 label sets × 7) with the labels the exporter writes
// (external labels, job, instance, optionally otel_scope_*), sorted by
// name within each series, in scrape order: target by target.
func benchSeries(scope bool) []prompb.TimeSeries {
	names := []struct{ name, le string }{
		{synthtarget.CounterName, ""}, {synthtarget.GaugeName, ""},
		{synthtarget.HistogramName + "_bucket", "0.1"}, {synthtarget.HistogramName + "_bucket", "1"}, {synthtarget.HistogramName + "_bucket", "+Inf"},
		{synthtarget.HistogramName + "_sum", ""}, {synthtarget.HistogramName + "_count", ""},
	}
	methods := []string{"GET", "POST", "PUT", "DELETE"}
	codes := []string{"200", "201", "404", "500"}
	r := rand.New(rand.NewSource(1))
	var out []prompb.TimeSeries
	for t := range 100 {
		for i := range 143 {
			for _, n := range names {
				ls := []prompb.Label{
					{Name: "__name__", Value: n.name}, {Name: "account_id", Value: "012345678901"}, {Name: "cluster", Value: "bench"},
					{Name: "code", Value: codes[(i/4)%4]}, {Name: "container", Value: "app"},
					{Name: "instance", Value: fmt.Sprintf("127.0.0.1:%d", 40000+t)}, {Name: "job", Value: "synth"},
				}
				if n.le != "" {
					ls = append(ls, prompb.Label{Name: "le", Value: n.le})
				}
				ls = append(ls, prompb.Label{Name: "method", Value: methods[i%4]}, prompb.Label{Name: "namespace", Value: "synth"})
				if scope {
					ls = append(ls,
						prompb.Label{Name: "otel_scope_name", Value: "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/prometheusreceiver"},
						prompb.Label{Name: "otel_scope_version", Value: "0.165.1"})
				}
				ls = append(ls, prompb.Label{Name: "pod", Value: synthtarget.PodName(t)}, prompb.Label{Name: "region", Value: "us-west-2"},
					prompb.Label{Name: "route", Value: fmt.Sprintf("/api/v1/items/%d", i)})
				out = append(out, prompb.TimeSeries{Labels: ls, Samples: []prompb.Sample{{Value: float64(r.Intn(1000)), Timestamp: 1764150000000 + int64(t)}}})
			}
		}
	}
	return out
}

// bytesPerSample is the compressed size of series sent perRequest series
// per remote-write request, per sample.
func bytesPerSample(t *testing.T, series []prompb.TimeSeries, perRequest int) float64 {
	t.Helper()
	var wire int
	for i := 0; i < len(series); i += perRequest {
		wr := prompb.WriteRequest{Timeseries: series[i:min(i+perRequest, len(series))]}
		b, err := wr.Marshal()
		require.NoError(t, err)
		wire += len(snappy.Encode(nil, b))
	}
	return float64(wire) / float64(len(series))
}

func shuffled(in []prompb.TimeSeries) []prompb.TimeSeries {
	out := append([]prompb.TimeSeries(nil), in...)
	r := rand.New(rand.NewSource(2))
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func TestSeriesOrderAndScopeLabels(t *testing.T) {
	const perRequest = 5000 // about 1 MB uncompressed, the shipped max_batch_size_bytes
	f := func(scope bool) (ordered, random float64) {
		s := benchSeries(scope)
		return bytesPerSample(t, s, perRequest), bytesPerSample(t, shuffled(s), perRequest)
	}
	withOrdered, withRandom := f(true)
	noOrdered, noRandom := f(false)
	t.Logf("with otel_scope_*: scrape order %.1f B/sample, map order %.1f", withOrdered, withRandom)
	t.Logf("without:           scrape order %.1f B/sample, map order %.1f", noOrdered, noRandom)
	// Measured 2026-11-26: 33.9 / 44.0 with scope labels, 24.7 / 35.0 without.
	require.Less(t, withOrdered, 0.85*withRandom, "scrape order should compress clearly better than map order")
	require.Less(t, noOrdered, 0.8*noRandom)
	require.Less(t, noRandom, 0.85*withRandom, "the scope labels should cost bytes in map order")
}
