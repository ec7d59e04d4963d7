package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-eks/otelcol-eks/bench/internal/rwsink"
)

func fakeRun(round int, subject string, cpu time.Duration, served int64) runResult {
	return runResult{Round: round, Subject: subject, CPU: cpu, Served: served, Delivered: served,
		ActiveSeries: 100_000, RSSMedian: 200 << 20, HWM: 300 << 20, WireBytes: 1000, WireSamples: 100, Window: time.Minute, Scrapes: 10}
}

// The section's block is replaced in place; text around it stays.
func TestWriteResultsKeepsAnalysis(t *testing.T) {
	out := filepath.Join(t.TempDir(), "RESULTS.md")
	o := options{targets: 100, labelSets: 143, interval: 10 * time.Second, rounds: 2, out: out, section: "100k", baseline: "agent"}
	for _, s := range []string{"col:a.yaml", "agent:prometheus-agent.yaml"} {
		spec, err := parseSubject(s)
		require.NoError(t, err)
		o.subjects = append(o.subjects, spec)
	}
	results := []runResult{
		fakeRun(1, "col", 4*time.Second, 1_000_000), fakeRun(1, "agent", time.Second, 1_000_000),
		fakeRun(2, "col", 6*time.Second, 1_000_000), fakeRun(2, "agent", 2*time.Second, 1_000_000),
	}
	require.NoError(t, writeResults(o, machine{}, results))
	first, err := os.ReadFile(out)
	require.NoError(t, err)
	// Ratios are per round (4× and 3×), then averaged.
	require.Contains(t, string(first), "| `col` | yes (2000000/2000000) | 5.00 | 3.50× (3.00×–4.00×) |")

	edited := strings.Replace(string(first), "# Benchmark results\n", "# Benchmark results\n\nHand-written analysis.\n", 1) + "\nTrailing notes.\n"
	require.NoError(t, os.WriteFile(out, []byte(edited), 0o644))
	results[0].CPU = 8 * time.Second
	results[1].Delivered = 999_999
	results[1].Missing = 1
	require.NoError(t, writeResults(o, machine{}, results))
	second, err := os.ReadFile(out)
	require.NoError(t, err)
	text := string(second)
	require.Contains(t, text, "Hand-written analysis.")
	require.Contains(t, text, "Trailing notes.")
	require.Equal(t, 1, strings.Count(text, "<!-- bench:100k:begin"))
	require.Contains(t, text, "| `col` | yes (2000000/2000000) | 7.00 | 5.50× (3.00×–8.00×) |")
	require.Contains(t, text, "| `agent` | **NO** (1999999/2000000) |")
}

// Freshness p50 and p99 are means over rounds, max the worst run; every
// ratio is per round against the baseline.
func TestFreshnessColumns(t *testing.T) {
	o := options{targets: 100, labelSets: 143, interval: 10 * time.Second, rounds: 2, baseline: "agent"}
	for _, s := range []string{"col:a.yaml", "agent:prometheus-agent.yaml"} {
		spec, err := parseSubject(s)
		require.NoError(t, err)
		o.subjects = append(o.subjects, spec)
	}
	fresh := func(r runResult, p50, p99, maxMS int) runResult {
		r.Freshness = rwsink.Freshness{Samples: r.Delivered, P50: time.Duration(p50) * time.Millisecond,
			P99: time.Duration(p99) * time.Millisecond, Max: time.Duration(maxMS) * time.Millisecond}
		return r
	}
	results := []runResult{
		fresh(fakeRun(1, "col", time.Second, 1_000_000), 500, 1000, 1100), fresh(fakeRun(1, "agent", time.Second, 1_000_000), 100, 200, 300),
		fresh(fakeRun(2, "col", time.Second, 1_000_000), 700, 1200, 1500), fresh(fakeRun(2, "agent", time.Second, 1_000_000), 100, 400, 600),
	}
	text := renderSection(o, machine{}, results)
	require.Contains(t, text, "| 600 | 6.00× (5.00×–7.00×) | 1100 | 4.00× (3.00×–5.00×) | 1500 | 3.08× (2.50×–3.67×) |\n")
	require.Contains(t, text, "| 500 | 1000 | 1100 |  |\n")
	require.Contains(t, text, "freshness max ms")

	// A run whose freshness covers other samples than it delivered says so.
	results[0].Freshness.Samples--
	require.Contains(t, renderSection(o, machine{}, results), "| 500 | 1000 | 1100 | freshness of 999999 samples |\n")
	results[0].Freshness.Samples++

	// A run with samples missing has no freshness: the samples that never
	// arrived are absent from its histogram and from its delivered count
	// alike, so only the note tells. Means, the worst and ratios skip it.
	lossy := slices.Clone(results)
	lossy[2].Delivered -= 1000
	lossy[2].Missing = 1000
	lossy[2].Freshness.Samples = lossy[2].Delivered
	text = renderSection(o, machine{}, lossy)
	require.Contains(t, text, "| `col` | **NO** (1999000/2000000) |")
	require.Contains(t, text, "| 500 | 5.00× | 1000 | 5.00× | 1100 | 3.67× |\n")
	require.Contains(t, text, "| – | – | – | freshness left out: 1000 samples missing |\n")

	// Unattributed samples alone (values no scrape served) leave it whole.
	unattributed := slices.Clone(results)
	unattributed[1].Unattributed = 5
	require.Contains(t, renderSection(o, machine{}, unattributed), "| 100 | 200 | 300 | rejected 0 map[], unattributed 5 |\n")

	// A run that measured none has no freshness either: its zeros would
	// drag the mean down and make the ratios infinite.
	empty := slices.Clone(results)
	empty[3].Freshness = rwsink.Freshness{}
	text = renderSection(o, machine{}, empty)
	require.Contains(t, text, "| 100 | 1 | 200 | 1 | 300 | 1 |\n")
	require.Contains(t, text, "| 600 | 5.00× | 1100 | 5.00× | 1500 | 3.67× |\n")
	require.Contains(t, text, "| – | – | – | freshness left out: no sample measured |\n")
	require.NotContains(t, text, "Inf")
	require.NotContains(t, text, "NaN")
}
