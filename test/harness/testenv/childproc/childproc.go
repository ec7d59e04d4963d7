package childproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// logTail is how much of the log an error carries.
const logTail = 6000

// Config says what to run and where its output goes.
type Config struct {
	// Name names the child in errors; "" means the base name of Path.
	Name string
	// Path is the executable; Args are its arguments (without argv[0]).
	Path string
	Args []string
	// Env is the child's whole environment; nil means the caller's.
	Env []string
	// Dir is the working directory; "" means the caller's.
	Dir string
	// LogPath, if set, is created (or truncated) and receives the output.
	LogPath string
	// Output, if set, also receives the output.
	Output io.Writer
	// MaxLog bounds the output kept in memory; 0 means DefaultMaxLog.
	MaxLog int
	// DeathSignal is what the kernel sends the child should the parent die
	// without calling Stop (Linux only); 0 means SIGKILL.
	DeathSignal syscall.Signal
}

// Process is a running (or exited) child.
type Process struct {
	name    string
	cmd     *exec.Cmd
	log     *SyncBuffer
	exited  chan struct{}
	waitErr error // valid once exited is closed

	stopOnce sync.Once
	stopErr  error
}

// Start launches the child described by cfg. The child runs until it exits
// or Stop is called.
func Start(cfg Config) (*Process, error) {
	name := cfg.Name
	if name == "" {
		name = filepath.Base(cfg.Path)
	}
	sig := cfg.DeathSignal
	if sig == 0 {
		sig = syscall.SIGKILL
	}
	p := &Process{name: name, log: &SyncBuffer{Max: cfg.MaxLog}, exited: make(chan struct{})}
	out := []io.Writer{p.log}
	var f *os.File
	if cfg.LogPath != "" {
		var err error
		f, err = os.OpenFile(cfg.LogPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("cannot create %s log: %w", name, err)
		}
		out = append(out, f)
	}
	if cfg.Output != nil {
		out = append(out, cfg.Output)
	}
	w := io.MultiWriter(out...)
	p.cmd = exec.Command(cfg.Path, cfg.Args...)
	p.cmd.Env = cfg.Env
	p.cmd.Dir = cfg.Dir
	p.cmd.Stdout, p.cmd.Stderr = w, w
	p.cmd.SysProcAttr = sysProcAttr(sig)
	if err := p.cmd.Start(); err != nil {
		if f != nil {
			f.Close()
		}
		return nil, fmt.Errorf("cannot start %s %s: %w", name, cfg.Path, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		if f != nil {
			f.Close()
		}
		close(p.exited)
	}()
	return p, nil
}

// Name is the child's name as used in errors.
func (p *Process) Name() string { return p.name }

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Log returns what the child has written so far (its newest bytes).
func (p *Process) Log() string { return p.log.String() }

// Tail returns at most the last n bytes the child has written.
func (p *Process) Tail(n int) string { return p.log.Tail(n) }

// Exited is closed once the child has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err is what waiting for the child returned (nil for a zero exit); it is
// nil while the child runs.
func (p *Process) Err() error {
	select {
	case <-p.exited:
		return p.waitErr
	default:
		return nil
	}
}

// Signal sends sig to the child; a child that has already exited is no
// error.
func (p *Process) Signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("cannot signal %s: %w", p.name, err)
	}
	return nil
}

// Stop sends SIGTERM, waits up to grace for the child to exit, then kills
// it, and returns once it has exited. The error reports a kill ("was
// killed") or a failed exit; a child that exits 0 on SIGTERM gives nil. It
// is safe to call more than once, concurrently too; later calls return the
// first call's result.
func (p *Process) Stop(grace time.Duration) error {
	p.stopOnce.Do(func() { p.stopErr = p.stop(grace) })
	return p.stopErr
}

func (p *Process) stop(grace time.Duration) error {
	select {
	case <-p.exited:
		return p.exitError()
	default:
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		_ = p.cmd.Process.Kill()
		<-p.exited
		return err
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.exited:
		return p.exitError()
	case <-timer.C:
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not stop within %s of SIGTERM and was killed", p.name, grace)
	}
}

func (p *Process) exitError() error {
	if p.waitErr != nil {
		return fmt.Errorf("%s exited: %w", p.name, p.waitErr)
	}
	return nil
}

// Probe says how WaitHTTP asks whether the child is ready.
type Probe struct {
	// URL is fetched with GET.
	URL string
	// Header is sent with every request.
	Header http.Header
	// Client sends the requests; nil means one with a 2s timeout.
	Client *http.Client
	// OK accepts an answer; nil accepts 200. It may read the body.
	OK func(*http.Response) bool
	// Interval separates attempts; 0 means 100ms.
	Interval time.Duration
}

// WaitHTTP polls probe.URL until probe.OK accepts an answer, the child exits
// or ctx ends (give ctx a deadline). The errors carry the child's log tail:
// "<name> exited during startup (<wait error>)" when it exits, and the last
// answer or transport error when ctx ends.
func (p *Process) WaitHTTP(ctx context.Context, probe Probe) error {
	client := probe.Client
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Second}
	}
	ok := probe.OK
	if ok == nil {
		ok = func(r *http.Response) bool { return r.StatusCode == http.StatusOK }
	}
	interval := probe.Interval
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	last := "none"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, probe.URL, nil)
		if err != nil {
			return fmt.Errorf("cannot build request for %s: %w", probe.URL, err)
		}
		req.Header = probe.Header.Clone()
		resp, err := client.Do(req)
		if err == nil {
			accepted := ok(resp)
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if accepted {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else if ctx.Err() == nil || last == "none" {
			// A request cut short by ctx says less than the answer before.
			last = err.Error()
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited during startup (%v); its log:\n%s", p.name, p.waitErr, p.log.Tail(logTail))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s (last answer: %s): %w; its log:\n%s",
				p.name, probe.URL, last, context.Cause(ctx), p.log.Tail(logTail))
		case <-tick.C:
		}
	}
}
