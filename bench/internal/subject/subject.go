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
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/childproc"
)

// Spec describes a process to run.
type Spec struct {
	Path    string   // executable
	Args    []string // command-line arguments
	Env     []string // KEY=VALUE added to (and overriding) the harness' environment
	Dir     string   // working directory; "" is the harness'
	LogPath string   // file receiving stdout and stderr; "" keeps only the in-memory tail
	// ReadyURL answers 200 once the process serves; Start waits for it.
	ReadyURL string
}

// Process is a running Spec: a child process of the project's shared
// runner (test/harness/testenv/childproc), which gives it its own process group
// and a parent-death signal.
type Process struct {
	*childproc.Process
}

// Start launches spec and returns once spec.ReadyURL answers 200, the
// process exits (an error, with the log's tail), or ctx ends (the process
// is then killed).
func Start(ctx context.Context, spec Spec) (*Process, error) {
	p, err := childproc.Start(childproc.Config{
		Path:    spec.Path,
		Args:    spec.Args,
		Env:     mergeEnv(os.Environ(), spec.Env),
		Dir:     spec.Dir,
		LogPath: spec.LogPath,
	})
	if err != nil {
		return nil, err
	}
	if err := p.WaitHTTP(ctx, childproc.Probe{URL: spec.ReadyURL}); err != nil {
		_ = p.Stop(0)
		return nil, fmt.Errorf("%s not ready: %w", spec.Path, err)
	}
	return &Process{p}, nil
}

// Stop sends SIGTERM, waits up to grace, then kills the process. A process
// that ends by the signal itself (rather than exiting 0 on it) has stopped
// as asked: that is not an error here.
func (p *Process) Stop(grace time.Duration) error {
	err := p.Process.Stop(grace)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return nil
		}
	}
	return err
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
