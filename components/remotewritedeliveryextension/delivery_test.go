package remotewritedeliveryextension

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"

	"github.com/otelcol-eks/otelcol-eks/components/remotewritedeliveryextension/internal/metadata"
)

func body(i int) []byte { return snappy.Encode(nil, []byte(fmt.Sprintf("request %03d", i))) }

// TestDeliversAsCapturedSignedAtSendTime: the backend gets every request in
// order, byte for byte with the exporter's headers, each attempt signed by
// the authenticator when it is sent; nothing signed is kept.
func TestDeliversAsCapturedSignedAtSendTime(t *testing.T) {
	b := newBackend(t, http.StatusServiceUnavailable, http.StatusOK)
	fx := startFixture(t, testConfig(t.TempDir()))
	for i := range 5 {
		fx.send(t, b.url(), body(i))
	}
	got := b.waitRequests(t, 6) // the first attempt of request 0 fails
	require.Equal(t, body(0), got[0].body)
	for i := range 5 {
		r := got[i+1]
		require.Equal(t, body(i), r.body, "request %d out of order or altered", i)
		require.Equal(t, "snappy", r.header.Get("Content-Encoding"))
		require.Equal(t, "application/x-protobuf", r.header.Get("Content-Type"))
		require.Equal(t, "0.1.0", r.header.Get("X-Prometheus-Remote-Write-Version"))
		require.Equal(t, "otelcol-eks/test", r.header.Get("User-Agent"))
		require.Equal(t, fmt.Sprint(i+2), r.header.Get("X-Test-Attempt"), "every attempt is signed afresh")
	}
	require.Equal(t, fmt.Sprint(1), got[0].header.Get("X-Test-Attempt"))
	require.Eventually(t, func() bool { return fx.sum(t, "otelcol_remote_write_sent_requests") == 5 }, 5*time.Second, time.Millisecond)
	require.EqualValues(t, 1, fx.sum(t, "otelcol_remote_write_retried_requests", "reason", "server_error"))
	require.EqualValues(t, 1, fx.sum(t, "otelcol_remote_write_answers", "code", "503", "class", "5xx"))
	require.EqualValues(t, 5, fx.sum(t, "otelcol_remote_write_answers", "code", "200"))
	var sent int64
	for i := range 5 {
		sent += int64(len(body(i)))
	}
	require.Equal(t, sent, fx.sum(t, "otelcol_remote_write_sent_bytes"))
}

// TestAnswers: what each answer of the backend does to a request.
func TestAnswers(t *testing.T) {
	f := func(script []int, message string, wantAttempts int, wantDropReason, wantRetryReason string) {
		t.Helper()
		b := newBackend(t, script...)
		b.message = message
		fx := startFixture(t, testConfig(t.TempDir()))
		fx.send(t, b.url(), body(1))
		fx.send(t, b.url(), body(2)) // always delivered: shows request 1 is done with
		got := b.waitRequests(t, wantAttempts+1)
		wantSent := int64(2)
		if wantDropReason != "" {
			wantSent = 1
		}
		require.Eventually(t, func() bool { return fx.sum(t, "otelcol_remote_write_sent_requests") == wantSent }, 5*time.Second, time.Millisecond)
		require.Len(t, b.requests(), wantAttempts+1, "script %v: attempts", script)
		for _, r := range got[:wantAttempts] {
			require.Equal(t, body(1), r.body)
		}
		require.Equal(t, body(2), got[wantAttempts].body)
		if wantDropReason != "" {
			require.EqualValues(t, 1, fx.sum(t, "otelcol_remote_write_dropped_requests", "reason", wantDropReason), "script %v", script)
			require.EqualValues(t, len(body(1)), fx.sum(t, "otelcol_remote_write_dropped_bytes", "reason", wantDropReason))
			require.Equal(t, 1, fx.logCount("remote-write request refused for good"), "script %v", script)
		} else {
			require.Zero(t, fx.sum(t, "otelcol_remote_write_dropped_requests"), "script %v", script)
		}
		if wantRetryReason != "" {
			require.EqualValues(t, wantAttempts-1, fx.sum(t, "otelcol_remote_write_retried_requests", "reason", wantRetryReason), "script %v", script)
		} else {
			require.Zero(t, fx.sum(t, "otelcol_remote_write_retried_requests"), "script %v", script)
		}
	}
	f([]int{200}, "", 1, "", "")
	f([]int{204}, "", 1, "", "")
	f([]int{500, 502, 503, 200}, "", 4, "", "server_error")
	f([]int{408, 200}, "", 2, "", "server_error")
	f([]int{429, 429, 200}, "", 3, "", "throttled")
	f([]int{401, 200}, "", 2, "", "credentials")
	f([]int{403, 403, 403, 200}, "", 4, "", "credentials")
	f([]int{400, 200}, "out of order sample", 1, "out_of_order", "")
	f([]int{400, 200}, "duplicate sample for timestamp", 1, "duplicate_sample", "")
	f([]int{400, 200}, "sample timestamp out of bounds", 1, "too_old", "")
	f([]int{400, 200}, "invalid label name", 1, "invalid_labels", "")
	f([]int{400, 200}, "what", 1, "bad_request", "")
	f([]int{413, 200}, "", 1, "too_large", "")
	f([]int{404, 200}, "no such workspace", 1, "rejected", "")
	f([]int{422, 200}, "", 1, "rejected", "")
}

