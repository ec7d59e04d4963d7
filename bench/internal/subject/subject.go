// Package subject runs one process under measurement (bin/otelcol-eks or
// Prometheus in agent mode) for the benchmark: started with its own
// environment and arguments, its output in a log file, ready once an HTTP
// URL answers 200, stopped with SIGTERM (SIGKILL after a grace period).
//
// The process gets its own process group, so a Ctrl-C meant for the
// harness does not hit it before the harness stops it, and the kernel
// sends it SIGKILL if the harness dies, so nothing is left running.
package subject

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Spec describes a process to run.
type Spec struct {
	Path    string   // executable
	Args    []string // command-line arguments
	Env     []string // KEY=VALUE added to (and overriding) the harness' environment
	Dir     string   // working directory; "" is the harness'
	LogPath string   // file receiving stdout and stderr; "" discards them
	// ReadyURL answers 200 once the process serves; Start waits for it.
	ReadyURL string
}

// Process is a running Spec.
type Process struct {
	cmd     *exec.Cmd
	log     *os.File
	exited  chan struct{}
	waitErr error
}

// Start launches spec and returns once spec.ReadyURL answers 200, the
// process exits (an error, with the log's tail), or ctx ends (the process
// is then killed).
func Start(ctx context.Context, spec Spec) (*Process, error) {
	p := &Process{exited: make(chan struct{})}
	var out io.Writer = io.Discard
	if spec.LogPath != "" {
		f, err := os.Create(spec.LogPath)
		if err != nil {
			return nil, fmt.Errorf("cannot create log file: %w", err)
		}
		p.log, out = f, f
	}
	p.cmd = exec.Command(spec.Path, spec.Args...)
	p.cmd.Env = mergeEnv(os.Environ(), spec.Env)
	p.cmd.Dir = spec.Dir
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		p.closeLog()
		return nil, fmt.Errorf("cannot start %s: %w", spec.Path, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		p.closeLog()
		close(p.exited)
	}()
	if err := p.waitReady(ctx, spec.ReadyURL); err != nil {
		_ = p.Stop(0)
		return nil, fmt.Errorf("%s not ready: %w; its log ends with:\n%s", spec.Path, err, tail(spec.LogPath, 3000))
	}
	return p, nil
}

func (p *Process) waitReady(ctx context.Context, url string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("cannot build readiness request: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("process exited: %v", p.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Pid is the process id, for procstat.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err is why the process exited; valid once Exited is closed.
func (p *Process) Err() error { return p.waitErr }

// Stop sends SIGTERM, waits up to grace for the exit, then SIGKILLs the
// process group. It returns nil for an exit caused by the signal or a
// clean one, else the exit error.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.exited:
		return p.exitErr()
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
		return fmt.Errorf("pid %d did not stop within %s of SIGTERM and was killed", p.cmd.Process.Pid, grace)
	}
	return p.exitErr()
}

func (p *Process) exitErr() error {
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return nil
		}
	}
	return p.waitErr
}

func (p *Process) closeLog() {
	if p.log != nil {
		_ = p.log.Close()
	}
}

// mergeEnv returns base with every KEY=VALUE of extra set, replacing
// base's entries of the same key.
func mergeEnv(base, extra []string) []string {
	keys := make(map[string]bool, len(extra))
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		keys[k] = true
	}
	out := make([]string, 0, len(base)+len(extra))
	for _, kv := range base {
		if k, _, _ := strings.Cut(kv, "="); !keys[k] {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// tail returns the last n bytes of the file at path, or a note saying why not.
func tail(path string, n int64) string {
	if path == "" {
		return "(no log kept)"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}
