package childproc

import "sync"

// DefaultMaxLog bounds a SyncBuffer whose Max is 0: a collector failing to
// send every few seconds logs well under a megabyte an hour.
const DefaultMaxLog = 16 << 20

// SyncBuffer is an io.Writer keeping the last Max bytes written (0 means
// DefaultMaxLog), safe for a process' concurrent writes and the caller's
// reads. The zero value is ready to use.
type SyncBuffer struct {
	// Max bounds the bytes kept; set it before the first Write.
	Max int

	mu      sync.Mutex
	data    []byte
	dropped bool
}

// Write appends p, dropping the oldest bytes past Max. It never fails.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	limit := b.Max
	if limit <= 0 {
		limit = DefaultMaxLog
	}
	b.data = append(b.data, p...)
	if over := len(b.data) - limit; over > 0 {
		b.data = append(b.data[:0], b.data[over:]...)
		b.dropped = true
	}
	return len(p), nil
}

// String returns the kept text; it starts with "…\n" when older bytes were
// dropped.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped {
		return "…\n" + string(b.data)
	}
	return string(b.data)
}

// Tail returns at most the last n bytes kept, prefixed with "…" when cut.
func (b *SyncBuffer) Tail(n int) string {
	return Tail(b.String(), n)
}

// Tail returns at most the last n bytes of s, prefixed with "…" when cut.
func Tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
