package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/otelcol-eks/otelcol-eks/test/harness/workshop"
)

// console is the terminal of `make run`: lines (what is starting, where to
// look, errors) and below them one status line. On a terminal the status
// line is rewritten in place, and every other line first clears it and then
// redraws it below itself; elsewhere (a pipe, a file) each status is a line
// of its own. Safe for concurrent use: error lines come from the parts'
// output goroutines.
type console struct {
	mu     sync.Mutex
	out    io.Writer // progress, addresses, status
	errOut io.Writer // errors
	tty    bool      // out is a terminal
	status string    // the status line on screen (tty only); "" if none
}

// statusWidth bounds a status line on a terminal: a longer one would wrap,
// and the carriage return would then rewrite only its last row.
const statusWidth = 79

func newConsole(out, errOut io.Writer) *console {
	return &console{out: out, errOut: errOut, tty: isTerminal(out)}
}

// isTerminal tells whether w is a character device, as a terminal is
// (/dev/null is one too, where carriage returns do no harm).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Printf writes a line (or lines) to out.
func (c *console) Printf(format string, args ...any) { c.write(c.out, fmt.Sprintf(format, args...)) }

// Errorf writes a line (or lines) to errOut.
func (c *console) Errorf(format string, args ...any) { c.write(c.errOut, fmt.Sprintf(format, args...)) }

func (c *console) write(w io.Writer, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status != "" {
		_, _ = io.WriteString(c.out, "\r\x1b[K")
	}
	_, _ = io.WriteString(w, text)
	if c.status != "" {
		_, _ = io.WriteString(c.out, c.status)
	}
}

// Status shows line as the status: in place on a terminal, else as a line.
func (c *console) Status(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.tty {
		_, _ = io.WriteString(c.out, line+"\n")
		return
	}
	if utf8.RuneCountInString(line) > statusWidth {
		line = string([]rune(line)[:statusWidth-1]) + "…"
	}
	c.status = line
	_, _ = io.WriteString(c.out, "\r"+line+"\x1b[K")
}

// EndStatus leaves the status line on screen as an ordinary line.
func (c *console) EndStatus() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status != "" {
		// Redrawn: a Ctrl-C echoed "^C" over its start.
		_, _ = io.WriteString(c.out, "\r"+c.status+"\x1b[K\n")
		c.status = ""
	}
}

// statusLine renders st, read at now (err: what could not be read).
func statusLine(now time.Time, st workshop.Status, err error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  stored %d samples | ", now.Format("15:04:05"), st.StoredSamples)
	if st.LastScrape.IsZero() {
		b.WriteString("no scrape stored yet")
	} else {
		fmt.Fprintf(&b, "last scrape %s ago", max(now.Sub(st.LastScrape), 0).Round(time.Second))
	}
	fmt.Fprintf(&b, " | queue %d requests (%s)", st.QueuedRequests, byteSize(st.QueuedBytes))
	if st.Refused > 0 {
		fmt.Fprintf(&b, " | %d refused by the stand-in", st.Refused)
	}
	if err != nil {
		msg, _, _ := strings.Cut(err.Error(), "\n")
		fmt.Fprintf(&b, " | cannot read %s", msg)
	}
	return b.String()
}

// byteSize renders n bytes for people: 0 B, 900 B, 12.5 KiB, 3.0 MiB.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, prefix := float64(n)/unit, "KMGT"
	for v >= unit && len(prefix) > 1 {
		v, prefix = v/unit, prefix[1:]
	}
	return fmt.Sprintf("%.1f %ciB", v, prefix[0])
}

// errorLines is a log's mirror on the console that lets through only its
// errors: lines at level error or worse in the formats of the workshop's
// parts (zap's console and JSON encodings for the collector, logfmt for
// Prometheus and the stand-in), and lines with no level at all, which the
// collector writes only when it fails (its command line's "Error: ...", a
// panic, the stack trace of an error). A partial line waits for its end.
// Write never fails, so the log's file gets everything.
type errorLines struct {
	part    string
	con     *console
	mu      sync.Mutex
	partial []byte
}

func (e *errorLines) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.partial = append(e.partial, p...)
	for {
		i := bytes.IndexByte(e.partial, '\n')
		if i < 0 {
			break
		}
		line := string(bytes.TrimRight(e.partial[:i], "\r"))
		e.partial = e.partial[i+1:]
		if isErrorLine(line) {
			e.con.Errorf("%s: %s\n", e.part, line)
		}
	}
	if len(e.partial) == 0 {
		e.partial = e.partial[:0:0] // let a large line's buffer go
	}
	return len(p), nil
}

// isErrorLine tells whether a log line is worth showing: see errorLines.
func isErrorLine(line string) bool {
	if strings.TrimSpace(line) == "" {
		return false
	}
	level, ok := lineLevel(line)
	if !ok {
		return true
	}
	switch strings.ToLower(level) {
	case "error", "dpanic", "panic", "fatal", "crit":
		return true
	}
	return false
}

// lineLevel finds the level of a log line: the second tab-separated field
// of zap's console encoding, "level" of a JSON object, or a level=
// key of logfmt (slog's text handler, go-kit's logger).
func lineLevel(line string) (string, bool) {
	if f := strings.SplitN(line, "\t", 3); len(f) == 3 {
		switch f[1] {
		case "debug", "info", "warn", "error", "dpanic", "panic", "fatal":
			return f[1], true
		}
	}
	if strings.HasPrefix(line, "{") {
		var entry struct {
			Level string `json:"level"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Level != "" {
			return entry.Level, true
		}
	}
	for _, field := range strings.Fields(line) {
		if level, ok := strings.CutPrefix(field, "level="); ok {
			return strings.Trim(level, `"`), true
		}
	}
	return "", false
}
