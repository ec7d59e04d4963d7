//go:build chaos

package chaos

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-eks/otelcol-eks/test/harness/faultproxy"
)

// TestGracefulStop is scenario 5: with a backend slower than the scrapes
// (3s per request, a batch every second) and data queued, SIGTERM ends the
// collector within the shutdown timeout and nothing is lost: the request
// in flight is finished, what the queue had not sent yet stays on disk
// (the next start reports it) and is sent by the next start.
func TestGracefulStop(t *testing.T) {
	t.Parallel()
	sc := startScenario(t, backendOptions{}, 2, 5, collectorSpec{})
	b, ts, c := sc.b, sc.ts, sc.c
	const perRequest = 3 * time.Second
	b.set(t, faultproxy.Delay(perRequest))
	runFor(t, c, 10*time.Second)
	took := c.stop(defaultShutdownMax)
	s := snapshot(ts)
	tl := b.waitDelivered(t, s, 2*time.Second, nil)
	t.Logf("SIGTERM after 10s of a %s-per-request backend: exited in %s; before the next start: %s", perRequest, took.Round(time.Millisecond), tl)
	b.set(t, faultproxy.Pass())
	c2 := sc.restart(t)
	queued := queuedAtStart(t, c2)
	tl = b.waitDelivered(t, s, time.Minute, nil)
	t.Logf("after the next start (%d requests queued at start): %s", queued, tl)
	require.Positive(t, queued, "nothing was left queued: the scenario did not test a stop with data queued")
	require.Empty(t, tl.Missing, "lost across SIGTERM: %s", tl.summarize(10))
	require.Less(t, took, defaultShutdownMax)
	require.True(t, c2.running())
	b.requireClean(t)
}
