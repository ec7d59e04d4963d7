package remotewritedeliveryextension

import (
	"sync"
	"time"
)

// queuePause is the queue's "not before" deadline: every attempt of every
// request waits until it has passed. An answer that asks the client, not
// one request, to wait sets it: a 429 (for its backoff or Retry-After,
// whichever is longer), a 401 or 403, or an authenticator that cannot sign
// (for retry::credentials_interval). With several requests in flight, each
// waiting on its own clock would keep sending into the refusal: the next
// request would go out as soon as one before it was done with, and each
// would be refused in turn. With the deadline shared, an episode is one
// pause of the whole queue and one resumption.
//
// An answer only extends the deadline, so the requests that were already
// in flight when the first refusal came back extend it by as little as
// their answers came later. A 2xx during a pause does not end it: that
// request was sent before the pause began, and Retry-After is the
// backend's instruction. The deadline is in the monotonic clock, as the
// waits are. It is safe for concurrent use.
type queuePause struct {
	mu    sync.Mutex
	until time.Time
}

// extend makes the queue wait at least d from now; it reports whether
// that moved the deadline.
func (p *queuePause) extend(d time.Duration) bool {
	until := time.Now().Add(d)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !until.After(p.until) {
		return false
	}
	p.until = until
	return true
}

// remaining is how long the queue still waits; 0 when it does not.
func (p *queuePause) remaining() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(time.Until(p.until), 0)
}
