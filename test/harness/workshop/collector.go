package workshop

import (
	"context"
	"io"

	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/childproc"
)

// collector is a running bin/otelcol-eks. Its Stop sends SIGTERM and kills
// it after the grace period; the kernel kills it (SIGKILL) should the caller
// die without calling Stop.
type collector struct {
	*childproc.Process
	healthURL string
}

// startCollector runs `bin --config config` with exactly env (nothing of
// the caller's environment leaks in), its stdout and stderr going to
// logPath, to an in-memory capture and to mirror when not nil.
func startCollector(bin, config string, env []string, logPath string, mirror io.Writer, healthURL string) (*collector, error) {
	if err := CheckCollectorBinary(bin); err != nil {
		return nil, err
	}
	p, err := childproc.Start(childproc.Config{
		Name: "collector", Path: bin, Args: []string{"--config", config},
		Env: env, LogPath: logPath, Output: mirror,
	})
	if err != nil {
		return nil, err
	}
	return &collector{Process: p, healthURL: healthURL}, nil
}

// waitHealthy polls the health_check extension until it answers 200, the
// process exits or ctx ends.
func (c *collector) waitHealthy(ctx context.Context) error {
	return c.WaitHTTP(ctx, childproc.Probe{URL: c.healthURL})
}