// TestDropLoggedOncePerCausePerInterval: a cause is logged once per
// log_interval, the next line says how many it stands for, and the hint
// names what to check.
func TestDropLoggedOncePerCausePerInterval(t *testing.T) {
	b := newBackend(t, http.StatusRequestEntityTooLarge)
	fx := startFixture(t, testConfig(t.TempDir()))
	for i := range 3 {
		fx.send(t, b.url(), body(i))
	}
	b.waitRequests(t, 3)
	require.Eventually(t, func() bool { return fx.sum(t, "otelcol_remote_write_dropped_requests", "reason", "too_large") == 3 }, 5*time.Second, time.Millisecond)
	lines := fx.logs.FilterMessageSnippet("refused for good").All()
	require.Len(t, lines, 1)
	fields := lines[0].ContextMap()
	require.EqualValues(t, 413, fields["status_code"])
	require.Contains(t, fields["hint"], "max_batch_size_bytes")
	require.Contains(t, fields["hint"], fmt.Sprintf("%d bytes as sent, 11 decoded", len(body(0))))

	fx.clock.Add(time.Minute)
	fx.send(t, b.url(), body(3))
	b.waitRequests(t, 4)
	require.Eventually(t, func() bool { return fx.logs.FilterMessageSnippet("refused for good").Len() == 2 }, 5*time.Second, time.Millisecond)
	require.EqualValues(t, 3, fx.logs.FilterMessageSnippet("refused for good").All()[1].ContextMap()["occurrences_since_last_log"])
}

// TestCredentialsRefusedKeepsData: 401/403 are logged with the credentials
// hint and retried every credentials_interval, not dropped; once the
// backend accepts, everything arrives in order.
func TestCredentialsRefusedKeepsData(t *testing.T) {
	b := newBackend(t, http.StatusForbidden)
	cfg := testConfig(t.TempDir())
	fx := startFixture(t, cfg)
	for i := range 3 {
		fx.send(t, b.url(), body(i))
	}
	b.waitRequests(t, 5)
	for _, r := range b.requests() {
		require.Equal(t, body(0), r.body, "a refused request must block the ones behind it")
	}
	lines := fx.logs.FilterMessageSnippet("refuses the credentials").All()
	require.Len(t, lines, 1, "logged once per log_interval")
	require.Contains(t, lines[0].ContextMap()["hint"], "Check the credentials source")

	b.mu.Lock()
	b.script = []int{http.StatusOK}
	b.mu.Unlock()
	require.Eventually(t, func() bool { return fx.sum(t, "otelcol_remote_write_sent_requests") == 3 }, 5*time.Second, time.Millisecond)
	got := b.requests()
	for i := range 3 {
		require.Equal(t, body(i), got[len(got)-3+i].body)
	}
	require.Zero(t, fx.sum(t, "otelcol_remote_write_dropped_requests"))
}

