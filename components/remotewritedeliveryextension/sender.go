package remotewritedeliveryextension

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/otelcol-eks/otelcol-eks/components/remotewritedeliveryextension/internal/diskqueue"
)

// sender delivers the queue's requests in order, up to max_in_flight sent
// and not yet committed, among requests captured within inFlightSpread of
// each other, and commits them in that order. It handles bytes only: the body is sent as
// it was captured, and every attempt is signed afresh by the transport
// (the authenticator around the exporter's transport), so that a request
// queued through an outage longer than the signature's validity (5
// minutes for SigV4) is still accepted. What each answer does to a request
// is the README's table ("What happens to a request"); judge decides it.
type sender struct {
	queue     *diskqueue.Queue
	transport http.RoundTripper
	cfg       *Config
	rep       *reporter
	// env reads the environment (os.Getenv), for the credentials hint.
	env func(string) string
	now func() time.Time

	// stop is done when Shutdown starts: no new request is taken and no
	// retry is waited for; the attempt in flight may finish.
	stop context.Context
	// abort is done when Shutdown's deadline passes: the attempt in flight
	// is cut. An aborted request stays in the queue and is sent by the next
	// start, so it may reach the backend twice.
	abort context.Context
	done  chan struct{}

	// pause is the queue's one retry clock: every request waits for it
	// after any failed attempt (queuePause).
	pause queuePause
}

// inFlightSpread bounds how far apart, by capture time, the requests in
// flight at once are: a request captured more than that after the first
// of those in flight waits until they are all done with. This comment is
// the one statement of why, and of what it costs.
//
// Requests in flight together keep a large volume flowing against the
// backend's latency, and two seconds of requests are enough of them: 45
// requests at 500 K series every 10 s, against the 4 in flight that
// max_in_flight allows by default (bench/RESULTS.md, section
// queue-500k-50ms).
//
// The cost: requests in flight together can reach the backend in any
// order, so two samples of a series in two of them can arrive out of
// order, by up to this spread plus the pipeline's own delay between a
// scrape and its capture (up to the batch processor's timeout, 100 ms as
// shipped). Two scrapes of a series are captured within the spread when
// its scrape interval is 2.1 s or less (with that timeout), or at
// any interval when the exporter sends a backlog at once; at a 60 s
// scrape interval (the shipped one), only such a backlog can be
// reordered. The backend's out-of-order window must take that: AMP's
// does (60 s unless the workspace sets it to 0); a backend without one,
// or whose window takes floats only (Prometheus 2.42, the stand-in of the
// tests, for a native histogram), refuses the whole request (400,
// out_of_order) and needs max_in_flight 1 (the README names such
// backends for users).
const inFlightSpread = 2 * time.Second

// run delivers until stop is done or the queue is closed, then closes done.
// The queue's read position never passes a request that is not done with,
// so a restart re-sends at most the requests that were in flight.
func (s *sender) run() {
	defer close(s.done)
	// flights is the commit order; the committer holds one flight while
	// the channel holds the others, so its capacity bounds the requests
	// sent and not yet committed at max_in_flight.
	flights := make(chan *flight, s.cfg.MaxInFlight-1)
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		s.commitInOrder(flights)
	}()
	defer func() {
		close(flights)
		<-committed
	}()
	// inFlight counts the requests sent and not yet done with; spreadStart
	// is the capture time of the first of them.
	var inFlight sync.WaitGroup
	var spreadStart time.Time
	for failures := 0; ; {
		rec, err := s.queue.Next(s.stop)
		switch {
		case s.stop.Err() != nil || errors.Is(err, diskqueue.ErrClosed):
			return
		case err != nil:
			// The queue cannot be read now (out of file descriptors, an
			// I/O error): the record stays next and is read again.
			s.rep.logOnce("read", zapcore.ErrorLevel, "cannot read the remote-write queue: retrying", zap.Error(err))
			if !s.sleep(s.backoff(failures), nil) {
				return
			}
			failures++
			continue
		}
		failures = 0
		if since := rec.Time.Sub(spreadStart); since < 0 || since > inFlightSpread {
			if !s.waitUntilDone(&inFlight) {
				return
			}
			spreadStart = rec.Time
		}
		f := &flight{done: make(chan bool, 1)}
		select {
		case flights <- f:
		case <-s.stop.Done():
			return
		}
		inFlight.Add(1)
		go func() {
			defer inFlight.Done()
			f.done <- s.deliver(rec)
		}()
	}
}

// waitUntilDone waits until every request in flight is done with; it
// reports false, without waiting further, when the sender stops.
func (s *sender) waitUntilDone(inFlight *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() {
		inFlight.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-s.stop.Done():
		return false
	}
}

// flight is one request being delivered; done says whether it was done
// with (delivered or dropped) or left in the queue by a stop.
type flight struct{ done chan bool }

