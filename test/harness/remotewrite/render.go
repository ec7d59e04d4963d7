package remotewrite

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
)

// TimestampMode says how Render shows sample timestamps.
type TimestampMode int

const (
	// TimestampsDrop shows no timestamps: only values, in arrival order.
	// The default, because scrape times change on every run.
	TimestampsDrop TimestampMode = iota
	// TimestampsRelative shows each sample's offset from the first sample
	// of its series, as `value@+15s` (the first is `value@+0s`). Use it only
	// with a fake or fixed clock, or timestamps the data itself carries.
	TimestampsRelative
	// TimestampsAbsolute shows Unix milliseconds, as `value@1700000000000`.
	TimestampsAbsolute
)

// RenderOptions makes the text of a timing-dependent pipeline
// deterministic. The zero value renders everything, timestamps dropped.
//
// A golden test of a scrape pipeline typically sets DistinctValues (a
// static target scraped N times yields its value N times, and N depends on
// timing), masks `instance` or the labels carrying the loopback port that
// changes each run, and masks the values of series measured in time
// (scrape_duration_seconds).
type RenderOptions struct {
	// Timestamps selects how timestamps are shown; TimestampsDrop by default.
	Timestamps TimestampMode
	// DistinctValues collapses runs of consecutive equal values (and equal
	// histograms) into one, so `1 1 1 2 2 stale` renders as `1 2 stale`.
	// Non-consecutive repeats are kept: `1 2 1` stays `1 2 1`. The
	// timestamp shown is that of the first value of a run.
	DistinctValues bool
	// DropLabels removes these labels before rendering. Series that become
	// identical are merged, their samples ordered by timestamp.
	DropLabels []string
	// MaskLabels keeps these labels but shows their value as `<masked>`,
	// so the golden file still proves the label is there.
	MaskLabels []string
	// MaskValues lists metric names (__name__) whose sample values are
	// shown as `<value>` (staleness markers still show as `stale`): values
	// that measure the run itself, like scrape_duration_seconds.
	MaskValues []string
	// DropMetrics lists metric names (__name__) left out entirely.
	DropMetrics []string
	// NoExemplars leaves exemplar lines out.
	NoExemplars bool
}

// MaskedLabelValue and MaskedValue are what masked labels and values show.
const (
	MaskedLabelValue = "<masked>"
	MaskedValue      = "<value>"
)