// TestSigningFailureKeepsData: when the authenticator cannot sign (no
// credentials yet), nothing is sent, the request is kept and counted as a
// credentials retry, and it is delivered once signing works.
func TestSigningFailureKeepsData(t *testing.T) {
	b := newBackend(t, http.StatusOK)
	fx := startFixture(t, testConfig(t.TempDir()))
	fx.auth.fail.Store(true)
	fx.send(t, b.url(), body(0))
	require.Eventually(t, func() bool {
		return fx.sum(t, "otelcol_remote_write_retried_requests", "reason", "credentials") >= 3
	}, 5*time.Second, time.Millisecond)
	require.Empty(t, b.requests())
	lines := fx.logs.FilterMessageSnippet("cannot sign").All()
	require.Len(t, lines, 1)
	require.Contains(t, lines[0].ContextMap()["error"], "no web identity token")
	fx.auth.fail.Store(false)
	got := b.waitRequests(t, 1)
	require.Equal(t, body(0), got[0].body)
	require.Zero(t, fx.sum(t, "otelcol_remote_write_retried_requests", "reason", "connection"))
	require.Zero(t, fx.sum(t, "otelcol_remote_write_answers", "code", "none"), "an unsigned attempt is sent nowhere: no answer")
}

// TestRetryAfterHonoured: a 429 with Retry-After: 1 holds the next attempt
// back at least a second, although the backoff alone would retry sooner.
func TestRetryAfterHonoured(t *testing.T) {
	b := newBackend(t, http.StatusTooManyRequests, http.StatusOK)
	b.retryAfter = "1"
	fx := startFixture(t, testConfig(t.TempDir()))
	fx.send(t, b.url(), body(0))
	got := b.waitRequests(t, 2)
	require.GreaterOrEqual(t, got[1].at.Sub(got[0].at), time.Second)
}

// TestRetryAfterParsing: seconds, an HTTP date, garbage, and the cap.
func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	f := func(v string, want time.Duration) {
		t.Helper()
		h := http.Header{}
		if v != "" {
			h.Set("Retry-After", v)
		}
		require.Equal(t, want, retryAfter(h, now), "Retry-After %q", v)
	}
	f("", 0)
	f("7", 7*time.Second)
	f("-3", 0)
	f("soon", 0)
	f(now.Add(90*time.Second).Format(http.TimeFormat), 90*time.Second)
	f(now.Add(-time.Hour).Format(http.TimeFormat), 0)
	f("86400", maxRetryAfter)
}

// TestBackoff: exponential from initial_interval, capped at max_interval,
// each wait within [d/2, d].
func TestBackoff(t *testing.T) {
	cfg := createDefaultConfig()
	s := &sender{cfg: cfg}
	f := func(failures int, want time.Duration) {
		t.Helper()
		for range 50 {
			got := s.backoff(failures)
			require.GreaterOrEqual(t, got, want/2, "failures %d", failures)
			require.LessOrEqual(t, got, want, "failures %d", failures)
		}
	}
	f(0, time.Second)
	f(1, 2*time.Second)
	f(4, 16*time.Second)
	f(5, 30*time.Second)
	f(40, 30*time.Second)
}

// TestUnreachableBackendRetried: a refused connection is retried until the
// backend listens.
func TestUnreachableBackendRetried(t *testing.T) {
	b := newBackend(t, http.StatusOK)
	url := b.url()
	b.srv.Close()
	fx := startFixture(t, testConfig(t.TempDir()))
	fx.send(t, url, body(0))
	require.Eventually(t, func() bool {
		return fx.sum(t, "otelcol_remote_write_retried_requests", "reason", "connection") >= 3
	}, 5*time.Second, time.Millisecond)
	require.EqualValues(t, 1, fx.gauge(t, "otelcol_remote_write_queue_requests"))
	require.Positive(t, fx.sum(t, "otelcol_remote_write_answers", "code", "none", "class", "error"))
	require.Equal(t, 1, fx.logCount("remote-write backend not reached"), "logged once per interval")
	require.Zero(t, fx.sum(t, "otelcol_remote_write_sent_requests"))
}

