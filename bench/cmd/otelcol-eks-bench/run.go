package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-eks/otelcol-eks/test/harness/loopback"

	"github.com/otelcol-eks/otelcol-eks/bench/internal/procstat"
	"github.com/otelcol-eks/otelcol-eks/bench/internal/rwsink"
	"github.com/otelcol-eks/otelcol-eks/bench/internal/subject"
	"github.com/otelcol-eks/otelcol-eks/test/harness/synthtarget"
)

// runResult is what one run of one subject measured. Every rate is over
// the measurement window; see measure.
type runResult struct {
	Round   int
	Subject string
	Started time.Time
	Load1   [2]float64 // 1-minute load average at the window's start and end

	Window       time.Duration
	Scrapes      int   // scrapes served in the window (all targets)
	Served       int64 // synthetic samples those scrapes held
	Delivered    int64 // of those, samples received by the sink (at most the served count per scrape)
	Missing      int64 // served but not received by the end of the drain
	Extra        int64 // received more than once
	ActiveSeries int   // synthetic series per scrape round (targets × label sets × 7)
	Series       int   // distinct series received during the run (synthetic, up, scrape_*, target_info)

	CPU         time.Duration // utime+stime in the window
	RSSMedian   int64         // median VmRSS sampled every second in the window
	RSSMax      int64         // largest VmRSS sample in the window
	HWM         int64         // VmHWM at the window's end: peak since start
	WireBytes   int64         // compressed bytes received in the window
	WireSamples int64         // samples (all series; a native histogram is one) received in the window
	// Freshness is, for the delivered samples of the window's scrapes,
	// the time from the target's answer to the arrival at the sink.
	Freshness      rwsink.Freshness
	Rejected       int64
	Unsigned       int64 // accepted unsigned requests (Prometheus only)
	Unattributed   int64
	Profiled       bool
	Err            string
	DrainTook      time.Duration
	LogPath        string
	RejectionsSeen map[string]int
}

// CPUPerMillion is CPU seconds per million served samples.
func (r runResult) CPUPerMillion() float64 {
	return r.CPU.Seconds() / (float64(r.Served) / 1e6)
}

