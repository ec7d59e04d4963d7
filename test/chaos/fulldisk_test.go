//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-eks/otelcol-eks/test/harness/faultproxy"
)

// TestFullDisk is the full volume: the queue's directory is a 4 MiB tmpfs
// while max_size_mib is 8, the misconfiguration of an emptyDir smaller
// than the queue's bound. A backend outage fills the volume; from then on
// every request that finds no room is dropped at once and counted
// (otelcol_remote_write_dropped_requests{reason="disk_full"}), the bound
// itself is never reached (no queue_full), and the collector stays up and
// healthy throughout: the pipeline never blocks. SIGKILLed while the volume
// is full, it starts again on it, with what was queued, and goes on
// dropping what finds no room. When the backend returns
// the queue drains and its space comes back; every scrape served before
// the volume filled and every scrape served once the queue has drained is
// delivered, and Prometheus rejects nothing.
func TestFullDisk(t *testing.T) {
	t.Parallel()
	const volume, maxSizeMiB = "4m", 8
	sc := startScenario(t, backendOptions{}, 4, 100, collectorSpec{
		TmpfsStorage: volume, Delivery: map[string]any{"max_size_mib": maxSizeMiB},
	})
	b, ts, c := sc.b, sc.ts, sc.c
	queueBytes := func() float64 { return collectorMetric(t, c, "otelcol_remote_write_queue_bytes") }
	diskFull := func() float64 {
		return collectorMetric(t, c, "otelcol_remote_write_dropped_requests", "reason", "disk_full")
	}

	b.set(t, faultproxy.Refuse())
	var peak float64
	whileHealthy(t, c, 4*time.Minute, "the volume to fill", func() bool {
		peak = max(peak, queueBytes())
		return diskFull() > 0
	})
	fullAt := time.Now()
	t.Logf("%s volume full: %.0f bytes queued", fullAt.Format("15:04:05.000"), peak)
	// Full for a while: every request meanwhile finds no room.
	whileHealthy(t, c, 10*time.Second, "", func() bool { return false })
	// Killed on the full volume, it starts again on it (the queue's files
	// are only overwritten or cut at start, never grown) with what it held.
	c.kill()
	c = sc.restart(t)
	queued := queuedAtStart(t, c)
	whileHealthy(t, c, time.Minute, "the restarted collector to drop on the full volume", func() bool { return diskFull() > 0 })
	t.Logf("restarted on the full volume with %d requests queued", queued)
	require.Positive(t, queued, "the restart found nothing queued")
	b.set(t, faultproxy.Pass())
	whileHealthy(t, c, 2*time.Minute, "the queue to drain", func() bool { return queueBytes() < 1<<20 })
	drainedAt := time.Now()
	t.Logf("%s queue drained", drainedAt.Format("15:04:05.000"))
	whileHealthy(t, c, 10*time.Second, "", func() bool { return false })

	s := snapshot(ts)
	// The first request dropped was appended at most a poll interval
	// before fullAt, holding scrapes at most inMemoryWindow older.
	dropped := func(m missingScrape) bool {
		return m.At.After(fullAt.Add(-inMemoryWindow-time.Second)) && m.At.Before(drainedAt.Add(inMemoryWindow))
	}
	tl := b.waitDelivered(t, s, 2*time.Minute, dropped)
	for _, m := range tl.Missing {
		require.True(t, dropped(m), "scrape %s lost outside the full volume's time", m)
	}
	after := 0
	for _, scrapes := range s.byPod {
		for _, sc := range scrapes {
			if sc.At.After(drainedAt.Add(inMemoryWindow)) {
				after++
			}
		}
	}
	full, queueFull := diskFull(), collectorMetric(t, c, "otelcol_remote_write_dropped_requests", "reason", "queue_full")
	lines := c.logCount("the queue's volume is full")
	t.Logf("%s volume, max_size_mib %d: %s; dropped{reason=\"disk_full\"} %.0f, dropped{reason=\"queue_full\"} %.0f, %d log lines; the %d scrapes served after the queue drained all stored",
		volume, maxSizeMiB, tl, full, queueFull, lines, after)
	require.Positive(t, full)
	require.Zero(t, queueFull, "the bound was reached: the volume did not fill first")
	require.Positive(t, lines, "the full volume is logged")
	require.Positive(t, len(tl.Missing), "nothing was lost: the volume never refused a request")
	require.Positive(t, after, "no scrape served after the queue drained was checked")
	require.Zero(t, tl.Duplicates)
	require.Zero(t, tl.Unknown)
	b.requireClean(t)
	require.True(t, c.running())
}

// whileHealthy checks every second, until done holds or timeout passes
// (failing the test when what is not empty), that the collector runs and
// its health check answers 200.
func whileHealthy(t testing.TB, c *collector, timeout time.Duration, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			if what != "" {
				t.Fatalf("timed out after %s waiting for %s", timeout, what)
			}
			return
		}
		runFor(t, c, time.Second)
		require.NoError(t, c.healthy(), "collector unhealthy")
	}
}

// healthy asks the collector's health check once.
func (c *collector) healthy() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.healthURL, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the health check: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check answered %s", resp.Status)
	}
	return nil
}