// TestExpiredDroppedUnsent: a request older than max_age is dropped without
// an attempt, also while it is being retried.
func TestExpiredDroppedUnsent(t *testing.T) {
	b := newBackend(t, http.StatusServiceUnavailable)
	cfg := testConfig(t.TempDir())
	cfg.MaxAge = time.Minute
	fx := startFixture(t, cfg)
	fx.send(t, b.url(), body(0))
	b.waitRequests(t, 2)
	fx.clock.Add(time.Minute + time.Second)
	require.Eventually(t, func() bool { return fx.sum(t, "otelcol_remote_write_dropped_requests", "reason", "expired") == 1 }, 5*time.Second, time.Millisecond)
	attempts := len(b.requests())

	b.mu.Lock()
	b.script = []int{http.StatusOK}
	b.mu.Unlock()
	fx.send(t, b.url(), body(1))
	got := b.waitRequests(t, attempts+1)
	require.Equal(t, body(1), got[len(got)-1].body)
	require.Equal(t, 1, fx.logCount("remote-write request older than max_age"))
}

// TestQueueGauges: bytes, requests and the oldest age of what waits.
func TestQueueGauges(t *testing.T) {
	b := newBackend(t, http.StatusServiceUnavailable)
	fx := startFixture(t, testConfig(t.TempDir()))
	fx.send(t, b.url(), body(0))
	fx.clock.Add(10 * time.Second)
	fx.send(t, b.url(), body(1))
	fx.clock.Add(5 * time.Second)
	require.EqualValues(t, 2, fx.gauge(t, "otelcol_remote_write_queue_requests"))
	require.Positive(t, fx.gauge(t, "otelcol_remote_write_queue_bytes"))
	m, err := fx.tel.GetMetric("otelcol_remote_write_queue_oldest_age")
	require.NoError(t, err)
	require.InDelta(t, 15, m.Data.(metricdata.Gauge[float64]).DataPoints[0].Value, 0.001)
}

// TestRestartDeliversWhatWasQueued: requests queued while the backend is
// away are delivered by the next start, in order, the one in flight at most
// twice.
func TestRestartDeliversWhatWasQueued(t *testing.T) {
	dir := t.TempDir()
	b := newBackend(t, http.StatusServiceUnavailable)
	first := startFixture(t, testConfig(dir))
	for i := range 4 {
		first.send(t, b.url(), body(i))
	}
	b.waitRequests(t, 1)
	require.NoError(t, first.ext.Shutdown(context.Background()))

	b.mu.Lock()
	b.script = []int{http.StatusOK}
	b.mu.Unlock()
	before := len(b.requests())
	second := startFixture(t, testConfig(dir))
	got := b.waitRequests(t, before+4)[before:]
	for i := range 4 {
		require.Equal(t, body(i), got[i].body)
	}
	require.Eventually(t, func() bool { return second.sum(t, "otelcol_remote_write_sent_requests") == 4 }, 5*time.Second, time.Millisecond)
	require.Equal(t, 1, second.logs.FilterMessage("remote-write queue opened").FilterField(zap.Int64("queued_requests", 4)).Len())
}

