package promserver

import (
	"bytes"
	"context"
	"errors"
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
	body, err := remotewrite.Marshal(&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: "promserver_test_total"}, {Name: "productId", Value: "42"}},
		Samples: []prompb.Sample{{Value: 7, Timestamp: now.UnixMilli()}},
	}}})
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
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("remote write answered %d, want 204", resp.StatusCode)
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