// commitInOrder commits each flight once it and every flight before it are
// done with. After a flight left in the queue by a stop, nothing more is
// committed: the next start sends it, and those after it, again.
func (s *sender) commitInOrder(flights <-chan *flight) {
	for f := range flights {
		if !<-f.done {
			for f := range flights {
				<-f.done
			}
			return
		}
		if err := s.queue.Commit(); err != nil {
			// The position is kept in memory and persisted by the next
			// commit; until then a restart would send this request again.
			s.rep.logOnce("commit", zapcore.WarnLevel, "cannot persist the queue's read position", zap.Error(err))
		}
	}
}

// deliver sends rec until it is delivered or dropped (true), or until the
// sender stops (false: rec stays in the queue).
func (s *sender) deliver(rec diskqueue.Record) bool {
	ctx := context.Background()
	req, err := decodeRequest(rec.Data)
	if err != nil {
		s.rep.dropped(ctx, reasonCorrupt, 1, int64(len(rec.Data)), "remote-write request unreadable in the queue: dropped", zap.Error(err))
		return true
	}
	for {
		if !s.waitWhilePaused() {
			return false
		}
		if age := s.now().Sub(rec.Time); age > s.cfg.MaxAge {
			s.rep.dropped(ctx, reasonExpired, 1, int64(len(req.body)),
				"remote-write request older than max_age dropped unsent: the backend would refuse its samples as too old",
				zap.Duration("age", age), zap.Duration("max_age", s.cfg.MaxAge), zap.String("endpoint", endpoint(req.url)))
			return true
		}
		if !s.attempt(ctx, req) {
			return true
		}
	}
}

// waitWhilePaused waits while the queue is paused (queuePause); it reports
// whether the sender is still running.
func (s *sender) waitWhilePaused() bool {
	for {
		d, cut := s.pause.remaining()
		if d == 0 {
			return s.stop.Err() == nil
		}
		if !s.sleep(d, cut) {
			return false
		}
	}
}

// sleep waits d, or less when wake is closed or the sender stops; it
// reports whether the sender is still running.
func (s *sender) sleep(d time.Duration, wake <-chan struct{}) bool {
	if s.stop.Err() != nil {
		return false
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-wake:
		return true
	case <-s.stop.Done():
		return false
	}
}

// attempt sends req once. It reports whether req is to be sent again:
// false when it is done with (delivered or dropped). A failed attempt
// pauses the whole queue (queuePause): the next attempt waits for it.
func (s *sender) attempt(ctx context.Context, req capturedRequest) (again bool) {
	httpReq, cancel, err := s.newHTTPRequest(req)
	if err != nil {
		s.rep.dropped(ctx, reasonCorrupt, 1, int64(len(req.body)), "remote-write request unusable in the queue: dropped", zap.Error(err))
		return false
	}
	defer cancel()
	reached := new(atomic.Bool)
	httpReq = httpReq.WithContext(context.WithValue(httpReq.Context(), reachedKey{}, reached))
	resp, err := s.transport.RoundTrip(httpReq)
	if err != nil {
		if s.abort.Err() != nil {
			return true // shutting down: kept for the next start
		}
		if !reached.Load() {
			// The authenticator failed before anything was sent: no
			// credentials to sign with (an IRSA token file missing, STS
			// unreachable, ...). As with a 403, the request is kept.
			wait := s.pause.failed(s.credentialsWait, retryCredentials.firm())
			s.rep.retried(ctx, "credentials", "signing", zapcore.ErrorLevel,
				"cannot sign the remote-write request: it stays queued (until max_age or max_size_mib) and is retried every retry::credentials_interval",
				zap.Error(err), zap.String("hint", "Check the credentials source: "+credentialsSource(s.env)), zap.String("endpoint", endpoint(req.url)),
				zap.Duration("queue_paused_for", wait))
			return true
		}
		s.answered(ctx, 0)
		// No answer has a 5xx's verdict, retry (judge never sees it).
		wait := s.pause.failed(s.backoff, retry.firm())
		s.rep.retried(ctx, retryReason(0), "connection", zapcore.WarnLevel,
			"remote-write backend not reached: the queue waits at least its backoff, then retries",
			zap.Error(err), zap.String("endpoint", endpoint(req.url)), zap.Duration("queue_paused_for", wait))
		return true
	}
	s.answered(ctx, resp.StatusCode)
	// The request as sent, signed (the signer sends a signed copy): the
	// credentials hint reads its signing scope.
	sent := resp.Request
	if sent == nil {
		sent = httpReq
	}
	switch v := judge(resp.StatusCode); v {
	case delivered:
		drain(resp.Body)
		s.pause.succeeded()
		s.rep.tel.RemoteWriteSentRequests.Add(ctx, 1)
		s.rep.tel.RemoteWriteSentBytes.Add(ctx, int64(len(req.body)))
		return false
	case retry, throttled:
		message := readMessage(resp.Body)
		wait := s.pause.failed(s.backoffOrRetryAfter(resp.Header), v.firm())
		backend := "remote-write backend failing"
		if v == throttled {
			backend = "remote-write backend throttles"
		}
		s.rep.retried(ctx, retryReason(resp.StatusCode), strconv.Itoa(resp.StatusCode), zapcore.WarnLevel,
			backend+": the queue waits at least its backoff (or the Retry-After, if longer), then retries",
			zap.Int("status_code", resp.StatusCode), zap.String("backend_message", message), zap.String("endpoint", endpoint(req.url)),
			zap.Duration("queue_paused_for", wait))
		return true
	case retryCredentials:
		message := redact(readMessage(resp.Body), sent.Header.Get("X-Amz-Security-Token"))
		c := classify(resp.StatusCode, message)
		wait := s.pause.failed(s.credentialsWait, v.firm())
		s.rep.retried(ctx, retryReason(resp.StatusCode), c.key(), zapcore.ErrorLevel,
			"remote-write backend refuses the credentials: requests stay queued (until max_age or max_size_mib) and are retried every retry::credentials_interval",
			zap.Int("status_code", resp.StatusCode), zap.String("backend_message", message),
			zap.String("hint", s.hint(c, sent, req.body)), zap.String("endpoint", endpoint(req.url)),
			zap.Duration("queue_paused_for", wait))
		return true
	default:
		message := redact(readMessage(resp.Body), sent.Header.Get("X-Amz-Security-Token"))
		c := classify(resp.StatusCode, message)
		s.rep.dropped(ctx, c.reason, 1, int64(len(req.body)),
			"remote-write request refused for good by the backend: dropped, not re-sent",
			zap.Int("status_code", resp.StatusCode), zap.String("backend_message", message),
			zap.String("hint", s.hint(c, sent, req.body)), zap.String("endpoint", endpoint(req.url)),
			zap.Int("request_bytes", len(req.body)))
		return false
	}
}

