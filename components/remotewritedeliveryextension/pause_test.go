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

// TestRefusalPausesTheWholeQueue: with four requests in flight, a 429 (with
// Retry-After) and later a 403, each answered to a request that is not the
// oldest in flight, pause every request of the queue: no request reaches
// the backend until the pause has passed (Retry-After for the 429, at least
// half of retry::credentials_interval for the 403), although the requests
// answered 200 meanwhile leave room in max_in_flight. Each refusal is one
// pause and one resumption; everything is delivered once, in order.
func TestRefusalPausesTheWholeQueue(t *testing.T) {
	const requests = 12
	cfg := testConfig(t.TempDir())
	cfg.MaxInFlight = 4
	cfg.Retry.CredentialsInterval = time.Second
	fx := startFixture(t, cfg)
	wb := newWaveBackend(t, fx)
	for i := range requests {
		fx.send(t, wb.url(), body(i))
	}
	require.Eventually(t, func() bool { return fx.sum(t, "otelcol_remote_write_sent_requests") == requests }, 20*time.Second, time.Millisecond)

	arrivals, refusals := wb.record()
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
			if a.after(w.from) && a.at.Before(w.to) {
				n++
			}
		}
		require.Equal(t, w.want, n, "requests that reached the backend %s", w.name)
	}
	require.EqualValues(t, 1, fx.sum(t, "otelcol_remote_write_retried_requests", "reason", "throttled"))
	require.EqualValues(t, 1, fx.sum(t, "otelcol_remote_write_retried_requests", "reason", "credentials"))
	require.Zero(t, fx.sum(t, "otelcol_remote_write_dropped_requests"))
}

// waveBackend answers TestRefusalPausesTheWholeQueue's requests by body
// and attempt: the first wave is held until four requests are in flight;
// request 1 is answered 429 (Retry-After: 1) and, once the sender counted
// that retry, requests 0, 2 and 3 are answered 200, so that room is made in
// max_in_flight during the pause; later request 5 is answered 403 once
// the four in flight with it (1, 4, 6, 7) arrived, and 4, 6 and 7 200 once
// that retry is counted. Every other attempt is answered 200. The gates
// make the test's order the only possible one, so the windows' counts are
// exact.
type waveBackend struct {
	srv *httptest.Server
	fx  *fixture

	mu       sync.Mutex
	arrivals []arrival
	refusals []time.Time
	attempts map[int]int
}

type arrival struct {
	at      time.Time
	request int
}

func (a arrival) after(t time.Time) bool { return a.at.After(t) }

func newWaveBackend(t *testing.T, fx *fixture) *waveBackend {
	t.Helper()
	wb := &waveBackend{fx: fx, attempts: map[int]int{}}
	wb.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { wb.serve(t, w, r) }))
	t.Cleanup(wb.srv.Close)
	return wb
}

func (wb *waveBackend) url() string { return wb.srv.URL + "/api/v1/remote_write" }

func (wb *waveBackend) serve(t *testing.T, w http.ResponseWriter, r *http.Request) {
	got, _ := io.ReadAll(r.Body)
	request := -1
	for i := range 100 {
		if bytes.Equal(got, body(i)) {
			request = i
		}
	}
	wb.mu.Lock()
	wb.arrivals = append(wb.arrivals, arrival{at: time.Now(), request: request})
	wb.attempts[request]++
	first := wb.attempts[request] == 1
	wb.mu.Unlock()

	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Errorf("backend: timed out waiting for %s", what)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	retried := func(reason string) func() bool {
		return func() bool { return wb.fx.sum(t, "otelcol_remote_write_retried_requests", "reason", reason) >= 1 }
	}
	refuse := func(status int) {
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(status)
		wb.mu.Lock()
		wb.refusals = append(wb.refusals, time.Now())
		wb.mu.Unlock()
	}
	arrived := func(n int) func() bool {
		return func() bool { wb.mu.Lock(); defer wb.mu.Unlock(); return len(wb.arrivals) >= n }
	}
	switch {
	case first && request == 1:
		waitFor("four requests in flight", arrived(4))
		refuse(http.StatusTooManyRequests)
	case first && request == 5:
		waitFor("requests 1 and 4 to 7 sent after the 429's pause", arrived(9))
		refuse(http.StatusForbidden)
	case first && (request == 0 || request == 2 || request == 3):
		waitFor("the 429 counted", retried("throttled"))
		w.WriteHeader(http.StatusOK)
	case first && (request == 4 || request == 6 || request == 7):
		waitFor("the 403 counted", retried("credentials"))
		w.WriteHeader(http.StatusOK)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// record returns the arrivals and the times of the refusals.
func (wb *waveBackend) record() ([]arrival, []time.Time) {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	return append([]arrival(nil), wb.arrivals...), append([]time.Time(nil), wb.refusals...)
}
