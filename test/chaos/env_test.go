//go:build chaos

package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-eks/otelcol-eks/test/harness/ampstandin"
	"github.com/otelcol-eks/otelcol-eks/test/harness/faultproxy"
	"github.com/otelcol-eks/otelcol-eks/test/harness/synthtarget"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/childproc"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/promserver"
)

// outageLength is ci, or long with CHAOS_LONG=1, or CHAOS_OUTAGE (a Go
// duration) when set, for trying a scenario quickly by hand.
func outageLength(t testing.TB, ci, long time.Duration) time.Duration {
	t.Helper()
	if v := os.Getenv("CHAOS_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, "CHAOS_OUTAGE")
		return d
	}
	if os.Getenv("CHAOS_LONG") == "1" {
		return long
	}
	return ci
}

// ampMaxDecodedBytes is the request size the fault proxy accepts, like
// AMP's limit on a remote-write request; larger requests are answered 413.
const ampMaxDecodedBytes = 1 << 20

// backend is the receiving side: fault proxy -> AMP stand-in -> Prometheus,
// or AMP stand-in -> fault proxy -> Prometheus (backendOptions).
type backend struct {
	prom    *promserver.Server
	standin *ampstandin.Proxy
	fault   *faultproxy.Proxy
	// front is the base URL the collector sends to.
	front string
}

// backendOptions vary the receiving side; the zero value is AMP as the
// collector meets it.
type backendOptions struct {
	// MaxSkew is how old a signature the stand-in accepts; 0 means AWS's
	// 5 minutes.
	MaxSkew time.Duration
	// FaultBehindStandin puts the fault proxy between the stand-in and
	// Prometheus: the stand-in then verifies the signature of every
	// attempt, those a fault answers included (an outage answers 502).
	FaultBehindStandin bool
	// Credentials are the only ones the stand-in accepts until
	// standin.SetCredentials; zero means the collector's.
	Credentials aws.Credentials
	// HA turns on the stand-in's deduplication of HA pairs (ha_test.go).
	HA ampstandin.HAConfig
}

// collectorCredentials are the credentials every collector of the suite
// signs with.
var collectorCredentials = aws.Credentials{AccessKeyID: testAccessKeyID, SecretAccessKey: testSecretKey, SessionToken: testSessionToken}

// startBackendWith starts Prometheus, the stand-in and the fault proxy as
// opts says, all stopped when t ends.
func startBackendWith(t testing.TB, opts backendOptions) *backend {
	t.Helper()
	promLog := newCapture("prometheus " + t.Name())
	prom := promserver.StartForTest(t, promserver.Options{Output: promLog})
	b := &backend{prom: prom}
	standinUpstream := prom.RemoteWriteURL()
	if opts.FaultBehindStandin {
		b.fault = startFaultProxy(t, prom.URL())
		standinUpstream = b.fault.URL() + ampstandin.PrometheusWritePathSuffix
	}
	creds := opts.Credentials
	if creds == (aws.Credentials{}) {
		creds = collectorCredentials
	}
	standinLog := newCapture("standin " + t.Name())
	standin, err := ampstandin.New(ampstandin.Config{
		Upstream:    standinUpstream,
		Credentials: creds,
		Region:      testRegion,
		MaxSkew:     opts.MaxSkew,
		Logger:      slog.New(slog.NewTextHandler(standinLog, nil)),
		HA:          opts.HA,
	})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: standin, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	b.standin = standin
	b.front = "http://" + ln.Addr().String()
	if !opts.FaultBehindStandin {
		b.fault = startFaultProxy(t, b.front)
		b.front = b.fault.URL()
	}
	return b
}

// startFaultProxy starts a fault proxy in front of upstream, closed when t
// ends.
func startFaultProxy(t testing.TB, upstream string) *faultproxy.Proxy {
	t.Helper()
	fp, err := faultproxy.Start(faultproxy.Config{Upstream: upstream, MaxDecodedBytes: ampMaxDecodedBytes})
	require.NoError(t, err)
	t.Cleanup(func() { _ = fp.Close() })
	return fp
}

