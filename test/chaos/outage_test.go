//go:build chaos

package chaos

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-eks/otelcol-eks/test/harness/faultproxy"
)

// TestBackendOutage is scenario 1: the backend refuses connections for N
// minutes (1, or 5 with CHAOS_LONG=1) while scraping continues, then
// returns. Every sample served must arrive, and Prometheus must reject
// nothing (no out-of-order, no duplicate).
func TestBackendOutage(t *testing.T) {
	t.Parallel()
	outage := outageLength(t, time.Minute, 5*time.Minute)
	sc := startScenario(t, backendOptions{}, 4, 10, collectorSpec{})
	b, ts, c := sc.b, sc.ts, sc.c

	b.set(t, faultproxy.Refuse())
	runFor(t, c, outage)
	b.set(t, faultproxy.Pass())
	runFor(t, c, 5*time.Second)

	s := snapshot(ts)
	tl := b.waitDelivered(t, s, 2*time.Minute, nil)
	st := b.fault.Stats()
	t.Logf("outage %s: %s; proxy saw %d requests, %d of them repeats", outage, tl, st.Requests, st.Repeats)
	require.Empty(t, tl.Missing, "scrapes not (fully) stored: %s", tl.summarize(10))
	require.Zero(t, tl.Duplicates)
	require.Zero(t, tl.Unknown)
	b.requireClean(t)
	require.True(t, c.running())
}
