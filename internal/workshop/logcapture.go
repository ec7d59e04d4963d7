package workshop

import (
	"sync"
)

// maxCapturedLog bounds each log kept in memory. Past it the oldest bytes
// are dropped (the log file keeps everything): a collector failing to send
// every few seconds logs well under a megabyte an hour.
const maxCapturedLog = 16 << 20

// logCapture is an io.Writer keeping the last maxCapturedLog bytes written,
// safe for a process' concurrent writes and the caller's reads.
type logCapture struct {
	mu      sync.Mutex
	data    []byte
	dropped bool
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.data = append(c.data, p...)
	if over := len(c.data) - maxCapturedLog; over > 0 {
		c.data = append(c.data[:0], c.data[over:]...)
		c.dropped = true
	}
	return len(p), nil
}

// String returns the captured text; it starts with "…\n" when older bytes
// were dropped.
func (c *logCapture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropped {
		return "…\n" + string(c.data)
	}
	return string(c.data)
}

// tail returns at most the last n bytes captured.
func (c *logCapture) tail(n int) string {
	s := c.String()
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
