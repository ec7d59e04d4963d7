package promserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"

	"github.com/otelcol-eks/otelcol-eks/test/harness/remotewrite"
)

func TestStartWriteQueryStop(t *testing.T) {
	srv := StartForTest(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	now := time.Now()
	code, msg := write(ctx, t, srv, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: "promserver_test_total"}, {Name: "productId", Value: "42"}},
		Samples: []prompb.Sample{{Value: 7, Timestamp: now.UnixMilli()}},
	}}})
	if code != http.StatusNoContent {
		t.Fatalf("remote write answered %d %s, want 204", code, msg)
	}

	vec, err := srv.WaitForQuery(ctx, `promserver_test_total`, 0, func(v model.Vector) bool { return len(v) == 1 })
	if err != nil {
		t.Fatal(err)
	}
	if vec[0].Value != 7 || vec[0].Metric["productId"] != "42" {
		t.Fatalf("query returned %v, want productId=42 value 7", vec)
	}
	// Before the sample was written there was nothing.
	if vec, err := srv.Query(ctx, `promserver_test_total`, now.Add(-10*time.Minute)); err != nil || len(vec) != 0 {
		t.Fatalf("query in the past returned %v, %v; want an empty vector", vec, err)
	}
	if _, err := srv.Query(ctx, `sum(`, time.Time{}); err == nil || !strings.Contains(err.Error(), "bad_data") {
		t.Fatalf("bad PromQL gave %v, want a bad_data error", err)
	}
	if _, err := srv.Query(ctx, `1`, time.Time{}); err == nil || !strings.Contains(err.Error(), "scalar") {
		t.Fatalf("scalar query gave %v, want an error naming the scalar", err)
	}

	dir := srv.DataDir()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("data dir %s still there after Stop: %v", dir, err)
	}
	if _, err := http.Get(srv.URL() + "/-/ready"); err == nil {
		t.Fatalf("prometheus still answers after Stop")
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

// write remote-writes wr to srv and returns the HTTP status and body.
func write(ctx context.Context, t *testing.T, srv *Server, wr *prompb.WriteRequest) (int, string) {
	t.Helper()
	body, err := remotewrite.Marshal(wr)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.RemoteWriteURL(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	remotewrite.SetHeaders(req.Header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("cannot remote-write: %v", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

// TestNativeHistograms: native histograms written as the remote-write
// exporter writes them (integer counts as deltas, schema 3, the reset hint
// unknown) are stored with the floats of the same request, and PromQL's
// histogram functions answer from them.
func TestNativeHistograms(t *testing.T) {
	srv := StartForTest(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	now := time.Now()
	// Buckets 0, 1, 2 of schema 3: (2^(-1/8), 1], (1, 2^(1/8)], (2^(1/8), 2^(2/8)].
	h := func(at time.Time, scale int64) prompb.Histogram {
		return prompb.Histogram{
			Count: &prompb.Histogram_CountInt{CountInt: uint64(12 * scale)}, Sum: 10.5 * float64(scale),
			Schema: 3, ZeroThreshold: 1e-128, ZeroCount: &prompb.Histogram_ZeroCountInt{ZeroCountInt: 0},
			PositiveSpans:  []prompb.BucketSpan{{Offset: 0, Length: 3}},
			PositiveDeltas: []int64{2 * scale, 5 * scale, -4 * scale}, // 2, 7, 3 (times scale)
			ResetHint:      prompb.Histogram_UNKNOWN,
			Timestamp:      at.UnixMilli(),
		}
	}
	code, msg := write(ctx, t, srv, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{
			Labels:     []prompb.Label{{Name: "__name__", Value: "promserver_latency_seconds"}, {Name: "workload", Value: "orders"}},
			Histograms: []prompb.Histogram{h(now.Add(-20*time.Second), 1), h(now.Add(-10*time.Second), 3)},
		},
		{
			Labels:  []prompb.Label{{Name: "__name__", Value: "promserver_float"}},
			Samples: []prompb.Sample{{Value: 1, Timestamp: now.Add(-10 * time.Second).UnixMilli()}},
		},
	}})
	if code != http.StatusNoContent {
		t.Fatalf("remote write of native histograms answered %d %s, want 204", code, msg)
	}

	scalar := func(promql string) float64 {
		t.Helper()
		vec, err := srv.WaitForQuery(ctx, promql, 0, func(v model.Vector) bool { return len(v) == 1 })
		if err != nil {
			t.Fatal(err)
		}
		return float64(vec[0].Value)
	}
	if got := scalar(`histogram_count(promserver_latency_seconds{workload="orders"})`); got != 36 {
		t.Fatalf("histogram_count = %v, want 36", got)
	}
	if got := scalar(`histogram_sum(promserver_latency_seconds)`); got != 31.5 {
		t.Fatalf("histogram_sum = %v, want 31.5", got)
	}
	// The increase over both samples is 24 observations: 4, 14, 6 in the
	// three buckets; the 0.5-quantile is the 12th, in bucket 1.
	q := scalar(`histogram_quantile(0.5, sum by (workload) (rate(promserver_latency_seconds[1m])))`)
	if lower, upper := 1.0, math.Exp2(1.0/8); q < lower || q > upper {
		t.Fatalf("histogram_quantile(0.5) = %v, want within bucket (%v, %v]", q, lower, upper)
	}
	if got := scalar(`promserver_float`); got != 1 {
		t.Fatalf("the float of the same request: %v, want 1", got)
	}
}

func TestStartNotInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Start(context.Background(), Options{})
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "apt-get install -y prometheus") {
		t.Fatalf("Start without a binary gave %v, want ErrNotInstalled with the install hint", err)
	}
}

func TestStartBadConfig(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Start(ctx, Options{Config: "scrape_configs: [ {job_name: 1, bogus: true} ]\n"})
	if err == nil || !strings.Contains(err.Error(), "prometheus exited during startup") || !strings.Contains(err.Error(), "field bogus not found") {
		t.Fatalf("Start with a broken config gave %v, want an early-exit error with the log", err)
	}
}
