//go:build chaos

package chaos

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-eks/otelcol-eks/test/harness/faultproxy"
)

// memoryLimit reads the limit the shipped memory_limiter computed from the
// collector's log ("Memory limiter configured" with limit_mib).
func memoryLimit(t testing.TB, c *collector) int64 {
	t.Helper()
	m := regexp.MustCompile(`"limit_mib": ([0-9]+)`).FindStringSubmatch(c.log.String())
	require.NotNil(t, m, "no memory_limiter limit in the collector log")
	mib, err := strconv.ParseInt(m[1], 10, 64)
	require.NoError(t, err)
	return mib << 20
}

// TestSlowBackendAndOverload is scenario 4: a backend taking 5s per
// request, then targets serving 10x the series. The collector keeps
// running, its memory stays under the memory_limiter limit, and once the
// backend is fast again every sample served arrives (nothing is dropped,
// so nothing needs counting).
func TestSlowBackendAndOverload(t *testing.T) {
	t.Parallel()
	sc := startScenario(t, backendOptions{}, 4, 10, collectorSpec{})
	b, ts, c := sc.b, sc.ts, sc.c
	limit := memoryLimit(t, c)

	var peak int64
	watch := func(d time.Duration) {
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) {
			runFor(t, c, time.Second)
			rss, err := c.rssBytes()
			require.NoError(t, err)
			peak = max(peak, rss)
		}
	}
	b.set(t, faultproxy.Delay(5*time.Second))
	watch(20 * time.Second)
	ts.SetScale(10)
	watch(20 * time.Second)
	b.set(t, faultproxy.Pass())
	watch(5 * time.Second)

	s := snapshot(ts)
	tl := b.waitDelivered(t, s, 2*time.Minute, nil)
	st := b.fault.Stats()
	t.Logf("slow backend then 10x series: %s; peak RSS %d MiB, memory_limiter limit %d MiB; largest request %d bytes decoded, 413s %d",
		tl, peak>>20, limit>>20, st.MaxDecodedBytes, st.TooLarge)
	require.Less(t, peak, limit)
	require.Empty(t, tl.Missing, "scrapes not stored: %s", tl.summarize(10))
	require.Zero(t, st.TooLarge, "requests larger than AMP accepts")
	b.requireClean(t)
}