// backoffOrRetryAfter is the wait after an answer with header h: the
// backoff, or the answer's Retry-After when longer.
func (s *sender) backoffOrRetryAfter(h http.Header) func(exponent int) time.Duration {
	asked := retryAfter(h, s.now())
	return func(exponent int) time.Duration { return max(s.backoff(exponent), asked) }
}

// credentialsWait is the wait after refused credentials: a draw between
// half and all of retry::credentials_interval, whatever the exponent.
func (s *sender) credentialsWait(int) time.Duration {
	return jitter(s.cfg.Retry.CredentialsInterval)
}

// reachedKey is the context key of the flag reachedTransport sets: it tells
// a request the authenticator refused to sign from one the network failed.
type reachedKey struct{}

// reachedTransport is the exporter's transport, marking that a request got
// past the authenticator.
type reachedTransport struct{ next http.RoundTripper }

func (t reachedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if reached, ok := req.Context().Value(reachedKey{}).(*atomic.Bool); ok {
		reached.Store(true)
	}
	return t.next.RoundTrip(req)
}

// newHTTPRequest builds the request of one attempt: the captured URL,
// headers and body, bounded by the timeout and by abort.
func (s *sender) newHTTPRequest(req capturedRequest) (*http.Request, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	stopCancel := context.AfterFunc(s.abort, cancel)
	cancelBoth := func() { stopCancel(); cancel() }
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, req.url, bytes.NewReader(req.body))
	if err != nil {
		cancelBoth()
		return nil, nil, err
	}
	// A copy per attempt: no attempt sees what a round tripper of an
	// earlier one may have added.
	httpReq.Header = req.header.Clone()
	if req.host != "" {
		httpReq.Host = req.host
	}
	return httpReq, cancelBoth, nil
}

// answered counts an answer of the backend; code 0 is no answer.
func (s *sender) answered(ctx context.Context, code int) {
	codeAttr, class := "none", "error"
	if code != 0 {
		codeAttr, class = strconv.Itoa(code), statusClass(code)
	}
	s.rep.tel.RemoteWriteAnswers.Add(ctx, 1, metric.WithAttributes(
		attribute.String("code", codeAttr), attribute.String("class", class)))
}

// backoff is the wait after exponent+1 consecutive failures (of the
// queue's rounds, queuePause; of reads of the queue, run): exponential
// from retry::initial_interval, capped at retry::max_interval, with jitter.
func (s *sender) backoff(exponent int) time.Duration {
	d := s.cfg.Retry.MaxInterval
	if exponent < 32 {
		d = min(s.cfg.Retry.InitialInterval<<exponent, s.cfg.Retry.MaxInterval)
	}
	return jitter(d)
}

// jitter draws a wait between half and all of d, so that collectors that
// failed together do not all retry together.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// drain reads a bounded rest of body, so that the connection can be reused,
// and closes it.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, drainBytes))
	_ = body.Close()
}
