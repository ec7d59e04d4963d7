//go:build chaos

package chaos

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-eks/otelcol-eks/test/harness/faultproxy"
)

// TestSharedQueueDirectory is a surge rollout on one node: a second
// collector starts on the queue directory of one that runs (as a new pod
// of a DaemonSet keeping its queue on a hostPath can, while the old pod
// still stops). The second waits for the directory's lock, says so once,
// and does not start (its receivers start after its extensions) nor
// become healthy, while the first keeps
// delivering; a third with a short lock_wait gives up and exits with an
// error naming the directory and what to do. Then the backend goes away,
// the first queues, and is stopped (SIGTERM): the second takes the queue
// over as soon as the lock is released and, once the backend is back,
// delivers what the first left. Nothing is lost; the fault proxy, which
// sees every attempt, sees no request twice.
func TestSharedQueueDirectory(t *testing.T) {
	t.Parallel()
	sc := startScenario(t, backendOptions{}, 2, 5, collectorSpec{})
	b, ts, first := sc.b, sc.ts, sc.c
	queueDir := filepath.Join(sc.storage, deliveryID)
	waiting := "queue directory " + queueDir + " is locked by another process, probably the previous collector pod still stopping; waiting up to"

	secondSpec := sc.spec
	secondSpec.Delivery = map[string]any{"lock_wait": "5m"}
	second := launchCollector(t, sc.dir, b.ampEndpoint(), sc.storage, secondSpec)
	waitFor(t, time.Minute, "the second collector to wait for the lock", func() bool { return second.logCount(waiting) == 1 })
	t.Logf("%s second collector waits for the lock", time.Now().Format("15:04:05.000"))

	before := b.fault.Stats().Requests
	runFor(t, first, 8*time.Second)
	delivered := b.fault.Stats().Requests - before
	t.Logf("meanwhile the first collector sent %d requests", delivered)
	require.Positive(t, delivered, "the first collector stopped delivering")
	require.True(t, second.running(), "the second collector exited while waiting: %v", second.Err())
	require.False(t, healthy(second), "the second collector is healthy without its queue")

	thirdSpec := sc.spec
	thirdSpec.Delivery = map[string]any{"lock_wait": "2s"}
	third := launchCollector(t, sc.dir, b.ampEndpoint(), sc.storage, thirdSpec)
	select {
	case <-third.Exited():
	case <-time.After(time.Minute):
		t.Fatal("the third collector did not give up after lock_wait")
	}
	refusal := third.logLines("the queue directory "+queueDir+" is still locked by another process after lock_wait (2s)", "maxSurge: 0", filepath.Join(queueDir, "lock"))
	require.Error(t, third.Err(), "the third collector exited cleanly")
	require.NotEmpty(t, refusal, "the third collector's error names the directory, the lock and what to do:\n%s", third.Tail(3000))
	t.Logf("third collector: %v; %s", third.Err(), refusal[len(refusal)-1])

	b.set(t, faultproxy.Refuse())
	runFor(t, first, 5*time.Second)
	took := first.stop(defaultShutdownMax)
	t.Logf("%s first collector stopped in %s", time.Now().Format("15:04:05.000"), took.Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, second.waitHealthy(ctx), "the second collector did not take the queue over")
	require.Equal(t, 1, second.logCount("queue directory lock acquired"))
	queued := queuedAtStart(t, second)
	t.Logf("%s second collector took the queue over with %d requests queued", time.Now().Format("15:04:05.000"), queued)
	require.Positive(t, queued, "the first collector left nothing queued: the handover was not tested")

	runFor(t, second, 3*time.Second)
	b.set(t, faultproxy.Pass())
	runFor(t, second, 5*time.Second)
	s := snapshot(ts)
	tl := b.waitDelivered(t, s, time.Minute, nil)
	st := b.fault.Stats()
	t.Logf("shared directory: %s; the backend saw %d requests, %d of them repeats", tl, st.Requests, st.Repeats)
	require.Empty(t, tl.Missing, "scrapes not (fully) stored: %s", tl.summarize(10))
	require.Zero(t, tl.Duplicates)
	require.Zero(t, tl.Unknown)
	require.Zero(t, st.Repeats, "a request reached the backend twice")
	b.requireClean(t)
	require.True(t, second.running())
}

// healthy tells whether c's health check answers 200.
func healthy(c *collector) bool {
	resp, err := http.Get(c.healthURL)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