// TestShutdownCutsAttemptAtDeadline: an attempt that hangs is cut when the
// shutdown's deadline passes, and the request stays queued.
func TestShutdownCutsAttemptAtDeadline(t *testing.T) {
	dir := t.TempDir()
	b := newBackend(t, http.StatusOK)
	b.hold = make(chan struct{})
	fx := startFixture(t, testConfig(dir))
	fx.send(t, b.url(), body(0))
	b.waitRequests(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.NoError(t, fx.ext.Shutdown(ctx))
	close(b.hold)

	b.mu.Lock()
	b.hold = nil
	b.mu.Unlock()
	second := startFixture(t, testConfig(dir))
	got := b.waitRequests(t, 2)
	require.Equal(t, body(0), got[1].body, "the cut request is sent again by the next start")
	require.Eventually(t, func() bool { return second.sum(t, "otelcol_remote_write_sent_requests") == 1 }, 5*time.Second, time.Millisecond)
}

// TestOneExporterPerComponent: a second exporter on the same component is
// refused with what to do instead.
func TestOneExporterPerComponent(t *testing.T) {
	fx := startFixture(t, testConfig(t.TempDir()))
	_, err := fx.ext.RoundTripper(http.DefaultTransport)
	require.ErrorIs(t, err, errAlreadyUsed)
	require.ErrorContains(t, err, "remote_write_delivery/<name>")
}

// TestStartErrorsNameTheField: a missing or wrong authenticator and an
// unusable directory fail Start naming the field to fix.
func TestStartErrorsNameTheField(t *testing.T) {
	f := func(cfg *Config, exts map[component.ID]component.Component, want string) {
		t.Helper()
		ext, err := newExtension(deliveryID, cfg, componenttest.NewNopTelemetrySettings(), time.Now)
		require.NoError(t, err)
		err = ext.Start(context.Background(), hostWith{Host: componenttest.NewNopHost(), exts: exts})
		require.ErrorContains(t, err, want)
		require.NoError(t, ext.Shutdown(context.Background()))
	}
	f(testConfig(t.TempDir()), nil, `authenticator: extension "test_auth" is not enabled`)
	f(testConfig(t.TempDir()), map[component.ID]component.Component{authID: &plainExtension{}},
		`authenticator: extension "test_auth" is not an HTTP client authenticator`)
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, []byte("not a directory"), 0o600))
	f(testConfig(file), map[component.ID]component.Component{authID: &stampingAuth{}}, "directory: cannot open the queue in "+file)
}

// TestDirectoryPerComponent: each component ID has its own queue.
func TestDirectoryPerComponent(t *testing.T) {
	cfg := testConfig("/var/lib/otelcol-eks")
	f := func(id component.ID, want string) {
		t.Helper()
		e := &deliveryExtension{id: id, cfg: cfg}
		require.Equal(t, want, e.queueDir())
	}
	f(component.NewID(metadata.Type), "/var/lib/otelcol-eks/remote_write_delivery")
	f(component.NewIDWithName(metadata.Type, "amp"), "/var/lib/otelcol-eks/remote_write_delivery_amp")
}

// plainExtension is an extension that is no authenticator.
type plainExtension struct {
	component.StartFunc
	component.ShutdownFunc
}

// TestEveryReasonCountedFromZero: every reason a retry or a drop can have
// exists at 0 once the extension starts (so that increase() in an alert
// sees the first one), and the answer policy produces no other.
func TestEveryReasonCountedFromZero(t *testing.T) {
	fx := startFixture(t, testConfig(t.TempDir()))
	for _, reason := range retryReasons {
		require.True(t, fx.hasPoint(t, "otelcol_remote_write_retried_requests", reason), reason)
	}
	for _, reason := range dropReasons {
		require.True(t, fx.hasPoint(t, "otelcol_remote_write_dropped_requests", reason), reason)
		require.True(t, fx.hasPoint(t, "otelcol_remote_write_dropped_bytes", reason), reason)
	}
	require.Zero(t, fx.sum(t, "otelcol_remote_write_dropped_requests"))

	for code := 400; code < 600; code++ {
		switch judge(code) {
		case drop:
			for _, message := range []string{"", "out of order sample", "duplicate sample for timestamp", "too old", "bad label name"} {
				require.Contains(t, dropReasons, classify(code, message).reason, "code %d %q", code, message)
			}
		case retry, throttled, retryCredentials:
			require.Contains(t, retryReasons, retryReason(code), "code %d", code)
		}
	}
	require.Contains(t, retryReasons, retryReason(0))
}

