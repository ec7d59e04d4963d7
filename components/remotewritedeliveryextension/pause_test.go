package remotewritedeliveryextension

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestQueuePauseRule: queuePause's rule, on its own. The exponent counts
// rounds: a failure while the queue is paused joins the pause, one after
// it starts the next round, and either returns the whole pause left. A
// 2xx ends the streak and the pause the failures set, waking the waiting
// requests, but not a firm pause.
func TestQueuePauseRule(t *testing.T) {
	var p queuePause
	var exponents []int
	wait := func(d time.Duration) func(int) time.Duration {
		return func(exponent int) time.Duration { exponents = append(exponents, exponent); return d }
	}
	paused := func() bool { d, _ := p.remaining(); return d > 0 }

	p.failed(wait(time.Hour), false) // round 1
	p.failed(wait(time.Hour), false) // joins it
	require.Equal(t, []int{0, 0}, exponents, "failures of one round count once")
	d, cut := p.remaining()
	require.Greater(t, d, 59*time.Minute)
	p.succeeded()
	require.False(t, paused(), "a 2xx ends the pause after a failure")
	select {
	case <-cut:
	default:
		t.Fatal("a 2xx ending the pause does not wake its waiters")
	}

	exponents = nil
	p.failed(wait(time.Nanosecond), false) // round 1 again: the streak ended
	time.Sleep(time.Millisecond)
	p.failed(wait(time.Nanosecond), false) // the pause has passed: round 2
	p.failed(wait(time.Hour), false)       // round 3
	p.failed(wait(time.Hour), false)       // joins it
	require.Equal(t, []int{0, 1, 2, 2}, exponents)
	p.succeeded()

	exponents = nil
	p.failed(wait(time.Hour), true) // a 429: firm
	require.Greater(t, p.failed(wait(time.Second), false), 59*time.Minute,
		"a failure joining a longer pause returns its own wait, not the pause")
	p.succeeded()
	require.Greater(t, func() time.Duration { d, _ := p.remaining(); return d }(), 59*time.Minute, "a 2xx ended a firm pause")
	p.failed(wait(2*time.Hour), false) // a 503 on top of it
	p.succeeded()
	d, _ = p.remaining()
	require.Greater(t, d, 59*time.Minute, "a 2xx ended the firm part of a pause")
	require.Less(t, d, 61*time.Minute, "a 2xx left what the failure added to a firm pause")
}

// TestRecoveryResumesEveryRequest: after an outage (503) every request in
// flight resumes with the first one delivered, not when the one that
// failed longest would have woken. Request 0 fails 8 times (its next wait
// is at least 1.28 s); requests 1 to 3, queued after its 7th failure, join
// it in flight; the backend answers request 0's 8th attempt 503 and then
// recovers, answering 200 to requests 1 to 3 and to everything after.
// Every request of the queue is delivered within a quarter of request 0's
// backoff after the recovery. On a clock per request, request 0 would
// sleep out its own backoff while 1 to 3, delivered, wait for it to be
// committed.
func TestRecoveryResumesEveryRequest(t *testing.T) {
	const requests, failures = 8, 8
	cfg := testConfig(t.TempDir())
	cfg.MaxInFlight = 4
	cfg.Retry.InitialInterval = 20 * time.Millisecond
	cfg.Retry.MaxInterval = time.Minute
	backoffAfter := cfg.Retry.InitialInterval << (failures - 1) // request 0's wait after its last failure: half of it at least
	fx := startFixture(t, cfg)

	var recoveredAt time.Time
	var mu sync.Mutex
	sb := newScriptedBackend(t, func(sb *scriptedBackend, w http.ResponseWriter, request, attempt int) {
		mu.Lock()
		recovered := !recoveredAt.IsZero()
		mu.Unlock()
		switch {
		case recovered:
			w.WriteHeader(http.StatusOK)
		case request == 0 && attempt < failures:
			w.WriteHeader(http.StatusServiceUnavailable)
		case request == 0:
			sb.waitFor(t, "requests 1 to 3 in flight", func() bool {
				return sb.attemptsOf(1) > 0 && sb.attemptsOf(2) > 0 && sb.attemptsOf(3) > 0
			})
			w.WriteHeader(http.StatusServiceUnavailable)
			mu.Lock()
			recoveredAt = time.Now()
			mu.Unlock()
		default: // requests 1 to 3 during the outage: answered once it ended
			sb.waitFor(t, "request 0's last failure counted", func() bool {
				return fx.sum(t, "otelcol_remote_write_retried_requests", "reason", "server_error") >= failures
			})
			w.WriteHeader(http.StatusOK)
		}
	})
	fx.send(t, sb.url(), body(0))
	sb.waitFor(t, "request 0's 7th failure", func() bool {
		return fx.sum(t, "otelcol_remote_write_retried_requests", "reason", "server_error") >= failures-1
	})
	for i := 1; i < requests; i++ {
		fx.send(t, sb.url(), body(i))
	}
	require.Eventually(t, func() bool { return fx.sum(t, "otelcol_remote_write_sent_requests") == requests }, 10*time.Second, time.Millisecond)

	mu.Lock()
	recovered := recoveredAt
	mu.Unlock()
	var last time.Time
	for _, a := range sb.record() {
		last = a.at
	}
	t.Logf("every request delivered %s after the recovery (request 0's backoff: %s to %s)",
		last.Sub(recovered).Round(time.Millisecond), backoffAfter/2, backoffAfter)
	require.Less(t, last.Sub(recovered), backoffAfter/4, "requests waited for request 0's own backoff after the backend recovered")
	require.EqualValues(t, failures, fx.sum(t, "otelcol_remote_write_retried_requests", "reason", "server_error"))
}

