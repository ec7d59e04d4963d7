// Command otelcol-eks-bench is the side-by-side load benchmark behind
// `make bench`: bin/otelcol-eks (the workshop pipeline with and without
// k8smeta) against Prometheus in agent mode, on the same synthetic targets,
// interval and SigV4-verifying sink, in alternating runs (A B C A B C …) so
// that the shared machine's drift hits every subject alike. It writes its
// tables into a marked section of bench/RESULTS.md and leaves the rest of
// the file (the analysis) as it is.
//
// Per run it measures, over a window after a warm-up:
//   - samples served by the targets in the window, and how many of those
//     arrived at the sink (attributed to their scrape by value; each must
//     arrive exactly once),
//   - CPU seconds per million samples (utime+stime from /proc),
//   - steady (median) and peak (VmHWM) RSS per 100 K active series,
//   - bytes per sample on the wire (compressed request bodies),
//   - freshness: for every delivered sample of the window's scrapes, the
//     time from the target's answer to the sample's arrival at the sink
//     (p50, p99, max).
//
// Run from the repository root:
//
//	go run ./bench/cmd/otelcol-eks-bench                  # 100 K series, ~15 min
//	go run ./bench/cmd/otelcol-eks-bench -series 500000
//	go run ./bench/cmd/otelcol-eks-bench -section tune-gogc -subject 'a:...' -subject 'b:...+GOGC=200'
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/otelcol-eks/otelcol-eks/bench/internal/rwsink"
	"github.com/otelcol-eks/otelcol-eks/test/harness/sigv4check"
	"github.com/otelcol-eks/otelcol-eks/test/harness/synthtarget"
)

// The sink accepts only these (test) credentials for this region and
// service "aps", as one AMP workspace would.
const benchRegion = "us-west-2"

var benchCreds = aws.Credentials{AccessKeyID: "AKIDOTELCOLEKSBENCH", SecretAccessKey: "otelcol-eks-bench-secret"}

type options struct {
	series, targets, labelSets, rounds int
	// sinkLatency delays every answer of the sink.
	sinkLatency time.Duration
	// synth is what the targets serve besides their number and label
	// sets: the protobuf exposition and a share of native histograms.
	synth                           synthtarget.Config
	interval, warmup, window, drain time.Duration
	subjects                        []subjectSpec
	baseline                        string
	collector, prometheus           string
	out, section, workDir, pprofDir string
}

type subjectFlags []string

func (s *subjectFlags) String() string     { return strings.Join(*s, " ") }
func (s *subjectFlags) Set(v string) error { *s = append(*s, v); return nil }

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("otelcol-eks-bench", flag.ContinueOnError)
	var o options
	var subjects subjectFlags
	fs.IntVar(&o.series, "series", 100_000, "active synthetic series (rounded up to targets × label sets × 7)")
	fs.IntVar(&o.targets, "targets", 100, "synthetic targets (pods), each on its own loopback port")
	fs.IntVar(&o.rounds, "rounds", 2, "rounds; each runs every subject once, in order")
	fs.DurationVar(&o.interval, "interval", 10*time.Second, "scrape interval")
	fs.DurationVar(&o.warmup, "warmup", 30*time.Second, "from start to the measurement window")
	fs.DurationVar(&o.window, "window", 90*time.Second, "measurement window")
	fs.DurationVar(&o.drain, "drain", 45*time.Second, "longest wait after the window for its samples to arrive")
	fs.Var(&subjects, "subject", "label:config.yaml[+overlay.yaml][+KEY=VALUE][+--flag] (repeatable; default: the five subjects of bench/README.md)")
	fs.StringVar(&o.baseline, "baseline", "prometheus-agent", "subject label the ratios are against (the first subject when absent)")
	fs.StringVar(&o.collector, "collector", "bin/otelcol-eks", "the otelcol-eks binary")
	fs.StringVar(&o.prometheus, "prometheus", "", "the prometheus binary (default: prometheus on PATH)")
	fs.StringVar(&o.out, "out", "bench/RESULTS.md", "results file; only the section's marked block is rewritten")
	fs.StringVar(&o.section, "section", "", "name of the results block (default: <series/1000>k)")
	fs.StringVar(&o.workDir, "workdir", "bench/out", "logs and per-run state")
	fs.StringVar(&o.pprofDir, "pprof", "", "if set, save CPU, allocs and heap profiles of each subject's first run here")
	fs.DurationVar(&o.sinkLatency, "sink-latency", 0, "time the sink adds to every answer, like a backend across a network (AMP answers in tens of ms)")
	fs.Func("native-histograms", "share (0 to 1) of label sets whose histogram is native instead of classic; when set, even to 0, targets answer in the protobuf exposition when asked, as client libraries do (Prometheus agent then needs +--enable-feature=native-histograms)", func(v string) error {
		share, err := strconv.ParseFloat(v, 64)
		if err != nil || !(share >= 0 && share <= 1) {
			return fmt.Errorf("want a share between 0 and 1, got %q", v)
		}
		o.synth.Protobuf, o.synth.NativeHistograms = true, share
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if len(subjects) == 0 {
		subjects = defaultSubjects
	}
	for _, s := range subjects {
		spec, err := parseSubject(s)
		if err != nil {
			return o, err
		}
		o.subjects = append(o.subjects, spec)
	}
	if o.series < 1 || o.targets < 1 || o.rounds < 1 {
		return o, errors.New("-series, -targets and -rounds must be positive")
	}
	if o.interval <= 0 || o.window < 2*o.interval || o.warmup < o.interval {
		return o, fmt.Errorf("need -window ≥ 2 × -interval and -warmup ≥ -interval (got window %s, warm-up %s, interval %s)", o.window, o.warmup, o.interval)
	}
	// Subjects run in their own directory: make the binaries absolute.
	// (and the work directory, which holds their configs and kubeconfig).
	for _, p := range []*string{&o.collector, &o.prometheus, &o.workDir} {
		if *p != "" && (strings.Contains(*p, "/") || p == &o.workDir) {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return o, fmt.Errorf("cannot resolve %s: %w", *p, err)
			}
			*p = abs
		}
	}
	per := o.targets * synthtarget.SamplesPerLabelSet
	o.labelSets = (o.series + per - 1) / per
	if o.section == "" {
		o.section = fmt.Sprintf("%dk", o.series/1000)
	}
	if o.prometheus == "" {
		p, err := exec.LookPath("prometheus")
		if err != nil && needsPrometheus(o.subjects) {
			return o, errors.New("prometheus is not on PATH: install it with `apt-get install -y prometheus` (make ensure-prometheus)")
		}
		o.prometheus = p
	}
	return o, nil
}

