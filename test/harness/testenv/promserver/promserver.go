// Package promserver starts a real Prometheus server for tests, the local
// workshop and benchmarks: the Debian package's binary (`prometheus`, 2.42
// here) on a free loopback port, with its remote-write receiver on and its
// data in a temporary directory that Stop removes. It stores native
// histograms, as an AMP workspace does (NativeHistogramsFlag).
//
// In a test:
//
//	srv := promserver.StartForTest(t, promserver.Options{})
//	// point a remote-write sender at srv.RemoteWriteURL()
//	vec, err := srv.WaitForQuery(ctx, `up`, func(v model.Vector) bool { return len(v) > 0 })
//
// StartForTest fails the test (never skips) when the binary is missing,
// saying how to install it: `apt-get install -y prometheus`.
//
// Prometheus rejects remote-written samples much older than the newest one
// it holds (more than about an hour: "out of bounds"). DefaultConfig
// accepts samples up to a minute older than the newest of their series, as
// an AMP workspace does by default; a Config without that window refuses
// any sample older than the last one of its series.
package promserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/otelcol-eks/otelcol-eks/test/harness/loopback"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv"

	"github.com/prometheus/common/model"

	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/childproc"
)

// InstallHint says how to get the binary; it is part of ErrNotInstalled's text.
const InstallHint = "apt-get install -y prometheus"

// ErrNotInstalled is returned by Start when no prometheus binary is found.
var ErrNotInstalled = errors.New("prometheus binary not found on PATH; install it with: " + InstallHint)

// DefaultConfig is the prometheus.yml used when Options.Config is empty:
// no scrape jobs, so everything in the TSDB came through remote write, and
// AMP's default out-of-order window (60 s; Prometheus has none by default).
const DefaultConfig = `global:
  scrape_interval: 15s
  evaluation_interval: 15s
storage:
  tsdb:
    out_of_order_time_window: 1m
`

// NativeHistogramsFlag makes Prometheus 2.42 store native histograms.
// Without it its remote-write receiver answers every request holding one
// with 500 ("native histograms are disabled"), which a sender retries
// forever, and the floats of the same request are not stored either. (It
// also makes Prometheus' own scrapes negotiate the protobuf exposition; the
// servers started here scrape nothing unless Options.Config says so.)
const NativeHistogramsFlag = "--enable-feature=native-histograms"

// Options configures Start. The zero value is usable.
type Options struct {
	// Binary is the prometheus executable; "" looks up "prometheus" on PATH.
	Binary string
	// Config is the content of prometheus.yml; "" means DefaultConfig.
	Config string
	// ExtraArgs are appended to the command line (e.g. "--log.level=debug").
	ExtraArgs []string
	// ReadyTimeout bounds the wait for /-/ready after each launch; 0 means 60s.
	ReadyTimeout time.Duration
	// Output, if set, receives Prometheus' own log (stdout and stderr);
	// it is also kept in memory for Logs either way.
	Output io.Writer
	// DataDir, if set, is used for the TSDB and config instead of a new
	// temporary directory, and is not removed by Stop.
	DataDir string
}

// Server is a running Prometheus. Its methods are safe for concurrent use.
type Server struct {
	addr    string // 127.0.0.1:port
	dir     string
	ownsDir bool
	proc    *childproc.Process
	client  *http.Client
	stop    sync.Once
	stopErr error
}

