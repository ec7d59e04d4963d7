package main

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/otelcol"

	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor"
	"github.com/otelcol-eks/otelcol-eks/test/harness/remotewrite"
	"github.com/otelcol-eks/otelcol-eks/test/harness/sigv4check"
)

// The golden pipeline tests run the whole distribution in-process — the
// factories of the binary, only the k8smeta processor's swapped for one fed
// from testdata — on each case of testdata/pipelines/<case>/:
//
//	config.yaml        the collector config; it names the loopback addresses
//	                   the test fills in: ${env:TARGET_<NAME>} for each
//	                   scrape target, ${env:AMP_ENDPOINT} for the workspace
//	                   URL (ending in '/'), ${env:FILE_SD_DIR} for file SD
//	<name>.prom        an exposition served by the target <name> (the case's
//	                   own, else testdata/pipelines/targets/<name>.prom)
//	<name>.<phase>.prom  another content that the case switches the target to
//	*.json             file SD target files, ${TARGET_<NAME>} expanded,
//	                   written to FILE_SD_DIR
//	k8s.yaml           Kubernetes objects served to k8smeta by client-go fakes
//
// The remote-write requests are received by remotewrite.Recorder, which
// checks every SigV4 signature (service aps, the test credentials), and
// rendered as text compared with testdata/golden/<case>.txt. UPDATE_GOLDEN=1
// (`make golden`) rewrites the golden files.
const (
	pipelinesDir = sharedTestdata + "/pipelines"
	goldenDir    = sharedTestdata + "/golden"
	// phaseTimeout bounds each wait for data. A first phase normally takes
	// about 2 s (two scrapes 1 s apart); a target leaving file SD takes
	// about 5 s (discovery sends updates every 5 s, then the scrape loop
	// waits two intervals before writing staleness markers).
	phaseTimeout = 45 * time.Second
)

// pipelineCase is one directory of testdata/pipelines. Every case first
// waits until each of its targets was scraped at least twice (two `up`
// samples per instance: a scrape's samples travel in one request, so all
// of its series have arrived). A case with a second phase then changes its
// targets and waits for what that provokes.
type pipelineCase struct {
	name string
	// env is set for the case, for the config's ${env:...} references.
	env map[string]string
	// only, if set, limits the golden file to these metric names.
	only []string
	// phase2, if set, runs after the first phase.
	phase2 func(t *testing.T, r *pipelineRun)
	// phase2Done reports when the effects of phase2 are recorded.
	phase2Done func(s remotewrite.Snapshot) bool
	// check, if set, asserts what the golden file cannot show, given the
	// recorded series and their rendering.
	check func(t *testing.T, series []remotewrite.Series, rendered string)
}

func TestPipelineGolden(t *testing.T) {
	cases := []pipelineCase{
		{name: "workshop"},
		{name: "resource_to_telemetry_on"},
		{name: "resource_to_telemetry_off"},
		{name: "target_info", only: []string{"target_info", "up"}},
		{
			name: "external_labels",
			env:  map[string]string{"EKS_CLUSTER_NAME": "eks-workshop", "AWS_ACCOUNT_ID": "012345678901"},
		},
		{name: "histogram_summary"},
		{
			name: "native_histogram",
			// A text-only classic target must not change with native
			// histograms on; the wire form must be integer histograms.
			check: func(t *testing.T, series []remotewrite.Series, rendered string) {
				requireSameJobLines(t, rendered, filepath.Join(goldenDir, "histogram_summary.txt"), "kubelet")
				requireIntegerHistograms(t, series)
			},
		},
		{
			name: "staleness",
			// Three ways series go stale: the orders target stops
			// exposing a product's series, the kubelet target goes down
			// (scrapes fail), and kube-state-metrics disappears from file
			// service discovery (its scrape loop ends).
			phase2: func(t *testing.T, r *pipelineRun) {
				r.targets["orders"].serve(t, filepath.Join(r.dir, "orders.phase2.prom"))
				r.targets["kubelet"].close()
				r.writeFileSD(t, "kube-state-metrics.json", "[]")
			},
			phase2Done: func(s remotewrite.Snapshot) bool {
				var productGone, ksmGone, kubeletDown, kubeletStale bool
				for _, series := range s.Series() {
					switch {
					case series.Name() == "watch_orders_total" && series.Label("productId") == "6d62d909-f957-430e-8689-b5129c0bb75e":
						productGone = lastIsStale(series)
					case series.Name() == "up" && series.Label("job") == "kube-state-metrics":
						ksmGone = lastIsStale(series)
					case series.Name() == "up" && series.Label("job") == "kubelet":
						kubeletDown = hasValue(series, 0)
					case series.Name() == "kubelet_running_pods":
						kubeletStale = lastIsStale(series)
					}
				}
				return productGone && ksmGone && kubeletDown && kubeletStale
			},
		},
	}
	setTestAWSEnvironment(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			got := runPipelineCase(t, tc)
			compareGolden(t, filepath.Join(goldenDir, tc.name+".txt"), got)
			t.Logf("case %s took %s", tc.name, time.Since(start).Round(time.Millisecond))
		})
	}
}

