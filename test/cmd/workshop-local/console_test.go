package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-eks/otelcol-eks/test/harness/workshop"
)

// Lines as the parts write them (the collector in its console and JSON
// encodings, Prometheus' go-kit logfmt, the stand-in's slog text).
const (
	zapInfo   = "2026-12-06T19:57:50.762Z\tinfo\tservice@v0.165.0/service.go:233\tStarting otelcol-eks...\t{\"NumCPU\": 2}"
	zapWarn   = "2026-12-06T19:57:51.000Z\twarn\tremotewritedeliveryextension/sender.go:231\tremote-write backend not reached: the request stays queued and is retried\t{\"reason\": \"connection\"}"
	zapError  = "2026-12-06T19:57:52.000Z\terror\tremotewritedeliveryextension/report.go:65\tremote-write backend refuses the credentials\t{\"status_code\": 403}"
	zapStack  = "go.opentelemetry.io/collector/otelcol.(*Collector).Run"
	jsonInfo  = `{"level":"info","ts":"2026-12-06T19:57:50.762Z","msg":"Everything is ready."}`
	jsonError = `{"level":"error","ts":"2026-12-06T19:57:52.000Z","msg":"cannot read the remote-write queue: retrying"}`
	promWarn  = `ts=2026-12-06T19:58:15.014Z caller=main.go:823 level=warn msg="Received SIGTERM, exiting gracefully..."`
	promError = `ts=2026-12-06T19:58:15.014Z caller=main.go:900 level=error msg="opening storage failed"`
	slogError = `time=2026-12-06T19:58:00.000Z level=ERROR msg="upstream unavailable" component=amp-standin error="connection refused"`
	cobraErr  = `Error: failed to get config: cannot unmarshal the configuration: unknown type: "nosuch"`
)

func TestErrorLinesLetThroughOnlyErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	e := &errorLines{part: "collector", con: &console{out: &out, errOut: &errOut}}
	log := strings.Join([]string{
		zapInfo, zapWarn, zapError, zapStack, "", jsonInfo, jsonError,
		promWarn, promError, slogError, cobraErr,
	}, "\n") + "\n" + zapError // the last line not ended yet
	// Written in pieces that cut lines, as a pipe delivers them.
	for piece := range slicesOf(log, 37) {
		n, err := e.Write([]byte(piece))
		require.NoError(t, err)
		require.Equal(t, len(piece), n)
	}
	want := ""
	for _, line := range []string{zapError, zapStack, jsonError, promError, slogError, cobraErr} {
		want += "collector: " + line + "\n"
	}
	require.Equal(t, want, errOut.String())
	require.Empty(t, out.String())

	_, _ = e.Write([]byte("\n"))
	require.Equal(t, want+"collector: "+zapError+"\n", errOut.String(), "a line is shown once it ends")
}

// slicesOf cuts s into pieces of n bytes.
func slicesOf(s string, n int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

func TestConsoleOnATerminalRewritesTheStatusInPlace(t *testing.T) {
	var screen bytes.Buffer // stdout and stderr on one terminal
	c := &console{out: &screen, errOut: &screen, tty: true}
	c.Printf("starting\n")
	c.Status("status 1")
	c.Status("status 2")
	c.Errorf("an error\n")
	c.Status(strings.Repeat("x", 100))
	c.EndStatus()
	c.Printf("Stopping …\n")
	long := strings.Repeat("x", statusWidth-1) + "…"
	require.Equal(t, "starting\n"+
		"\rstatus 1\x1b[K"+
		"\rstatus 2\x1b[K"+
		"\r\x1b[K"+"an error\n"+"status 2"+ // cleared, written, redrawn below
		"\r"+long+"\x1b[K"+
		"\r"+long+"\x1b[K\n"+
		"Stopping …\n", screen.String())
}

func TestConsoleElsewherePrintsStatusLines(t *testing.T) {
	var out, errOut bytes.Buffer
	c := &console{out: &out, errOut: &errOut}
	c.Status("status 1")
	c.Errorf("an error\n")
	c.Status("status 2")
	c.EndStatus()
	require.Equal(t, "status 1\nstatus 2\n", out.String())
	require.Equal(t, "an error\n", errOut.String())
	require.False(t, isTerminal(&out))
}

func TestStatusLine(t *testing.T) {
	now := time.Date(2026, 12, 6, 20, 1, 2, 0, time.Local)
	f := func(st workshop.Status, err error, want string) {
		t.Helper()
		require.Equal(t, want, statusLine(now, st, err))
	}
	f(workshop.Status{}, nil, "20:01:02  stored 0 samples | no scrape stored yet | queue 0 requests (0 B)")
	f(workshop.Status{
		StoredSamples: 12345, LastScrape: now.Add(-2400 * time.Millisecond),
		QueuedRequests: 3, QueuedBytes: 12800, Refused: 2,
	}, errors.New("collector: connection refused\nmore"),
		"20:01:02  stored 12345 samples | last scrape 2s ago | queue 3 requests (12.5 KiB)"+
			" | 2 refused by the stand-in | cannot read collector: connection refused")
}

func TestByteSize(t *testing.T) {
	f := func(n int64, want string) {
		t.Helper()
		require.Equal(t, want, byteSize(n))
	}
	f(0, "0 B")
	f(1023, "1023 B")
	f(1024, "1.0 KiB")
	f(3<<20+1<<19, "3.5 MiB")
	f(5<<40, "5.0 TiB")
	f(5<<50, "5120.0 TiB")
}