// TestSuccessEndsOnlyAFailurePause: with four requests in flight, requests
// 1 to 3 fail while request 0 is held; then request 0 is answered 200.
// After no answer (the connection closed) or a 503, that 2xx ends the
// queue's pause at once: the three are sent again within a quarter of the
// shortest backoff. After a 429 it does not: nothing is sent before the
// 429's wait (Retry-After: 1, and a backoff of 1 to 2 s) has passed.
func TestSuccessEndsOnlyAFailurePause(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reason string
		fail   func(w http.ResponseWriter)
		ends   bool
	}{
		{"connection closed", "connection", func(w http.ResponseWriter) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		}, true},
		{"503", "server_error", func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }, true},
		{"429", "throttled", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			cfg.MaxInFlight = 4
			cfg.Retry.InitialInterval, cfg.Retry.MaxInterval = 2*time.Second, 2*time.Second
			fx := startFixture(t, cfg)
			var mu sync.Mutex
			var firstFailure, succeeded time.Time
			sb := newScriptedBackend(t, func(sb *scriptedBackend, w http.ResponseWriter, request, attempt int) {
				switch {
				case attempt > 1:
					w.WriteHeader(http.StatusOK)
				case request == 0:
					sb.waitFor(t, "three failures counted", func() bool {
						return fx.sum(t, "otelcol_remote_write_retried_requests", "reason", tc.reason) >= 3
					})
					w.WriteHeader(http.StatusOK)
					mu.Lock()
					succeeded = time.Now()
					mu.Unlock()
				default:
					sb.waitFor(t, "four requests in flight", sb.arrived(4))
					mu.Lock()
					if firstFailure.IsZero() {
						firstFailure = time.Now()
					}
					mu.Unlock()
					tc.fail(w)
				}
			})
			for i := range 4 {
				fx.send(t, sb.url(), body(i))
			}
			require.Eventually(t, func() bool { return fx.sum(t, "otelcol_remote_write_sent_requests") == 4 }, 10*time.Second, time.Millisecond)
			require.EqualValues(t, 3, fx.sum(t, "otelcol_remote_write_retried_requests", "reason", tc.reason))

			mu.Lock()
			defer mu.Unlock()
			for _, a := range sb.record() {
				if a.attempt == 1 {
					continue
				}
				if tc.ends {
					require.Less(t, a.at.Sub(succeeded), cfg.Retry.InitialInterval/8,
						"request %d sent again %s after the 2xx that ended the pause", a.request, a.at.Sub(succeeded))
				} else {
					require.GreaterOrEqual(t, a.at.Sub(firstFailure), time.Second,
						"request %d sent again %s after the 429: the 2xx ended its pause", a.request, a.at.Sub(firstFailure))
				}
			}
		})
	}
}

// TestRefusalPausesTheWholeQueue: with four requests in flight, a 429 (with
// Retry-After) and later a 403, each answered to a request that is not the
// oldest in flight, pause every request of the queue: no request reaches
// the backend until the pause has passed (Retry-After for the 429, at least
// half of retry::credentials_interval for the 403), although the oldest
// request in flight, answered 200 and committed meanwhile, leaves room in
// max_in_flight for one more. Each refusal is one pause and one
// resumption; everything is delivered once, in order.
func TestRefusalPausesTheWholeQueue(t *testing.T) {
	const requests = 12
	cfg := testConfig(t.TempDir())
	cfg.MaxInFlight = 4
	cfg.Retry.CredentialsInterval = time.Second
	fx := startFixture(t, cfg)
	var mu sync.Mutex
	var refusals []time.Time
	sb := newScriptedBackend(t, func(sb *scriptedBackend, w http.ResponseWriter, request, attempt int) {
		waveAnswer(t, fx, sb, w, request, attempt, func(status int) {
			if status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "1")
			}
			w.WriteHeader(status)
			mu.Lock()
			refusals = append(refusals, time.Now())
			mu.Unlock()
		})
	})
	for i := range requests {
		fx.send(t, sb.url(), body(i))
	}
	require.Eventually(t, func() bool { return fx.sum(t, "otelcol_remote_write_sent_requests") == requests }, 20*time.Second, time.Millisecond)

	arrivals := sb.record()
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, refusals, 2)
	throttledAt, refusedAt := refusals[0], refusals[1]
	windows := []struct {
		name     string
		from, to time.Time
		want     int
	}{
		{"before the 429", time.Time{}, throttledAt, 4},
		{"the 429's pause (Retry-After: 1)", throttledAt, throttledAt.Add(time.Second), 0},
		{"after the 429's pause, until the 403", throttledAt.Add(time.Second), refusedAt, 5},
		{"the 403's pause (half of retry::credentials_interval at least)", refusedAt, refusedAt.Add(cfg.Retry.CredentialsInterval / 2), 0},
		{"after the 403's pause", refusedAt.Add(cfg.Retry.CredentialsInterval / 2), time.Now(), 5},
	}
	for _, w := range windows {
		n := 0
		for _, a := range arrivals {
			if a.at.After(w.from) && a.at.Before(w.to) {
				n++
			}
		}
		require.Equal(t, w.want, n, "requests that reached the backend %s", w.name)
	}
	require.EqualValues(t, 1, fx.sum(t, "otelcol_remote_write_retried_requests", "reason", "throttled"))
	require.EqualValues(t, 1, fx.sum(t, "otelcol_remote_write_retried_requests", "reason", "credentials"))
	require.Zero(t, fx.sum(t, "otelcol_remote_write_dropped_requests"))
}