// ampEndpoint is the workspace URL the collector is given, ending in '/'
// as AMP's console shows it.
func (b *backend) ampEndpoint() string {
	return b.front + "/workspaces/" + testWorkspace + "/"
}

func (b *backend) set(t testing.TB, f faultproxy.Fault) {
	t.Helper()
	require.NoError(t, b.fault.Set(f))
	t.Logf("%s backend fault: %s", time.Now().Format("15:04:05.000"), f)
}

// promHealth is what Prometheus says about the samples it was sent.
type promHealth struct {
	// OutOfOrder counts samples refused as older than the newest of their
	// series; with the stand-in's out-of-order window (AMP's 60 s), only
	// those older than that window, which count as TooOld instead.
	OutOfOrder, OutOfBounds, TooOld float64
	// OutOfOrderAccepted counts samples accepted within the out-of-order
	// window: requests in flight together arrived out of order.
	OutOfOrderAccepted float64
	// WriteRejected counts the remote-write receiver's 4xx and 5xx answers.
	WriteRejected float64
}

func (b *backend) health(t testing.TB) promHealth {
	t.Helper()
	fams, err := scrapeFamilies(b.prom.URL() + "/metrics")
	require.NoError(t, err)
	var h promHealth
	sum := func(name string) float64 {
		var v float64
		for _, m := range fams[name].GetMetric() {
			v += m.GetCounter().GetValue()
		}
		return v
	}
	h.OutOfOrder = sum("prometheus_tsdb_out_of_order_samples_total")
	h.OutOfBounds = sum("prometheus_tsdb_out_of_bound_samples_total")
	h.TooOld = sum("prometheus_tsdb_too_old_samples_total")
	h.OutOfOrderAccepted = sum("prometheus_tsdb_head_out_of_order_samples_appended_total")
	for _, m := range fams["prometheus_http_requests_total"].GetMetric() {
		var handler, code string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "handler":
				handler = l.GetValue()
			case "code":
				code = l.GetValue()
			}
		}
		if handler == "/api/v1/write" && code != "" && code[0] >= '4' {
			h.WriteRejected += m.GetCounter().GetValue()
		}
	}
	return h
}

// requireClean asserts Prometheus rejected nothing it was sent.
func (b *backend) requireClean(t testing.TB) {
	t.Helper()
	h := b.health(t)
	t.Logf("prometheus: out-of-order %v, out-of-bounds %v, too-old %v, remote-write rejections %v; accepted within the out-of-order window %v",
		h.OutOfOrder, h.OutOfBounds, h.TooOld, h.WriteRejected, h.OutOfOrderAccepted)
	require.Zero(t, h.OutOfOrder, "out-of-order samples")
	require.Zero(t, h.OutOfBounds, "out-of-bounds samples")
	require.Zero(t, h.TooOld, "too-old samples")
	require.Zero(t, h.WriteRejected, "remote-write requests Prometheus rejected")
}