// FreshnessP50, FreshnessP99 and FreshnessMax are in milliseconds.
func (r runResult) FreshnessP50() float64 { return ms(r.Freshness.P50) }
func (r runResult) FreshnessP99() float64 { return ms(r.Freshness.P99) }
func (r runResult) FreshnessMax() float64 { return ms(r.Freshness.Max) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// SamplesPerCoreSecond is served samples per CPU second.
func (r runResult) SamplesPerCoreSecond() float64 { return float64(r.Served) / r.CPU.Seconds() }

// RSSPer100K is the steady (median) RSS in MiB per 100 K active series.
func (r runResult) RSSPer100K() float64 { return mib(r.RSSMedian) / (float64(r.ActiveSeries) / 1e5) }

// HWMPer100K is the peak RSS in MiB per 100 K active series.
func (r runResult) HWMPer100K() float64 { return mib(r.HWM) / (float64(r.ActiveSeries) / 1e5) }

// BytesPerSample is wire bytes per sample received.
func (r runResult) BytesPerSample() float64 { return float64(r.WireBytes) / float64(r.WireSamples) }

// Complete reports whether every served sample arrived exactly once.
func (r runResult) Complete() bool {
	return r.Err == "" && r.Served > 0 && r.Missing == 0 && r.Extra == 0 && r.Rejected == 0 && r.Unattributed == 0
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// bench holds what every run shares.
type bench struct {
	opts       options
	targets    *synthtarget.Set
	sink       *rwsink.Sink
	sinkURL    string // ends in '/', like an AMP workspace URL
	kubeconfig string
	workDir    string
}

// runOnce starts s, waits for the warm-up, measures one window, drains,
// stops s, and returns what it measured. An error means the run could not
// be measured at all; a measured run with losses has Complete() false.
func (b *bench) runOnce(ctx context.Context, round int, s subjectSpec) (runResult, error) {
	res := runResult{Round: round, Subject: s.Label, Started: time.Now()}
	res.ActiveSeries = b.opts.activeSeries()
	b.sink.Reset()
	// Debian's Prometheus 2.42 sends remote writes unsigned even with a
	// sigv4 block (checked against a header-dumping server); otelcol-eks
	// must sign every request.
	b.sink.AllowUnsigned(s.Prometheus)

	dir, err := os.MkdirTemp(b.workDir, fmt.Sprintf("run-%d-%s-", round, s.Label))
	if err != nil {
		return res, fmt.Errorf("cannot create run directory: %w", err)
	}
	defer os.RemoveAll(filepath.Join(dir, "state"))
	spec, pprofURL, err := b.processSpec(s, dir)
	if err != nil {
		return res, err
	}
	res.LogPath = spec.LogPath

	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	proc, err := subject.Start(startCtx, spec)
	cancel()
	if err != nil {
		return res, fmt.Errorf("cannot start %s: %w", s.Label, err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = proc.Stop(10 * time.Second)
		}
	}()
	pid := proc.Pid()

	if err := sleepCtx(ctx, proc, time.Until(res.Started.Add(b.opts.warmup))); err != nil {
		return res, fmt.Errorf("%s during warm-up: %w", s.Label, err)
	}

	// The window: CPU, memory and wire counters read at both ends; RSS
	// sampled every second in between. The sink's window (its start and
	// end) decides which scrapes are the window's, here and for freshness.
	t1 := b.sink.StartWindow()
	res.Load1[0], _ = procstat.LoadAvg()
	cpu1, err := procstat.CPU(pid)
	if err != nil {
		return res, err
	}
	c1 := b.sink.Counters()
	var profErr chan error
	if b.opts.pprofDir != "" && round == 1 && pprofURL != "" {
		res.Profiled = true
		profErr = make(chan error, 1)
		secs := int(min(b.opts.window-5*time.Second, 60*time.Second) / time.Second)
		go func() {
			profErr <- fetch(ctx, pprofURL+"/debug/pprof/profile?seconds="+strconv.Itoa(secs), filepath.Join(b.opts.pprofDir, s.Label+".cpu.pb.gz"))
		}()
	}
	var rss []int64
	tick := time.NewTicker(time.Second)
	t2 := t1.Add(b.opts.window)
	for time.Now().Before(t2) {
		select {
		case <-ctx.Done():
			tick.Stop()
			return res, ctx.Err()
		case <-proc.Exited():
			tick.Stop()
			return res, fmt.Errorf("%s exited during the window: %v; log: %s", s.Label, proc.Err(), spec.LogPath)
		case <-tick.C:
			if m, err := procstat.Mem(pid); err == nil {
				rss = append(rss, m.RSS)
			}
		}
	}
	tick.Stop()
	cpu2, err := procstat.CPU(pid)
	if err != nil {
		return res, err
	}
	mem, err := procstat.Mem(pid)
	if err != nil {
		return res, err
	}
	c2 := b.sink.Counters()
	t2 = b.sink.EndWindow()
	res.Load1[1], _ = procstat.LoadAvg()
	res.Window = t2.Sub(t1)
	res.CPU = cpu2 - cpu1
	res.HWM = mem.HWM
	slices.Sort(rss)
	if len(rss) > 0 {
		res.RSSMedian, res.RSSMax = rss[len(rss)/2], rss[len(rss)-1]
	}
	res.WireBytes = c2.WireBytes - c1.WireBytes
	res.WireSamples = c2.Samples + c2.Histograms - c1.Samples - c1.Histograms
	if profErr != nil {
		if err := <-profErr; err != nil {
			fmt.Fprintf(os.Stderr, "bench: cpu profile of %s: %v\n", s.Label, err)
		}
		for _, kind := range []string{"allocs", "heap"} {
			if err := fetch(ctx, pprofURL+"/debug/pprof/"+kind, filepath.Join(b.opts.pprofDir, s.Label+"."+kind+".pb.gz")); err != nil {
				fmt.Fprintf(os.Stderr, "bench: %s profile of %s: %v\n", kind, s.Label, err)
			}
		}
	}

	// The scrapes of the window are those the targets answered in it;
	// their samples must all arrive, each once.
	var want []rwsink.Scrape
	var wantN []int
	for _, t := range b.targets.Targets() {
		for _, sc := range t.Served() {
			if !sc.At.Before(t1) && sc.At.Before(t2) {
				want = append(want, rwsink.Scrape{Target: t.Index(), Seq: sc.Seq})
				wantN = append(wantN, sc.Samples)
				res.Served += int64(sc.Samples)
			}
		}
	}
	res.Scrapes = len(want)
	drainStart := time.Now()
	drainEnd := drainStart.Add(b.opts.drain)
	for {
		got := b.sink.Delivered(want)
		res.Delivered, res.Missing, res.Extra = 0, 0, 0
		for i, n := range got {
			res.Delivered += int64(min(n, wantN[i]))
			res.Missing += int64(max(wantN[i]-n, 0))
			res.Extra += int64(max(n-wantN[i], 0))
		}
		if res.Missing == 0 || time.Now().After(drainEnd) {
			break
		}
		if err := sleepCtx(ctx, proc, 250*time.Millisecond); err != nil {
			return res, fmt.Errorf("%s while draining: %w", s.Label, err)
		}
	}
	res.DrainTook = time.Since(drainStart)
	res.Freshness = b.sink.Freshness()
	end := b.sink.Counters()
	res.Series = b.sink.Series()
	res.Rejected = end.Rejected
	res.Unsigned = end.Unsigned
	res.Unattributed = end.Unattributed
	res.RejectionsSeen = b.sink.RejectReasons()

	stopped = true
	if err := proc.Stop(30 * time.Second); err != nil {
		res.Err = fmt.Sprintf("stop: %v", err)
	}
	return res, nil
}

// processSpec turns a subject into a command line and environment: free
// loopback ports, the run's state directory, the sink, the targets.
func (b *bench) processSpec(s subjectSpec, dir string) (subject.Spec, string, error) {
	ports, err := loopback.FreePorts(3)
	if err != nil {
		return subject.Spec{}, "", err
	}
	targets := make([]string, 0, len(b.targets.Addrs()))
	for _, a := range b.targets.Addrs() {
		targets = append(targets, strconv.Quote(a))
	}
	vars := map[string]string{
		"BENCH_TARGETS":         "[" + strings.Join(targets, ", ") + "]",
		"BENCH_INTERVAL":        b.opts.interval.String(),
		"BENCH_HEALTH":          "127.0.0.1:" + strconv.Itoa(ports[0]),
		"BENCH_PPROF":           "127.0.0.1:" + strconv.Itoa(ports[1]),
		"BENCH_METRICS_PORT":    strconv.Itoa(ports[2]),
		"AMP_ENDPOINT":          b.sinkURL,
		"EKS_CLUSTER_NAME":      "bench",
		"AWS_ACCOUNT_ID":        "012345678901",
		"AWS_REGION":            benchRegion,
		"AWS_ACCESS_KEY_ID":     benchCreds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY": benchCreds.SecretAccessKey,
		// sigv4auth resolves credentials through the SDK chain: never ask
		// the instance metadata service.
		"AWS_EC2_METADATA_DISABLED": "true",
		"OTELCOL_STORAGE_DIR":       filepath.Join(dir, "state"),
		"KUBECONFIG":                b.kubeconfig,
	}
	env := make([]string, 0, len(vars)+len(s.Env))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	env = append(env, s.Env...)
	spec := subject.Spec{Env: env, Dir: dir, LogPath: filepath.Join(dir, "out.log")}

	if s.Prometheus {
		tmpl, err := os.ReadFile(s.Configs[0])
		if err != nil {
			return subject.Spec{}, "", fmt.Errorf("cannot read %s: %w", s.Configs[0], err)
		}
		var missing []string
		cfg := os.Expand(string(tmpl), func(k string) string {
			v, ok := vars[k]
			if !ok {
				missing = append(missing, k)
			}
			return v
		})
		if len(missing) > 0 {
			return subject.Spec{}, "", fmt.Errorf("%s uses unknown variables %v", s.Configs[0], missing)
		}
		cfgPath := filepath.Join(dir, "prometheus.yml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			return subject.Spec{}, "", fmt.Errorf("cannot write prometheus config: %w", err)
		}
		addr := vars["BENCH_HEALTH"]
		spec.Path = b.opts.prometheus
		spec.Args = append([]string{
			"--enable-feature=agent",
			"--config.file=" + cfgPath,
			"--storage.agent.path=" + filepath.Join(dir, "state", "agent"),
			"--web.listen-address=" + addr,
		}, s.Args...)
		spec.ReadyURL = "http://" + addr + "/-/ready"
		return spec, "http://" + addr, nil
	}
	spec.Path = b.opts.collector
	for _, c := range s.Configs {
		abs, err := filepath.Abs(c)
		if err != nil {
			return subject.Spec{}, "", fmt.Errorf("cannot resolve %s: %w", c, err)
		}
		spec.Args = append(spec.Args, "--config", abs)
	}
	spec.Args = append(spec.Args, s.Args...)
	spec.ReadyURL = "http://" + vars["BENCH_HEALTH"] + "/"
	return spec, "http://" + vars["BENCH_PPROF"], nil
}

// sleepCtx waits d, failing early when ctx ends or the process exits.
func sleepCtx(ctx context.Context, proc *subject.Process, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-proc.Exited():
		return fmt.Errorf("process exited: %v", proc.Err())
	}
}

// fetch GETs url into the file path (pprof profiles).
func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("cannot build request for %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot get %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("cannot get %s: HTTP %d: %s", url, resp.StatusCode, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cannot create %s: %w", path, err)
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}