// waveAnswer answers TestRefusalPausesTheWholeQueue's requests by body and
// attempt: the first wave is held until four requests are in flight;
// request 1 is refused 429 (Retry-After: 1) and, once the sender counted
// that retry, requests 0, 2 and 3 are answered 200: 0 is committed, which
// makes room in max_in_flight (for request 4) during the pause, while 2
// and 3 wait for 1. After the pause, 1 is delivered, and 4 to 7 sent; 5 is
// refused 403 once those five attempts arrived, and 4, 6 and 7 (in flight
// with it) answered 200 once that retry is counted: 4 is committed, making
// room for request 8 during the pause. Every other attempt is answered
// 200. The gates make the test's order the only possible one, so the
// windows' counts are exact.
func waveAnswer(t *testing.T, fx *fixture, sb *scriptedBackend, w http.ResponseWriter, request, attempt int, refuse func(status int)) {
	retried := func(reason string) func() bool {
		return func() bool { return fx.sum(t, "otelcol_remote_write_retried_requests", "reason", reason) >= 1 }
	}
	first := attempt == 1
	switch {
	case first && request == 1:
		sb.waitFor(t, "four requests in flight", sb.arrived(4))
		refuse(http.StatusTooManyRequests)
	case first && request == 5:
		sb.waitFor(t, "requests 1 and 4 to 7 sent after the 429's pause", sb.arrived(9))
		refuse(http.StatusForbidden)
	case first && (request == 0 || request == 2 || request == 3):
		sb.waitFor(t, "the 429 counted", retried("throttled"))
		w.WriteHeader(http.StatusOK)
	case first && (request == 4 || request == 6 || request == 7):
		sb.waitFor(t, "the 403 counted", retried("credentials"))
		w.WriteHeader(http.StatusOK)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// scriptedBackend is a remote-write endpoint on loopback that knows each
// request by its body (body(i)) and answers every attempt as its test's
// answer function says, which may wait for the sender (waitFor) to make
// the test's order the only possible one. It records every arrival.
type scriptedBackend struct {
	srv *httptest.Server

	mu       sync.Mutex
	arrivals []arrival
	attempts map[int]int
}

// arrival is one attempt as the backend saw it: when, of which request,
// and which attempt of it (from 1).
type arrival struct {
	at               time.Time
	request, attempt int
}

func newScriptedBackend(t *testing.T, answer func(sb *scriptedBackend, w http.ResponseWriter, request, attempt int)) *scriptedBackend {
	t.Helper()
	sb := &scriptedBackend{attempts: map[int]int{}}
	sb.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		request := -1
		for i := range 100 {
			if bytes.Equal(got, body(i)) {
				request = i
			}
		}
		sb.mu.Lock()
		sb.attempts[request]++
		a := arrival{at: time.Now(), request: request, attempt: sb.attempts[request]}
		sb.arrivals = append(sb.arrivals, a)
		sb.mu.Unlock()
		answer(sb, w, a.request, a.attempt)
	}))
	t.Cleanup(sb.srv.Close)
	return sb
}

func (sb *scriptedBackend) url() string { return sb.srv.URL + "/api/v1/remote_write" }

// waitFor waits until cond holds, failing the test after 10 s.
func (sb *scriptedBackend) waitFor(t *testing.T, what string, cond func() bool) {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("backend: timed out waiting for %s", what)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// arrived holds once n attempts reached the backend.
func (sb *scriptedBackend) arrived(n int) func() bool {
	return func() bool { sb.mu.Lock(); defer sb.mu.Unlock(); return len(sb.arrivals) >= n }
}

// attemptsOf is how many attempts of request reached the backend.
func (sb *scriptedBackend) attemptsOf(request int) int {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.attempts[request]
}

// record returns the arrivals so far, in order.
func (sb *scriptedBackend) record() []arrival {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return append([]arrival(nil), sb.arrivals...)
}