// rawSamples reads back every stored sample of the synthetic series.
func (b *backend) rawSamples(ctx context.Context) (model.Matrix, error) {
	q := url.Values{"query": {`{__name__=~"synth_.+",job="synth"}[2h]`}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.prom.URL()+"/api/v1/query?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("cannot build query: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot query prometheus: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     model.Matrix `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("cannot decode query answer: %w", err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query failed: %s", body.Error)
	}
	return body.Data.Result, nil
}

// served is a frozen copy of what the targets served.
type served struct {
	// byPod maps a pod label to its target's scrapes.
	byPod map[string][]synthtarget.Scrape
}

func snapshot(ts *synthtarget.Set) served {
	s := served{byPod: map[string][]synthtarget.Scrape{}}
	for _, t := range ts.Targets() {
		s.byPod[t.Pod()] = t.Served()
	}
	return s
}

func (s served) samples() int64 {
	var n int64
	for _, scrapes := range s.byPod {
		for _, sc := range scrapes {
			n += int64(sc.LabelSets) * synthtarget.SamplesPerLabelSet
		}
	}
	return n
}

// tally compares served samples with stored ones.
type tally struct {
	Served, Stored int64
	// Missing lists (pod, seq) scrapes with fewer samples stored than served.
	Missing []missingScrape
	// Duplicates counts stored samples whose series already held a sample
	// of the same scrape; Unknown counts stored samples of scrapes never served.
	Duplicates, Unknown int64
}

// scrapeKey names one scrape of one synthetic target.
type scrapeKey struct {
	pod string
	seq int64
}

type missingScrape struct {
	Pod           string
	Seq           int64
	At            time.Time
	Served, Found int
}

func (m missingScrape) String() string {
	return fmt.Sprintf("%s#%d@%s %d/%d", m.Pod, m.Seq, m.At.Format("15:04:05.000"), m.Found, m.Served)
}

func (tl tally) String() string {
	return fmt.Sprintf("served %d samples, stored %d, missing %d (in %d scrapes), duplicates %d, unknown %d",
		tl.Served, tl.Stored, tl.Served-tl.Stored+tl.Duplicates+tl.Unknown, len(tl.Missing), tl.Duplicates, tl.Unknown)
}

// compare matches the stored samples against what s says was served.
// Samples stored from scrapes after the snapshot are ignored.
func compare(s served, stored model.Matrix) tally {
	tl := tally{Served: s.samples()}
	found := map[scrapeKey]int{}
	last := map[string]int64{}
	for pod, scrapes := range s.byPod {
		if len(scrapes) > 0 {
			last[pod] = scrapes[len(scrapes)-1].Seq
		}
	}
	for _, ss := range stored {
		pod := string(ss.Metric["pod"])
		name := string(ss.Metric[model.MetricNameLabel])
		le := string(ss.Metric["le"])
		seen := map[int64]bool{}
		for _, v := range ss.Values {
			seq, ok := synthtarget.SeqOf(name, le, float64(v.Value))
			if !ok {
				tl.Unknown++
				continue
			}
			if seq > last[pod] {
				continue // scraped after the snapshot
			}
			if seen[seq] {
				tl.Duplicates++
				continue
			}
			seen[seq] = true
			found[scrapeKey{pod, seq}]++
			tl.Stored++
		}
	}
	for pod, scrapes := range s.byPod {
		for _, sc := range scrapes {
			want := sc.LabelSets * synthtarget.SamplesPerLabelSet
			if got := found[scrapeKey{pod, sc.Seq}]; got < want {
				tl.Missing = append(tl.Missing, missingScrape{Pod: pod, Seq: sc.Seq, At: sc.At, Served: want, Found: got})
			}
		}
	}
	sort.Slice(tl.Missing, func(i, j int) bool { return tl.Missing[i].At.Before(tl.Missing[j].At) })
	return tl
}

// waitDelivered polls Prometheus until every sample in s is stored (or
// every scrape still missing is one lost() accepts) or timeout passes, and
// returns the last tally.
func (b *backend) waitDelivered(t testing.TB, s served, timeout time.Duration, lost func(missingScrape) bool) tally {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var tl tally
	for {
		m, err := b.rawSamples(ctx)
		if err == nil {
			tl = compare(s, m)
			done := true
			for _, ms := range tl.Missing {
				done = done && lost != nil && lost(ms)
			}
			if done {
				return tl
			}
		}
		select {
		case <-ctx.Done():
			return tl
		case <-time.After(time.Second):
		}
	}
}

// summarize formats the first missing scrapes for a failure message.
func (tl tally) summarize(n int) string {
	var parts []string
	for i, m := range tl.Missing {
		if i == n {
			parts = append(parts, fmt.Sprintf("… %d more", len(tl.Missing)-n))
			break
		}
		parts = append(parts, m.String())
	}
	return strings.Join(parts, ", ")
}

// startTargets starts T targets × S label sets, closed when t ends.
func startTargets(t testing.TB, targets, labelSets int) *synthtarget.Set {
	t.Helper()
	ts, err := synthtarget.Start(synthtarget.Config{Targets: targets, LabelSets: labelSets})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ts.Close() })
	return ts
}

// waitFor polls cond every 200ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// runFor lets the pipeline run for d while checking the collector stays up.
func runFor(t testing.TB, c *collector, d time.Duration) {
	t.Helper()
	select {
	case <-c.Exited():
		t.Fatalf("collector exited: %v\n%s", c.Err(), c.Tail(6000))
	case <-time.After(d):
	}
}

// scenario is one test's pipeline: synthetic targets, scraped by a
// collector that delivers to a backend.
type scenario struct {
	b  *backend
	ts *synthtarget.Set
	// c is the collector running now.
	c *collector
	// dir is the test's directory (configurations, HOME); storage is the
	// collector's storage directory, kept across restarts.
	dir, storage string
	spec         collectorSpec
}

// startScenario starts a backend (opts), targets × labelSets synthetic
// targets and a collector for spec scraping them, and returns once every
// target's first samples are stored, so that a fault starts on a pipeline
// known to deliver. The storage directory is the test's directory, or a
// directory in it for a tmpfs (spec.TmpfsStorage) to be mounted on.
func startScenario(t testing.TB, opts backendOptions, targets, labelSets int, spec collectorSpec) *scenario {
	t.Helper()
	s := &scenario{b: startBackendWith(t, opts), ts: startTargets(t, targets, labelSets), dir: t.TempDir()}
	s.storage = s.dir
	if spec.TmpfsStorage != "" {
		s.storage = filepath.Join(s.dir, "storage")
		require.NoError(t, os.Mkdir(s.storage, 0o750))
		spec.mountNamespace = holdTmpfs(t, spec.TmpfsStorage, s.storage)
	}
	spec.Targets = s.ts.Addrs()
	s.spec = spec
	s.restart(t)
	s.b.waitFirstDelivery(t, s.ts)
	return s
}

// holdTmpfs mounts a tmpfs of size over dir in a private mount namespace,
// held by a process that lives until the test ends (or the test binary
// dies: its death signal), and returns that namespace for nsenter(1). The
// host's mounts never change.
func holdTmpfs(t testing.TB, size, dir string) string {
	t.Helper()
	holder, err := childproc.Start(childproc.Config{
		Name: "tmpfs holder", Path: "/usr/bin/unshare",
		Args: []string{"--mount", "--propagation", "private", "--", "/bin/sh", "-c",
			`mount -t tmpfs -o "size=$1" otelcol-storage "$2" && echo mounted && exec sleep 86400`,
			"sh", size, dir},
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = holder.Signal(syscall.SIGKILL)
		<-holder.Exited()
	})
	waitFor(t, 10*time.Second, "the tmpfs to be mounted", func() bool {
		select {
		case <-holder.Exited():
			t.Fatalf("the tmpfs holder exited (%v): %s", holder.Err(), holder.Log())
		default:
		}
		return strings.Contains(holder.Log(), "mounted")
	})
	return fmt.Sprintf("/proc/%d/ns/mnt", holder.Pid())
}

// restart starts the next collector (after a kill or a stop) on the same
// storage directory, and waits until it is healthy.
func (s *scenario) restart(t testing.TB) *collector {
	t.Helper()
	s.c = startCollector(t, s.dir, s.b.ampEndpoint(), s.storage, s.spec)
	return s.c
}

// waitFirstDelivery waits until Prometheus holds samples of every target,
// so that a fault starts on a pipeline known to deliver.
func (b *backend) waitFirstDelivery(t testing.TB, ts *synthtarget.Set) {
	t.Helper()
	waitFor(t, time.Minute, "first samples of every target in Prometheus", func() bool {
		m, err := b.rawSamples(context.Background())
		if err != nil {
			return false
		}
		pods := map[string]bool{}
		for _, ss := range m {
			pods[string(ss.Metric["pod"])] = true
		}
		return len(pods) == len(ts.Targets())
	})
}