// activeSeries is the number of synthetic series every scrape round
// serves (a native histogram is one).
func (o options) activeSeries() int { return o.targets * o.synth.Samples(o.labelSets) }

func needsPrometheus(ss []subjectSpec) bool {
	for _, s := range ss {
		if s.Prometheus {
			return true
		}
	}
	return false
}

func main() {
	opts, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "otelcol-eks-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "otelcol-eks-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	began := time.Now()
	perRun := o.warmup + o.window + 10*time.Second
	fmt.Printf("bench: %d targets × %d label sets = %d series every %s; %d subjects × %d rounds, about %s\n",
		o.targets, o.labelSets, o.activeSeries(), o.interval,
		len(o.subjects), o.rounds, (time.Duration(len(o.subjects)*o.rounds) * perRun).Round(time.Minute))
	if err := os.MkdirAll(o.workDir, 0o755); err != nil {
		return fmt.Errorf("cannot create work directory: %w", err)
	}
	if o.pprofDir != "" {
		if err := os.MkdirAll(o.pprofDir, 0o755); err != nil {
			return fmt.Errorf("cannot create profile directory: %w", err)
		}
	}
	workDir, err := os.MkdirTemp(o.workDir, "bench-"+time.Now().Format("20060102-150405")+"-")
	if err != nil {
		return fmt.Errorf("cannot create work directory: %w", err)
	}

	synth := o.synth
	synth.Targets, synth.LabelSets = o.targets, o.labelSets
	targets, err := synthtarget.Start(synth)
	if err != nil {
		return err
	}
	defer targets.Close()
	sink := rwsink.New(&sigv4check.Verifier{Credentials: benchCreds, Region: benchRegion, Service: "aps"}, targets.Targets())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("cannot listen for the sink: %w", err)
	}
	sinkSrv := &http.Server{Handler: withLatency(sink, o.sinkLatency), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = sinkSrv.Serve(ln) }()
	defer sinkSrv.Close()

	b := &bench{opts: o, targets: targets, sink: sink, workDir: workDir,
		sinkURL: "http://" + ln.Addr().String() + "/workspaces/ws-bench/"}
	for _, s := range o.subjects {
		if !s.Prometheus {
			fmt.Println("bench: starting kube-apiserver with a pod per target")
			cluster, kubeconfig, err := startCluster(ctx, targets, "synth", workDir)
			if err != nil {
				return err
			}
			defer cluster.Stop()
			b.kubeconfig = kubeconfig
			break
		}
	}

	var results []runResult
	for round := 1; round <= o.rounds; round++ {
		for _, s := range o.subjects {
			r, err := b.runOnce(ctx, round, s)
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				r.Err = err.Error()
			}
			results = append(results, r)
			fmt.Println("bench:", r.summary())
		}
	}
	env := describeMachine(o)
	env.took = time.Since(began)
	if err := writeResults(o, env, results); err != nil {
		return err
	}
	fmt.Printf("bench: results in %s (section %q), logs in %s, took %s\n", o.out, o.section, workDir, env.took.Round(time.Second))
	for _, r := range results {
		if !r.Complete() {
			return fmt.Errorf("run %d of %s did not deliver every sample exactly once (or failed): %s", r.Round, r.Subject, r.summary())
		}
	}
	return nil
}

// withLatency answers every request of next latency later, as a backend
// across a network does; the request is read and counted first.
func withLatency(next http.Handler, latency time.Duration) http.Handler {
	if latency <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&delayedWriter{ResponseWriter: w, latency: latency}, r)
	})
}

// delayedWriter holds the status line back by latency.
type delayedWriter struct {
	http.ResponseWriter
	latency time.Duration
	delayed bool
}

func (d *delayedWriter) WriteHeader(code int) {
	if !d.delayed {
		d.delayed = true
		time.Sleep(d.latency)
	}
	d.ResponseWriter.WriteHeader(code)
}

func (d *delayedWriter) Write(b []byte) (int, error) {
	if !d.delayed {
		d.WriteHeader(http.StatusOK)
	}
	return d.ResponseWriter.Write(b)
}
