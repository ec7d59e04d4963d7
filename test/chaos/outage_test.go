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

// signatureWindow is how old a signature the stand-in accepts in
// TestOutageLongerThanSignature: AWS accepts 5 minutes.
const signatureWindow = 15 * time.Second

// TestOutageLongerThanSignature is the outage several times longer than a
// signature's validity: the stand-in accepts signatures at most 15 s old
// and sits in front of the fault proxy, so it verifies every attempt, the
// retries during the outage included (Prometheus unreachable: the stand-in
// answers 502). For 1 minute (5 with CHAOS_LONG=1) requests wait in the
// queue and are retried; each attempt is signed when it is sent, so once
// Prometheus is back everything is delivered, and the stand-in refuses no
// attempt (0 × 403), although requests waited four times the signature's
// validity (otelcol_remote_write_queue_oldest_age).
func TestOutageLongerThanSignature(t *testing.T) {
	t.Parallel()
	outage := outageLength(t, time.Minute, 5*time.Minute)
	sc := startScenario(t, backendOptions{MaxSkew: signatureWindow, FaultBehindStandin: true}, 4, 10, collectorSpec{})
	b, ts, c := sc.b, sc.ts, sc.c

	b.set(t, faultproxy.Refuse())
	var oldest float64
	for end := time.Now().Add(outage); time.Now().Before(end); {
		runFor(t, c, time.Second)
		oldest = max(oldest, collectorMetric(t, c, "otelcol_remote_write_queue_oldest_age"))
	}
	b.set(t, faultproxy.Pass())
	runFor(t, c, 5*time.Second)

	s := snapshot(ts)
	tl := b.waitDelivered(t, s, 2*time.Minute, nil)
	st := b.standin.Stats()
	retried := collectorMetric(t, c, "otelcol_remote_write_retried_requests")
	refused := collectorMetric(t, c, "otelcol_remote_write_answers", "code", "403")
	t.Logf("outage %s behind a stand-in accepting signatures up to %s old: %s; oldest queued request %.0fs; stand-in: %d accepted, %d answered 502 (outage), %d refused %v; collector: %.0f attempts retried, %.0f answered 403",
		outage, signatureWindow, tl, oldest, st.Accepted, st.UpstreamErrors, st.RejectedTotal, st.Rejected, retried, refused)
	require.Greater(t, oldest, 2*signatureWindow.Seconds(), "no request waited longer than a signature's validity")
	require.Positive(t, st.UpstreamErrors, "no attempt reached the stand-in during the outage")
	require.Zero(t, st.RejectedTotal, "the stand-in refused signatures: %v", st.Rejected)
	require.Zero(t, refused)
	require.Empty(t, tl.Missing, "scrapes not (fully) stored: %s", tl.summarize(10))
	require.Zero(t, tl.Duplicates)
	require.Zero(t, tl.Unknown)
	b.requireClean(t)
	require.True(t, c.running())
}