// TestMaxInFlight: with a backend that holds every answer, exactly
// max_in_flight requests are sent at once, the first ones of the queue;
// once answered everything is delivered, and committed in order: a restart
// sends nothing again.
func TestMaxInFlight(t *testing.T) {
	f := func(maxInFlight int) {
		t.Helper()
		dir := t.TempDir()
		b := newBackend(t, http.StatusOK)
		b.hold = make(chan struct{})
		cfg := testConfig(dir)
		cfg.MaxInFlight = maxInFlight
		fx := startFixture(t, cfg)
		var releaseOnce sync.Once
		release := func() {
			releaseOnce.Do(func() {
				b.mu.Lock()
				close(b.hold)
				b.hold = nil
				b.mu.Unlock()
			})
		}
		// Registered after the fixture, so it runs before its shutdown: a
		// failing check must not leave the shutdown waiting on held answers.
		t.Cleanup(release)
		for i := range 6 {
			fx.send(t, b.url(), body(i))
		}
		got := b.waitRequests(t, maxInFlight)
		require.Never(t, func() bool { return len(b.requests()) > maxInFlight }, 200*time.Millisecond, 5*time.Millisecond,
			"max_in_flight %d: more requests in flight", maxInFlight)
		var first [][]byte
		for i := range maxInFlight {
			first = append(first, body(i))
		}
		var bodies [][]byte
		for _, r := range got {
			bodies = append(bodies, r.body)
		}
		require.ElementsMatch(t, first, bodies, "max_in_flight %d: the first requests of the queue", maxInFlight)

		release()
		require.Eventually(t, func() bool { return fx.sum(t, "otelcol_remote_write_sent_requests") == 6 }, 5*time.Second, time.Millisecond)
		require.Eventually(t, func() bool { return fx.gauge(t, "otelcol_remote_write_queue_requests") == 0 }, 5*time.Second, time.Millisecond)
		require.NoError(t, fx.ext.Shutdown(context.Background()))

		before := len(b.requests())
		startFixture(t, testConfig(dir))
		require.Never(t, func() bool { return len(b.requests()) > before }, 200*time.Millisecond, 5*time.Millisecond,
			"max_in_flight %d: a committed request was sent again", maxInFlight)
	}
	f(1)
	f(3)
}

// TestInFlightSpread: requests captured more than inFlightSpread after the
// first of those in flight wait until those are done with, even with room
// in max_in_flight; then they are sent together in their turn.
func TestInFlightSpread(t *testing.T) {
	b := newBackend(t, http.StatusOK)
	b.hold = make(chan struct{})
	cfg := testConfig(t.TempDir())
	cfg.MaxInFlight = 4
	fx := startFixture(t, cfg)
	release := func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.hold != nil {
			close(b.hold)
			b.hold = nil
		}
	}
	// Registered after the fixture, so it runs before its shutdown.
	t.Cleanup(release)

	fx.send(t, b.url(), body(0))
	fx.clock.Add(inFlightSpread)
	fx.send(t, b.url(), body(1)) // within the spread of request 0
	fx.clock.Add(time.Millisecond)
	fx.send(t, b.url(), body(2)) // beyond it
	fx.send(t, b.url(), body(3))

	got := b.waitRequests(t, 2)
	require.Never(t, func() bool { return len(b.requests()) > 2 }, 200*time.Millisecond, 5*time.Millisecond,
		"a request captured beyond the spread was sent while earlier ones were in flight")
	require.ElementsMatch(t, [][]byte{body(0), body(1)}, [][]byte{got[0].body, got[1].body})

	// Held again for the next two: once the first two are answered, both
	// are sent at once.
	b.mu.Lock()
	held := b.hold
	b.hold = make(chan struct{})
	b.mu.Unlock()
	close(held)
	got = b.waitRequests(t, 4)
	require.ElementsMatch(t, [][]byte{body(2), body(3)}, [][]byte{got[2].body, got[3].body})
	release()
	require.Eventually(t, func() bool { return fx.sum(t, "otelcol_remote_write_sent_requests") == 4 }, 5*time.Second, time.Millisecond)
}
