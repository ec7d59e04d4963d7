package remotewritedeliveryextension

import (
	"sync"
	"time"
)

// logLimiter allows one log line per cause per interval and counts what it
// held back. It is safe for concurrent use.
type logLimiter struct {
	interval time.Duration
	now      func() time.Time

	mu    sync.Mutex
	state map[string]*causeLog
}

type causeLog struct {
	last time.Time
	// held counts occurrences since the last allowed line, that one included.
	held int64
}

func newLogLimiter(interval time.Duration, now func() time.Time) *logLimiter {
	return &logLimiter{interval: interval, now: now, state: map[string]*causeLog{}}
}

// allow reports whether an occurrence of cause may be logged now and, if
// so, how many occurrences (this one included) it stands for: those since
// the last line for cause.
func (l *logLimiter) allow(cause string) (ok bool, occurrences int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	s := l.state[cause]
	if s == nil {
		l.state[cause] = &causeLog{last: now}
		return true, 1
	}
	s.held++
	if now.Sub(s.last) < l.interval {
		return false, 0
	}
	occurrences = s.held
	s.last, s.held = now, 0
	return true, occurrences
}
