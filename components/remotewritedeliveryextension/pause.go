package remotewritedeliveryextension

import (
	"sync"
	"time"
)

// queuePause is the queue's one retry clock: a "not before" deadline that
// every attempt of every request waits for. Every failed attempt pauses
// the whole queue; no request waits on a clock of its own. This comment
// states the clock's rule. Which answer waits how long, and whether a 2xx
// ends that wait ("firm"), is the answer policy: the README's table "What
// happens to a request" states it, judge and verdict.firm apply it, and
// the sender hands each failure's wait and firmness to failed.
//
//   - A failed attempt extends the deadline to now plus its wait, never
//     shortens it.
//   - The backoff's exponent counts the queue's consecutive failed rounds,
//     not each request's attempts: a failure that comes back while the
//     queue is already paused is an attempt sent before that pause, failing
//     for the same reason, and joins it without raising the exponent. The
//     requests in flight together fail together and count once, so one
//     request alone backs off as the queue does.
//   - A 2xx ends the failure streak (the exponent restarts) and the pause,
//     but for its firm part, which only its deadline ends.
//
// With several requests in flight, each on its own clock would keep
// sending into a refusal (the next request goes out as soon as one before
// it is done with, and is refused in turn), and after an outage the first
// request to wake would be delivered while the others, holding the
// in-flight slots and the in-order commit, slept out their own backoffs
// (up to retry::max_interval). With one clock, an episode is one pause of
// the whole queue and one resumption, and all requests resume at once.
//
// The deadlines are in the monotonic clock, as the waits are. It is safe
// for concurrent use.
type queuePause struct {
	mu sync.Mutex
	// until is the deadline; firm is the part of it a 2xx does not end.
	until, firm time.Time
	// failures is the queue's consecutive failed rounds.
	failures int
	// cut is closed, and replaced, when a 2xx ends a pause early: it wakes
	// the requests waiting for it.
	cut chan struct{}
}

// failed records a failed attempt: the queue waits at least wait(exponent)
// from now, exponent being the queue's consecutive failed rounds before
// this one's; firm when a 2xx must not end that wait. It returns how long
// the queue is now paused, which a longer pause already under way makes
// longer than this attempt's own wait.
func (p *queuePause) failed(wait func(exponent int) time.Duration, firm bool) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if !now.Before(p.until) {
		p.failures++ // not paused: a new round
	}
	d := wait(max(p.failures-1, 0))
	until := now.Add(d)
	if until.After(p.until) {
		p.until = until
	}
	if firm && until.After(p.firm) {
		p.firm = until
	}
	return p.until.Sub(now)
}

// succeeded records a 2xx: the failure streak ends, and so does the pause
// but for its firm part.
func (p *queuePause) succeeded() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures = 0
	if p.until.After(p.firm) && p.until.After(time.Now()) {
		p.until = p.firm
		if p.cut != nil {
			close(p.cut)
			p.cut = nil
		}
	}
}

// remaining is how long the queue still waits (0 when it does not), and a
// channel closed if a 2xx ends that wait early.
func (p *queuePause) remaining() (time.Duration, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := max(time.Until(p.until), 0)
	if d == 0 {
		return 0, nil
	}
	if p.cut == nil {
		p.cut = make(chan struct{})
	}
	return d, p.cut
}
