package workshop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// collector is a running bin/otelcol-eks.
type collector struct {
	cmd       *exec.Cmd
	log       *logCapture
	logFile   *os.File
	healthURL string
	exited    chan struct{} // closed once the process has exited
	waitErr   error         // valid once exited is closed
}

// startCollector runs `bin --config config` with exactly env (nothing of
// the caller's environment leaks in), its stdout and stderr going to
// logPath, to an in-memory capture and to mirror when not nil.
func startCollector(bin, config string, env []string, logPath string, mirror io.Writer, healthURL string) (*collector, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("cannot find the collector binary (build it with `make build`, or set %s): %w", BinaryEnv, err)
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot create collector log: %w", err)
	}
	c := &collector{log: &logCapture{}, logFile: f, healthURL: healthURL, exited: make(chan struct{})}
	out := []io.Writer{f, c.log}
	if mirror != nil {
		out = append(out, mirror)
	}
	w := io.MultiWriter(out...)
	c.cmd = exec.Command(bin, "--config", config)
	c.cmd.Env = env
	c.cmd.Stdout, c.cmd.Stderr = w, w
	c.cmd.SysProcAttr = childProcAttr()
	if err := c.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot start collector %s: %w", bin, err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		f.Close()
		close(c.exited)
	}()
	return c, nil
}

// waitHealthy polls the health_check extension until it answers 200, the
// process exits or ctx ends.
func (c *collector) waitHealthy(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.healthURL, nil)
		if err != nil {
			return fmt.Errorf("cannot build health request: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.exited:
			return fmt.Errorf("collector exited during startup (%v); its log:\n%s", c.waitErr, c.log.tail(6000))
		case <-ctx.Done():
			return fmt.Errorf("collector not healthy at %s: %w; its log:\n%s", c.healthURL, context.Cause(ctx), c.log.tail(6000))
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM, waits up to timeout for the collector to flush and
// exit, then kills it. It reports a kill or a failed exit as an error.
func (c *collector) stop(timeout time.Duration) error {
	select {
	case <-c.exited:
		return c.exitError()
	default:
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("cannot signal collector: %w", err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-c.exited:
		return c.exitError()
	case <-timer.C:
		_ = c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("collector did not stop within %s of SIGTERM and was killed", timeout)
	}
}

func (c *collector) exitError() error {
	if c.waitErr != nil {
		return fmt.Errorf("collector exited: %w", c.waitErr)
	}
	return nil
}