// Render writes series as text for golden files, one series per line:
//
//	up{instance="<masked>",job="orders"} 1 stale
//	watch_orders_total{job="orders",productId="*"} 3 5@+15s
//
// The label set comes first (`name{k="v",...}`, labels sorted by name,
// values quoted Go-style), then every float sample and every native
// histogram in arrival order separated by spaces. Values are in Go's
// shortest 'g' form; NaN, +Inf and -Inf are written so; the Prometheus
// staleness marker (a NaN with a special bit pattern) is written `stale`.
// A native histogram is one space-free token,
// `{count=N,sum=S,schema=K,zero_threshold=Z,zero_count=C,pos=[offset:length,...]:[counts],neg=...,reset=HINT}`
// with bucket counts shown absolute (deltas resolved), or `stale` for a
// histogram staleness marker. Exemplars follow
// their series on indented lines `  # exemplar {labels} value@ts`. Lines
// are sorted, so the output does not depend on arrival order across series.
func Render(series []Series, opts RenderOptions) string {
	merged := map[string]*Series{}
	var keys []string
	for _, s := range series {
		if slices.Contains(opts.DropMetrics, s.Name()) {
			continue
		}
		ls := make([]prompb.Label, 0, len(s.Labels))
		for _, l := range sortedLabels(s.Labels) {
			switch {
			case slices.Contains(opts.DropLabels, l.Name):
				continue
			case slices.Contains(opts.MaskLabels, l.Name):
				l.Value = MaskedLabelValue
			}
			ls = append(ls, l)
		}
		key := labelsString(ls)
		m, ok := merged[key]
		if !ok {
			m = &Series{Labels: ls}
			merged[key] = m
			keys = append(keys, key)
		}
		m.Samples = append(m.Samples, s.Samples...)
		m.Histograms = append(m.Histograms, s.Histograms...)
		m.Exemplars = append(m.Exemplars, s.Exemplars...)
		if ok { // merged from several series: order by time
			slices.SortStableFunc(m.Samples, func(a, b prompb.Sample) int { return cmpInt64(a.Timestamp, b.Timestamp) })
			slices.SortStableFunc(m.Histograms, func(a, b prompb.Histogram) int { return cmpInt64(a.Timestamp, b.Timestamp) })
			slices.SortStableFunc(m.Exemplars, func(a, b prompb.Exemplar) int { return cmpInt64(a.Timestamp, b.Timestamp) })
		}
	}
	slices.Sort(keys)

	var b strings.Builder
	for _, key := range keys {
		s := merged[key]
		b.WriteString(key)
		masked := slices.Contains(opts.MaskValues, s.Name())
		first, ok := firstTimestamp(s)
		tok := func(v string, ts int64) {
			b.WriteByte(' ')
			b.WriteString(v)
			b.WriteString(formatTimestamp(opts.Timestamps, ts, first, ok))
		}
		prev := ""
		for i, smp := range s.Samples {
			v := formatValue(smp.Value)
			if masked && v != "stale" {
				v = MaskedValue
			}
			if opts.DistinctValues && i > 0 && v == prev {
				continue
			}
			prev = v
			tok(v, smp.Timestamp)
		}
		prev = ""
		for i, h := range s.Histograms {
			v := formatHistogram(h)
			if opts.DistinctValues && i > 0 && v == prev {
				continue
			}
			prev = v
			tok(v, h.Timestamp)
		}
		b.WriteByte('\n')
		if opts.NoExemplars {
			continue
		}
		for _, e := range s.Exemplars {
			b.WriteString("  # exemplar ")
			b.WriteString(labelsString(sortedLabels(e.Labels)))
			b.WriteByte(' ')
			b.WriteString(formatValue(e.Value))
			b.WriteString(formatTimestamp(opts.Timestamps, e.Timestamp, first, ok))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// RenderMetadata writes metadata one family per line, sorted by name:
// `# name TYPE unit="u" help="h"`.
func RenderMetadata(md []prompb.MetricMetadata) string {
	md = slices.Clone(md)
	slices.SortStableFunc(md, func(a, b prompb.MetricMetadata) int { return strings.Compare(a.MetricFamilyName, b.MetricFamilyName) })
	var b strings.Builder
	for i, m := range md {
		if i > 0 && m.MetricFamilyName == md[i-1].MetricFamilyName && m.Type == md[i-1].Type && m.Unit == md[i-1].Unit && m.Help == md[i-1].Help {
			continue
		}
		b.WriteString("# ")
		b.WriteString(m.MetricFamilyName)
		b.WriteByte(' ')
		b.WriteString(m.Type.String())
		b.WriteString(" unit=")
		b.WriteString(strconv.Quote(m.Unit))
		b.WriteString(" help=")
		b.WriteString(strconv.Quote(m.Help))
		b.WriteByte('\n')
	}
	return b.String()
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func isStale(v float64) bool { return value.IsStaleNaN(v) }

// formatValue writes v so every special value is explicit.
func formatValue(v float64) string {
	switch {
	case value.IsStaleNaN(v):
		return "stale"
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func firstTimestamp(s *Series) (int64, bool) {
	var first int64
	ok := false
	for _, smp := range s.Samples {
		if !ok || smp.Timestamp < first {
			first, ok = smp.Timestamp, true
		}
	}
	for _, h := range s.Histograms {
		if !ok || h.Timestamp < first {
			first, ok = h.Timestamp, true
		}
	}
	return first, ok
}

func formatTimestamp(mode TimestampMode, ts, first int64, haveFirst bool) string {
	switch mode {
	case TimestampsAbsolute:
		return "@" + strconv.FormatInt(ts, 10)
	case TimestampsRelative:
		if !haveFirst {
			first = ts
		}
		d := time.Duration(ts-first) * time.Millisecond
		if d < 0 {
			return "@" + d.String()
		}
		return "@+" + d.String()
	}
	return ""
}

// formatHistogram renders a native histogram as one space-free token.
// A histogram staleness marker (its sum is the StaleNaN) renders as `stale`.
func formatHistogram(h prompb.Histogram) string {
	if value.IsStaleNaN(h.Sum) {
		return "stale"
	}
	var b strings.Builder
	b.WriteString("{count=")
	b.WriteString(formatCount(h.Count))
	b.WriteString(",sum=")
	b.WriteString(formatValue(h.Sum))
	b.WriteString(",schema=")
	b.WriteString(strconv.Itoa(int(h.Schema)))
	b.WriteString(",zero_threshold=")
	b.WriteString(formatValue(h.ZeroThreshold))
	b.WriteString(",zero_count=")
	b.WriteString(formatCount(h.ZeroCount))
	b.WriteString(",pos=")
	writeBuckets(&b, h.PositiveSpans, h.PositiveDeltas, h.PositiveCounts)
	b.WriteString(",neg=")
	writeBuckets(&b, h.NegativeSpans, h.NegativeDeltas, h.NegativeCounts)
	if len(h.CustomValues) > 0 {
		b.WriteString(",custom=[")
		for i, v := range h.CustomValues {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(formatValue(v))
		}
		b.WriteByte(']')
	}
	b.WriteString(",reset=")
	b.WriteString(h.ResetHint.String())
	b.WriteByte('}')
	return b.String()
}

// formatCount renders a histogram's count or zero count, held in an
// integer or float oneof; an unset oneof is 0.
func formatCount(c any) string {
	switch c := c.(type) {
	case *prompb.Histogram_CountInt:
		return strconv.FormatUint(c.CountInt, 10)
	case *prompb.Histogram_CountFloat:
		return formatValue(c.CountFloat)
	case *prompb.Histogram_ZeroCountInt:
		return strconv.FormatUint(c.ZeroCountInt, 10)
	case *prompb.Histogram_ZeroCountFloat:
		return formatValue(c.ZeroCountFloat)
	}
	return "0"
}

// writeBuckets writes spans as [offset:length,...] and the bucket counts,
// deltas resolved to absolute counts, as [c1,c2,...].
func writeBuckets(b *strings.Builder, spans []prompb.BucketSpan, deltas []int64, counts []float64) {
	b.WriteByte('[')
	for i, sp := range spans {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(sp.Offset)))
		b.WriteByte(':')
		b.WriteString(strconv.FormatUint(uint64(sp.Length), 10))
	}
	b.WriteString("]:[")
	var abs int64
	for i, d := range deltas {
		if i > 0 {
			b.WriteByte(',')
		}
		abs += d
		b.WriteString(strconv.FormatInt(abs, 10))
	}
	for i, c := range counts {
		if i > 0 || len(deltas) > 0 {
			b.WriteByte(',')
		}
		b.WriteString(formatValue(c))
	}
	b.WriteByte(']')
}