// Start launches Prometheus with --web.enable-remote-write-receiver and
// NativeHistogramsFlag on a free 127.0.0.1 port and returns once /-/ready
// answers 200. ctx bounds
// the startup only; the server runs until Stop. A port taken between
// choosing and binding is retried, up to three launches.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin := opts.Binary
	if bin == "" {
		p, err := exec.LookPath("prometheus")
		if err != nil {
			return nil, ErrNotInstalled
		}
		bin = p
	}
	dir, ownsDir := opts.DataDir, false
	if dir == "" {
		d, err := os.MkdirTemp("", "promserver-")
		if err != nil {
			return nil, fmt.Errorf("cannot create prometheus data dir: %w", err)
		}
		dir, ownsDir = d, true
	}
	cfg := opts.Config
	if cfg == "" {
		cfg = DefaultConfig
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		removeIf(ownsDir, dir)
		return nil, fmt.Errorf("cannot write prometheus config: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := launch(ctx, bin, dir, ownsDir, cfgPath, opts)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if ctx.Err() != nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	removeIf(ownsDir, dir)
	return nil, lastErr
}

func launch(ctx context.Context, bin, dir string, ownsDir bool, cfgPath string, opts Options) (*Server, error) {
	ports, err := loopback.FreePorts(1)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	args := append([]string{
		"--config.file=" + cfgPath,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr,
		"--web.enable-remote-write-receiver",
		NativeHistogramsFlag,
	}, opts.ExtraArgs...)
	s := &Server{
		addr: addr, dir: dir, ownsDir: ownsDir,
		client: &http.Client{Timeout: 30 * time.Second},
	}
	// SIGTERM on the parent's death: Prometheus then closes its TSDB in
	// order, and nothing is left running (`make run`, a killed test binary).
	s.proc, err = childproc.Start(childproc.Config{
		Name: "prometheus", Path: bin, Args: args, Dir: dir,
		Output: opts.Output, MaxLog: maxLogBytes, DeathSignal: syscall.SIGTERM,
	})
	if err != nil {
		return nil, err
	}

	timeout := opts.ReadyTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	readyCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	probe := childproc.Probe{URL: s.URL() + "/-/ready", Client: s.client, Interval: 50 * time.Millisecond}
	if err := s.proc.WaitHTTP(readyCtx, probe); err != nil {
		_ = s.proc.Stop(stopGrace)
		// err carries the log tail, which Start searches for a port clash.
		return nil, fmt.Errorf("prometheus on %s not ready: %w", addr, err)
	}
	return s, nil
}

// URL is the server's base URL, e.g. http://127.0.0.1:40123.
func (s *Server) URL() string { return "http://" + s.addr }

// Addr is the server's host:port on 127.0.0.1.
func (s *Server) Addr() string { return s.addr }

// RemoteWriteURL is the remote-write receiver's endpoint (URL()+"/api/v1/write").
func (s *Server) RemoteWriteURL() string { return s.URL() + "/api/v1/write" }

// GraphURL is the web UI's graph page showing promql.
func (s *Server) GraphURL(promql string) string {
	return s.URL() + "/graph?g0.expr=" + url.QueryEscape(promql) + "&g0.tab=0"
}

// DataDir is the directory holding prometheus.yml and the TSDB.
func (s *Server) DataDir() string { return s.dir }

// Logs returns what Prometheus has logged so far.
func (s *Server) Logs() string { return s.proc.Log() }

// Query evaluates an instant query at time at (the zero time means now)
// through /api/v1/query and returns the vector. A non-vector result (a
// scalar or string expression) is an error.
func (s *Server) Query(ctx context.Context, promql string, at time.Time) (model.Vector, error) {
	q := url.Values{"query": {promql}}
	if !at.IsZero() {
		q.Set("time", strconv.FormatFloat(float64(at.UnixNano())/1e9, 'f', 3, 64))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/api/v1/query", strings.NewReader(q.Encode()))
	if err != nil {
		return nil, fmt.Errorf("cannot build query %q: %w", promql, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot query %q: %w", promql, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("cannot read answer to %q: %w", promql, err)
	}
	var ans struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("cannot decode answer to %q (HTTP %d): %w: %.200s", promql, resp.StatusCode, err, body)
	}
	if ans.Status != "success" {
		return nil, fmt.Errorf("query %q failed (HTTP %d): %s: %s", promql, resp.StatusCode, ans.ErrorType, ans.Error)
	}
	if ans.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %q returned a %s, want a vector", promql, ans.Data.ResultType)
	}
	var vec model.Vector
	if err := json.Unmarshal(ans.Data.Result, &vec); err != nil {
		return nil, fmt.Errorf("cannot decode vector of %q: %w", promql, err)
	}
	return vec, nil
}

// WaitForQuery runs promql (at the current time) every interval (0 means
// 250ms) until cond accepts the result, and returns that result. When ctx
// ends first it returns the last result with an error naming the query and
// the last result or query error, so a failing test says what it saw.
func (s *Server) WaitForQuery(ctx context.Context, promql string, interval time.Duration, cond func(model.Vector) bool) (model.Vector, error) {
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var last model.Vector
	var lastErr error
	for {
		vec, err := s.Query(ctx, promql, time.Time{})
		if err == nil && cond(vec) {
			return vec, nil
		}
		if err == nil || ctx.Err() == nil {
			last, lastErr = vec, err
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return last, fmt.Errorf("query %q: condition not met before %w; last error: %v", promql, context.Cause(ctx), lastErr)
			}
			return last, fmt.Errorf("query %q: condition not met before %w; last result: %v", promql, context.Cause(ctx), last)
		case <-s.proc.Exited():
			return last, fmt.Errorf("query %q: prometheus exited: %v", promql, s.proc.Err())
		case <-tick.C:
		}
	}
}

// Stop ends Prometheus (SIGTERM, then SIGKILL after 10s), waits for it and
// removes the temporary directory. It is safe to call more than once; the
// later calls return the first call's result.
func (s *Server) Stop() error {
	s.stop.Do(func() {
		// Only the data dir matters to the caller; how Prometheus took
		// SIGTERM does not.
		_ = s.proc.Stop(stopGrace)
		if s.ownsDir {
			if err := os.RemoveAll(s.dir); err != nil {
				s.stopErr = fmt.Errorf("cannot remove prometheus data dir: %w", err)
			}
		}
	})
	return s.stopErr
}

// StartForTest starts a server for t, stops it when the test ends (printing
// its log if the test failed) and fails the test — never skips it — when
// Prometheus is missing or does not start.
func StartForTest(t testenv.TB, opts Options) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("cannot start prometheus: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prometheus log:\n%s", s.proc.Tail(8000))
		}
		if err := s.Stop(); err != nil {
			t.Logf("cannot stop prometheus: %v", err)
		}
	})
	return s
}

func removeIf(cond bool, dir string) {
	if cond {
		_ = os.RemoveAll(dir)
	}
}

// maxLogBytes bounds the log kept in memory; older bytes are dropped.
const maxLogBytes = 4 << 20

// stopGrace is how long Prometheus may take to exit after SIGTERM.
const stopGrace = 10 * time.Second
