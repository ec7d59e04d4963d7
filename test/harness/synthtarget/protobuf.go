package synthtarget

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

// The protobuf exposition, which Prometheus client libraries answer when
// the scraper accepts it, and the only one that carries native histograms.
// A native histogram is one sample, named HistogramName (no suffix).

// SamplesPerNativeLabelSet is the number of samples a label set whose
// histogram is native yields per scrape: the counter, the gauge and the
// native histogram.
const SamplesPerNativeLabelSet = 3

// The native histogram served at scrape seq has, in each bucket k, seq ×
// nativeWeights[k] observations: schema 3 (the Go client library's schema
// for NativeHistogramBucketFactor 1.1), the client library's default zero
// threshold and an empty zero bucket, 20 populated buckets in two spans,
// about what a request latency spread over two orders of magnitude fills.
// Its sum is seq × sumFactor, like the classic histogram's.
const nativeSchema = 3

var (
	nativeSpans   = []*dto.BucketSpan{span(-60, 12), span(3, 8)}
	nativeWeights = []int64{1, 1, 2, 3, 5, 8, 9, 12, 14, 13, 11, 9, 7, 6, 4, 3, 2, 2, 1, 1}
)

func span(offset int32, length uint32) *dto.BucketSpan {
	return &dto.BucketSpan{Offset: proto.Int32(offset), Length: proto.Uint32(length)}
}

// nativeCountFactor is the native histogram's count per seq.
var nativeCountFactor = func() int64 {
	var n int64
	for _, w := range nativeWeights {
		n += w
	}
	return n
}()

// NativeHistogramCount is the count of the native histogram served at
// scrape seq.
func NativeHistogramCount(seq int64) uint64 { return uint64(seq * nativeCountFactor) }

// SeqOfNativeHistogram returns the scrape sequence number a stored native
// histogram sample of a synthetic series came from, given its metric name
// and its count. ok is false for other series and for counts no scrape
// served.
func SeqOfNativeHistogram(name string, count uint64) (seq int64, ok bool) {
	if name != HistogramName || count == 0 || count%uint64(nativeCountFactor) != 0 || count > math.MaxInt64/4 {
		return 0, false
	}
	return int64(count / uint64(nativeCountFactor)), true
}

// isNative reports whether label set i of a target configured with share
// (Config.NativeHistograms) has a native histogram: the label sets where
// ⌊(i+1)·share⌋ grows, spread evenly over the label sets.
func isNative(i int, share float64) bool {
	return math.Floor(float64(i+1)*share) > math.Floor(float64(i)*share)
}

// Samples is the number of samples one scrape of labelSets label sets
// yields with c's share of native histograms.
func (c Config) Samples(labelSets int) int {
	n := 0
	for i := range labelSets {
		if isNative(i, c.NativeHistograms) {
			n += SamplesPerNativeLabelSet
		} else {
			n += SamplesPerLabelSet
		}
	}
	return n
}

// acceptsProtobuf reports whether a scraper's Accept header offers the
// protobuf exposition.
func acceptsProtobuf(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/vnd.google.protobuf")
}

// protobufContentType is the Content-Type of a protobuf exposition.
var protobufContentType = string(expfmt.NewFormat(expfmt.TypeProtoDelim))

// pbLabels returns label set i's labels as protobuf label pairs, with the
// values newLabelSet renders.
func pbLabels(namespace, pod string, i int) []*dto.LabelPair {
	l := func(name, value string) *dto.LabelPair {
		return &dto.LabelPair{Name: proto.String(name), Value: proto.String(value)}
	}
	return []*dto.LabelPair{
		l("namespace", namespace), l("pod", pod), l("container", "app"),
		l("method", methods[i%len(methods)]), l("code", codes[(i/len(methods))%len(codes)]),
		l("route", fmt.Sprintf("/api/v1/items/%d", i)),
	}
}

// appendProtobuf appends the protobuf exposition of scrape seq over the
// label sets labels, the share of native histograms given.
func appendProtobuf(b []byte, labels [][]*dto.LabelPair, seq int64, share float64) ([]byte, error) {
	f := float64(seq)
	counter := &dto.MetricFamily{Name: proto.String(CounterName), Help: proto.String("Requests handled."), Type: dto.MetricType_COUNTER.Enum()}
	gauge := &dto.MetricFamily{Name: proto.String(GaugeName), Help: proto.String("Requests waiting."), Type: dto.MetricType_GAUGE.Enum()}
	hist := &dto.MetricFamily{Name: proto.String(HistogramName), Help: proto.String("Request latency."), Type: dto.MetricType_HISTOGRAM.Enum()}
	classic := classicBuckets(seq)
	native := nativeHistogram(seq)
	for i, ls := range labels {
		counter.Metric = append(counter.Metric, &dto.Metric{Label: ls, Counter: &dto.Counter{Value: proto.Float64(f * counterFactor)}})
		gauge.Metric = append(gauge.Metric, &dto.Metric{Label: ls, Gauge: &dto.Gauge{Value: proto.Float64(f * gaugeFactor)}})
		h := classic
		if isNative(i, share) {
			h = native
		}
		hist.Metric = append(hist.Metric, &dto.Metric{Label: ls, Histogram: h})
	}
	buf := bytes.NewBuffer(b)
	enc := expfmt.NewEncoder(buf, expfmt.NewFormat(expfmt.TypeProtoDelim))
	for _, mf := range []*dto.MetricFamily{counter, gauge, hist} {
		if err := enc.Encode(mf); err != nil {
			return b, fmt.Errorf("cannot encode %s: %w", mf.GetName(), err)
		}
	}
	return buf.Bytes(), nil
}

// classicBuckets is the classic histogram of scrape seq, as appendExposition
// renders it (the +Inf bucket implied by the count).
func classicBuckets(seq int64) *dto.Histogram {
	f := float64(seq)
	h := &dto.Histogram{SampleCount: proto.Uint64(uint64(f * countFactor)), SampleSum: proto.Float64(f * sumFactor)}
	for i, le := range []float64{0.1, 1} {
		h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: proto.Float64(le), CumulativeCount: proto.Uint64(uint64(f * bucketFactor(i)))})
	}
	return h
}

// nativeHistogram is the native histogram of scrape seq.
func nativeHistogram(seq int64) *dto.Histogram {
	deltas := make([]int64, len(nativeWeights))
	var prev int64
	for k, w := range nativeWeights {
		deltas[k] = seq*w - prev
		prev = seq * w
	}
	return &dto.Histogram{
		SampleCount:   proto.Uint64(NativeHistogramCount(seq)),
		SampleSum:     proto.Float64(float64(seq) * sumFactor),
		Schema:        proto.Int32(nativeSchema),
		ZeroThreshold: proto.Float64(prometheus.DefNativeHistogramZeroThreshold),
		ZeroCount:     proto.Uint64(0),
		PositiveSpan:  nativeSpans,
		PositiveDelta: deltas,
	}
}
