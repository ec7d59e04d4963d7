//go:build chaos

package chaos

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-eks/otelcol-eks/test/harness/faultproxy"
)

// TestGracefulStop is scenario 5: with a slow backend (1s per request) and
// data queued, SIGTERM ends the collector within the shutdown timeout and
// nothing is lost: what the write-ahead log had not sent yet is sent by
// the next start (upstream's log reader stops at shutdown instead of
// draining; docs/reliability.md).
func TestGracefulStop(t *testing.T) {
	t.Parallel()
	b := startBackend(t)
	ts := startTargets(t, 2, 5)
	dir := t.TempDir()
	c := startCollector(t, dir, b.ampEndpoint(), dir, collectorSpec{Targets: ts.Addrs()})
	b.waitFirstDelivery(t, ts)
	b.set(t, faultproxy.Delay(time.Second))
	runFor(t, c, 10*time.Second)
	took := c.stop(defaultShutdownMax)
	s := snapshot(ts)
	tl := b.waitDelivered(t, s, 10*time.Second, nil)
	t.Logf("SIGTERM after 10s of a 1s-per-request backend: exited in %s; before the next start: %s", took.Round(time.Millisecond), tl)
	b.set(t, faultproxy.Pass())
	c2 := startCollector(t, dir, b.ampEndpoint(), dir, collectorSpec{Targets: ts.Addrs()})
	tl = b.waitDelivered(t, s, time.Minute, nil)
	t.Logf("after the next start: %s", tl)
	require.Empty(t, tl.Missing, "lost across SIGTERM: %s", tl.summarize(10))
	require.Less(t, took, defaultShutdownMax)
	require.True(t, c2.running())
	b.requireClean(t)
}
