//go:build e2e

package main

import (
	"bufio"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-eks/otelcol-eks/test/harness/workshop"
)

// asCommand makes the test binary run as workshop-local itself, so that the
// tests run the real command in a process of its own, signals included.
const asCommand = "WORKSHOP_LOCAL_AS_COMMAND"

func TestMain(m *testing.M) {
	if os.Getenv(asCommand) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// screen is a running workshop-local whose stdout and stderr go, as on a
// terminal, to one stream that the test reads line by line.
type screen struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string // closed at the end of the output
	seen   []string
	logDir string
}

// startCommand runs workshop-local on free loopback ports with a 1s scrape
// interval, the collector $OTELCOL_EKS_BIN (else bin/otelcol-eks), a log
// directory of the test's own, and args.
func startCommand(t *testing.T, args ...string) *screen {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	root, err := workshop.RepoRoot()
	require.NoError(t, err)
	s := &screen{t: t, lines: make(chan string, 1024), logDir: t.TempDir()}
	s.cmd = exec.Command(self, append([]string{
		"-collector", workshop.CollectorBinary(root),
		"-prometheus", "127.0.0.1:0", "-standin", "127.0.0.1:0", "-orders", "127.0.0.1:0",
		"-scrape-interval", "1s", "-log-dir", s.logDir,
	}, args...)...)
	s.cmd.Env = append(os.Environ(), asCommand+"=1", "AWS_EC2_METADATA_DISABLED=true")
	r, w, err := os.Pipe()
	require.NoError(t, err)
	s.cmd.Stdout, s.cmd.Stderr = w, w
	require.NoError(t, s.cmd.Start())
	w.Close()
	go func() {
		defer close(s.lines)
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil { // a failed test left it running
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			s.wait(time.Minute)
		}
		if t.Failed() {
			t.Logf("what workshop-local printed:\n%s", strings.Join(s.seen, "\n"))
		}
	})
	return s
}

// next returns the next line, or false at the end of the output. It fails
// the test after timeout without one.
func (s *screen) next(timeout time.Duration) (string, bool) {
	s.t.Helper()
	select {
	case line, ok := <-s.lines:
		if ok {
			s.seen = append(s.seen, line)
		}
		return line, ok
	case <-time.After(timeout):
		s.t.Fatalf("no output from workshop-local for %s", timeout)
		return "", false
	}
}

// wait reads the output to its end and returns the exit code, failing the
// test if that takes longer than timeout.
func (s *screen) wait(timeout time.Duration) int {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, ok := s.next(time.Until(deadline)); !ok {
			break
		}
	}
	err := s.cmd.Wait()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode()
	}
	require.NoError(s.t, err)
	return 0
}

func TestMakeRunShowsTheWorkshopNotTheLog(t *testing.T) {
	s := startCommand(t, "-status-interval", "1s")

	// The graph URL within the first screen (24 lines).
	wantURL := "/graph?g0.expr=" + url.QueryEscape(ordersByProduct)
	for !strings.Contains(strings.Join(s.seen, "\n"), wantURL) {
		require.Less(t, len(s.seen), 24, "no graph URL in the first 24 lines")
		_, ok := s.next(2 * time.Minute)
		require.True(t, ok, "workshop-local ended before showing the graph URL")
	}

	// A status line counting stored samples; first scrape after about a
	// second, delivered within the batch timeout (200ms) and a send.
	stored := regexp.MustCompile(`stored ([0-9]+) samples \| last scrape [0-9]+s ago \| queue [0-9]+ requests`)
	deadline := time.Now().Add(time.Minute)
	for {
		line, ok := s.next(time.Until(deadline))
		require.True(t, ok, "workshop-local ended before a status line with stored samples")
		if m := stored.FindStringSubmatch(line); m != nil {
			if n, _ := strconv.Atoi(m[1]); n > 0 {
				break
			}
		}
	}

	// Ctrl-C stops everything, and the last line says where the logs are.
	require.NoError(t, s.cmd.Process.Signal(os.Interrupt))
	require.Equal(t, 0, s.wait(time.Minute))
	last := s.seen[len(s.seen)-1]
	require.Contains(t, last, "Logs: "+s.logDir)

	// The logs are in their files, and the collector's is not on screen.
	const ready = "Everything is ready."
	collectorLog, err := os.ReadFile(filepath.Join(s.logDir, "collector.log"))
	require.NoError(t, err)
	require.Contains(t, string(collectorLog), ready)
	require.Contains(t, string(collectorLog), "Shutdown complete.")
	prometheusLog, err := os.ReadFile(filepath.Join(s.logDir, "prometheus.log"))
	require.NoError(t, err)
	require.Contains(t, string(prometheusLog), "Server is ready to receive web requests.")
	require.FileExists(t, filepath.Join(s.logDir, "standin.log"))
	screen := strings.Join(s.seen, "\n")
	require.NotContains(t, screen, ready)
	require.NotContains(t, screen, "\tinfo\t")
	// Every status was read in full, but for an answer later than the
	// status client waits for (an overloaded machine).
	for _, line := range s.seen {
		if strings.Contains(line, "cannot read") {
			require.Contains(t, line, "Timeout exceeded", "a status read in part")
		}
	}
}

func TestMakeRunShowsWhyTheCollectorDidNotStart(t *testing.T) {
	config := filepath.Join(t.TempDir(), "collector.yaml")
	require.NoError(t, os.WriteFile(config, []byte(`receivers:
  nosuch: {}
exporters:
  debug: {}
service:
  pipelines:
    metrics:
      receivers: [nosuch]
      exporters: [debug]
`), 0o600))
	s := startCommand(t, "-config", config)
	require.Equal(t, 1, s.wait(2*time.Minute))
	screen := strings.Join(s.seen, "\n")
	// The collector's own words (a line with no log level), then the
	// harness's verdict without the log tail, then where the logs are.
	require.Contains(t, screen, `collector: Error: `)
	require.Contains(t, screen, `nosuch`)
	require.Contains(t, screen, "workshop-local: collector exited during startup (exit status 1)\n")
	require.Equal(t, 1, strings.Count(screen, "Error: "), "the collector's error is shown once")
	require.Contains(t, s.seen[len(s.seen)-1], "Logs: "+s.logDir)
}
