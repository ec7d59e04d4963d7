package main

import (
	"os"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-eks/otelcol-eks/test/harness/remotewrite"
)

// requireSameJobLines checks that the rendered series of job are those the
// golden file at path holds for that job.
func requireSameJobLines(t *testing.T, rendered, path, job string) {
	t.Helper()
	golden, err := os.ReadFile(path)
	require.NoError(t, err)
	of := func(text string) []string {
		var out []string
		for _, line := range strings.Split(text, "\n") {
			if strings.Contains(line, `job="`+job+`"`) {
				out = append(out, line)
			}
		}
		return out
	}
	want := of(string(golden))
	require.NotEmpty(t, want, "%s has no series of job %s", path, job)
	require.Equal(t, want, of(rendered), "the series of job %s differ from %s", job, path)
}

// requireIntegerHistograms checks the wire form of every native histogram
// sample the golden file renders: an integer histogram (count and zero
// count as integers, bucket counts as deltas, as many deltas as the spans
// cover), never a float one. The golden file shows the deltas resolved.
func requireIntegerHistograms(t *testing.T, series []remotewrite.Series) {
	t.Helper()
	n := 0
	for _, s := range series {
		for _, h := range s.Histograms {
			if value.IsStaleNaN(h.Sum) {
				continue
			}
			n++
			_, intCount := h.Count.(*prompb.Histogram_CountInt)
			_, intZero := h.ZeroCount.(*prompb.Histogram_ZeroCountInt)
			require.True(t, intCount && intZero, "%s: count %T, zero count %T", s, h.Count, h.ZeroCount)
			require.Empty(t, h.PositiveCounts, "%s: float bucket counts", s)
			require.Empty(t, h.NegativeCounts, "%s: float bucket counts", s)
			require.Equal(t, spanned(h.PositiveSpans), len(h.PositiveDeltas), "%s: positive spans and deltas", s)
			require.Equal(t, spanned(h.NegativeSpans), len(h.NegativeDeltas), "%s: negative spans and deltas", s)
		}
	}
	require.NotZero(t, n, "no native histogram sample recorded")
}

// spanned is the number of buckets spans cover.
func spanned(spans []prompb.BucketSpan) int {
	n := 0
	for _, sp := range spans {
		n += int(sp.Length)
	}
	return n
}
