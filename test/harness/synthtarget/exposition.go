package synthtarget

import (
	"fmt"
	"math"
	"strconv"
)

// Metric names served by every target.
const (
	CounterName   = "synth_requests_total"
	GaugeName     = "synth_queue_depth"
	HistogramName = "synth_request_duration_seconds"
)

// SamplesPerLabelSet is the number of samples one label set yields per
// scrape: the counter, the gauge, three buckets, the sum and the count.
const SamplesPerLabelSet = 7

// bucketBounds are the histogram's upper bounds as written in the le
// label, and bucketBoundValues the same as numbers.
var (
	bucketBounds      = [...]string{"0.1", "1", "+Inf"}
	bucketBoundValues = [...]float64{0.1, 1, math.Inf(1)}
)

// Values served at scrape seq (1, 2, 3, ...): each is seq times a factor
// that depends only on the series, so SeqOf inverts it exactly.
const (
	counterFactor = 1
	gaugeFactor   = 2
	sumFactor     = 0.5
)

// bucketFactor is the cumulative count of bucket i (0.1, 1, +Inf) per seq.
func bucketFactor(i int) float64 { return float64(i + 1) }

// countFactor equals the +Inf bucket's, as a histogram requires.
const countFactor = 3

// SeqOf returns the scrape sequence number a stored sample of a synthetic
// series came from, given its metric name as stored by Prometheus (with the
// _bucket, _sum and _count suffixes of a classic histogram), its le label
// ("" for other series) and its value. ok is false for series this package
// does not serve and for values that no scrape served.
func SeqOf(name, le string, value float64) (seq int64, ok bool) {
	var factor float64
	switch name {
	case CounterName:
		factor = counterFactor
	case GaugeName:
		factor = gaugeFactor
	case HistogramName + "_sum":
		factor = sumFactor
	case HistogramName + "_count":
		factor = countFactor
	case HistogramName + "_bucket":
		// Compared as numbers: Prometheus 2.x writes the le of a protobuf
		// scrape in the OpenMetrics form ("1.0"), of a text scrape as served.
		bound, err := strconv.ParseFloat(le, 64)
		for i, b := range bucketBoundValues {
			if err == nil && b == bound {
				factor = bucketFactor(i)
			}
		}
	}
	if factor == 0 || math.IsNaN(value) || math.IsInf(value, 0) {
		return 0, false
	}
	q := value / factor
	if q < 1 || q != math.Trunc(q) || q > math.MaxInt64/4 {
		return 0, false
	}
	return int64(q), true
}

// labelSet is one pre-rendered label set: `{namespace="…",pod="…",…}`
// without the braces, so the histogram can append le.
type labelSet string

// The method and code labels cycle through these values.
var (
	methods = [...]string{"GET", "POST", "PUT", "DELETE"}
	codes   = [...]string{"200", "201", "404", "500"}
)

func newLabelSet(namespace, pod string, i int) labelSet {
	return labelSet(fmt.Sprintf(`namespace=%q,pod=%q,container="app",method=%q,code=%q,route="/api/v1/items/%d"`,
		namespace, pod, methods[i%len(methods)], codes[(i/len(methods))%len(codes)], i))
}

// appendExposition appends the text exposition of scrape seq over sets.
func appendExposition(b []byte, sets []labelSet, seq int64) []byte {
	f := float64(seq)
	b = append(b, "# HELP "+CounterName+" Requests handled.\n# TYPE "+CounterName+" counter\n"...)
	for _, ls := range sets {
		b = appendSample(b, CounterName, ls, "", f*counterFactor)
	}
	b = append(b, "# HELP "+GaugeName+" Requests waiting.\n# TYPE "+GaugeName+" gauge\n"...)
	for _, ls := range sets {
		b = appendSample(b, GaugeName, ls, "", f*gaugeFactor)
	}
	b = append(b, "# HELP "+HistogramName+" Request latency.\n# TYPE "+HistogramName+" histogram\n"...)
	for _, ls := range sets {
		for i, le := range bucketBounds {
			b = appendSample(b, HistogramName+"_bucket", ls, le, f*bucketFactor(i))
		}
		b = appendSample(b, HistogramName+"_sum", ls, "", f*sumFactor)
		b = appendSample(b, HistogramName+"_count", ls, "", f*countFactor)
	}
	return b
}

func appendSample(b []byte, name string, ls labelSet, le string, v float64) []byte {
	b = append(b, name...)
	b = append(b, '{')
	b = append(b, ls...)
	if le != "" {
		b = append(b, `,le="`...)
		b = append(b, le...)
		b = append(b, '"')
	}
	b = append(b, "} "...)
	b = strconv.AppendFloat(b, v, 'g', -1, 64)
	return append(b, '\n')
}