// pipelineRun is the running environment of one case.
type pipelineRun struct {
	dir       string // the case's directory
	targets   map[string]*scrapeTarget
	fileSDDir string
}

// writeFileSD replaces the file SD target file name with content.
func (r *pipelineRun) writeFileSD(t *testing.T, name, content string) {
	t.Helper()
	// Written aside and renamed, so file SD never reads half a file.
	tmp := filepath.Join(r.fileSDDir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatalf("cannot write file SD targets: %v", err)
	}
	if err := os.Rename(tmp, filepath.Join(r.fileSDDir, name)); err != nil {
		t.Fatalf("cannot replace file SD targets: %v", err)
	}
}

// runPipelineCase runs the collector on one case and returns the rendered
// recording.
func runPipelineCase(t *testing.T, tc pipelineCase) string {
	for k, v := range tc.env {
		t.Setenv(k, v)
	}
	dir := filepath.Join(pipelinesDir, tc.name)
	configPath := filepath.Join(dir, "config.yaml")
	config, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatalf("cannot read the case's config: %v", err)
	}
	sdTemplates, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatalf("cannot list file SD templates: %v", err)
	}
	mentions := config
	for _, p := range sdTemplates {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("cannot read file SD template: %v", err)
		}
		// Template references are ${TARGET_X}; the config's are ${env:TARGET_X}.
		mentions = append(mentions, strings.ReplaceAll(string(b), "${TARGET_", "${env:TARGET_")...)
	}
	r := &pipelineRun{
		dir:       dir,
		targets:   startCaseTargets(t, mentions, dir, filepath.Join(pipelinesDir, "targets")),
		fileSDDir: t.TempDir(),
	}
	t.Setenv("FILE_SD_DIR", r.fileSDDir)
	for _, p := range sdTemplates {
		b, _ := os.ReadFile(p)
		r.writeFileSD(t, filepath.Base(p), os.Expand(string(b), os.Getenv))
	}

	objs, err := loadKubernetesObjects(filepath.Join(dir, "k8s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	clients := fakeKubernetesClients(objs)

	rec := remotewrite.NewRecorder(&sigv4check.Verifier{
		Credentials: aws.Credentials{AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY")},
		Region:      os.Getenv("AWS_REGION"),
		Service:     "aps",
	})
	amp := httptest.NewServer(rec)
	defer amp.Close()
	t.Setenv("AMP_ENDPOINT", amp.URL+"/workspaces/ws-golden/")

	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	stop := startCollector(t, cancel, clients, configPath)
	defer stop()

	wait := func(phase string, cond func(remotewrite.Snapshot) bool) {
		t.Helper()
		wctx, wcancel := context.WithTimeout(ctx, phaseTimeout)
		defer wcancel()
		// A refused request ends the wait at once: every request must pass
		// the SigV4 check, and a refusal would otherwise show as a timeout.
		err := rec.WaitFor(wctx, func(s remotewrite.Snapshot) bool { return s.Stats.Rejected > 0 || cond(s) })
		if err != nil {
			t.Fatalf("%s: %v\nrecorded so far:\n%s", phase, err, renderRecording(rec.Series(), r.targets))
		}
		if st := rec.Stats(); st.Rejected > 0 {
			t.Fatalf("%s: the AMP stand-in refused %d remote-write requests: %v", phase, st.Rejected, st.RejectReasons)
		}
	}
	started := time.Now()
	wait("every target scraped twice", func(s remotewrite.Snapshot) bool { return scrapedTwice(s, r.targets) })
	t.Logf("every target scraped twice after %s", time.Since(started).Round(time.Millisecond))
	if tc.phase2 != nil {
		phase2 := time.Now()
		tc.phase2(t, r)
		wait("second phase", tc.phase2Done)
		t.Logf("second phase recorded after %s", time.Since(phase2).Round(time.Millisecond))
	}
	series := rec.Series()
	stopping := time.Now()
	stop()
	t.Logf("collector stopped in %s", time.Since(stopping).Round(time.Millisecond))

	st := rec.Stats()
	if st.Rejected != 0 {
		t.Errorf("the AMP stand-in refused %d remote-write requests: %v", st.Rejected, st.RejectReasons)
	}
	if st.BadLabels != 0 {
		t.Errorf("%d series broke the remote-write label rules, e.g. %s", st.BadLabels, st.LastBadLabels)
	}
	if st.OutOfOrder != 0 || st.Duplicates != 0 {
		t.Errorf("per-series order broken: %d samples out of order, %d duplicates", st.OutOfOrder, st.Duplicates)
	}
	if tc.only != nil {
		series = slices.DeleteFunc(series, func(s remotewrite.Series) bool { return !slices.Contains(tc.only, s.Name()) })
	}
	rendered := renderRecording(series, r.targets)
	if tc.check != nil {
		tc.check(t, series, rendered)
	}
	return rendered
}

// startCollector runs the distribution on configPath with the k8smeta
// factory fed by clients. The returned stop shuts it down and waits for
// Run to return; it is safe to call twice. If the collector stops by itself
// (a start error, say), cancel is called with the reason so waits end.
func startCollector(t *testing.T, cancel context.CancelCauseFunc, clients k8smetaprocessor.Clients, configPath string) (stop func()) {
	t.Helper()
	factories := func() (otelcol.Factories, error) {
		f, err := components()
		if err != nil {
			return f, err
		}
		k8smeta := k8smetaprocessor.NewFactoryWithClients(clients)
		if _, ok := f.Processors[k8smeta.Type()]; !ok {
			return f, fmt.Errorf("the distribution has no %s processor to swap", k8smeta.Type())
		}
		f.Processors[k8smeta.Type()] = k8smeta
		return f, nil
	}
	col, err := otelcol.NewCollector(testSettings(factories, "file:"+configPath))
	if err != nil {
		t.Fatalf("cannot create the collector: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		err := col.Run(context.Background())
		cancel(fmt.Errorf("collector stopped: %v", err))
		done <- err
	}()
	stopped := false
	return func() {
		if stopped {
			return
		}
		stopped = true
		col.Shutdown()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("collector run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("collector did not stop within 30s of Shutdown")
		}
	}
}

// scrapedTwice reports whether every target's `up` series has two samples.
func scrapedTwice(s remotewrite.Snapshot, targets map[string]*scrapeTarget) bool {
	ups := map[string]int{}
	for _, series := range s.Series() {
		if series.Name() == "up" {
			ups[series.Label("instance")] += len(series.Samples)
		}
	}
	for _, st := range targets {
		if ups[st.addr()] < 2 {
			return false
		}
	}
	return true
}

func lastIsStale(s remotewrite.Series) bool {
	return len(s.Samples) > 0 && value.IsStaleNaN(s.Samples[len(s.Samples)-1].Value)
}

// hasValue reports whether s has a sample equal to v.
func hasValue(s remotewrite.Series, v float64) bool {
	return slices.ContainsFunc(s.Samples, func(smp prompb.Sample) bool { return smp.Value == v })
}

// goldenRenderOptions make a scrape pipeline's output independent of
// timing: no timestamps, runs of equal values shown once (a static target
// repeats its values every scrape), the scrape's own duration masked, and
// the distribution version masked so that a release does not rewrite every
// golden file.
var goldenRenderOptions = remotewrite.RenderOptions{
	Timestamps:     remotewrite.TimestampsDrop,
	DistinctValues: true,
	MaskLabels:     []string{"otel_scope_version"},
	MaskValues:     []string{"scrape_duration_seconds"},
}

// renderRecording renders series with goldenRenderOptions after replacing each
// target's random loopback port by a stable `<port:NAME>` wherever a label
// value holds it (instance, and server_port / service_instance_id when
// resource attributes become labels). Port masking keeps targets apart,
// which a blanket mask of `instance` would not.
func renderRecording(series []remotewrite.Series, targets map[string]*scrapeTarget) string {
	type sub struct{ addr, port, name string }
	var subs []sub
	for name, st := range targets {
		subs = append(subs, sub{st.addr(), st.port(), name})
	}
	out := make([]remotewrite.Series, len(series))
	for i, s := range series {
		s.Labels = append(s.Labels[:0:0], s.Labels...)
		for j, l := range s.Labels {
			for _, sb := range subs {
				host, _, _ := net.SplitHostPort(sb.addr)
				switch {
				case strings.Contains(l.Value, sb.addr):
					l.Value = strings.ReplaceAll(l.Value, sb.addr, host+":<port:"+sb.name+">")
				case l.Value == sb.port:
					l.Value = "<port:" + sb.name + ">"
				}
			}
			s.Labels[j] = l
		}
		out[i] = s
	}
	return remotewrite.Render(out, goldenRenderOptions)
}
