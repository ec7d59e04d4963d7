package remotewrite

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"

	"github.com/otelcol-eks/otelcol-eks/test/harness/sigv4check"
)

var recCreds = aws.Credentials{AccessKeyID: "AKIDRECORDER", SecretAccessKey: "recorder-secret"}

// post sends wr to url, signed with creds unless creds is empty.
func post(t *testing.T, client *http.Client, url string, body []byte, creds aws.Credentials) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("cannot build request: %v", err)
	}
	SetHeaders(req.Header)
	if creds.AccessKeyID != "" {
		sum := sha256Hex(body)
		if err := v4.NewSigner().SignHTTP(req.Context(), creds, req, sum, "aps", "us-west-2", time.Now()); err != nil {
			t.Fatalf("cannot sign: %v", err)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("cannot post: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestRecorder(t *testing.T) {
	rec := NewRecorder(&sigv4check.Verifier{Credentials: recCreds, Region: "us-west-2", Service: "aps"})
	srv := httptest.NewServer(rec)
	defer srv.Close()

	stale := math.Float64frombits(value.StaleNaN)
	req1 := &prompb.WriteRequest{
		Timeseries: []prompb.TimeSeries{
			{Labels: []prompb.Label{{Name: "__name__", Value: "b_total"}, {Name: "job", Value: "x"}}, Samples: []prompb.Sample{{Value: 1, Timestamp: 1000}}},
			{Labels: []prompb.Label{{Name: "__name__", Value: "a"}, {Name: "job", Value: "x"}}, Samples: []prompb.Sample{{Value: 5, Timestamp: 1000}}},
		},
		Metadata: []prompb.MetricMetadata{{MetricFamilyName: "b_total", Type: prompb.MetricMetadata_COUNTER, Help: "B."}},
	}
	req2 := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		// labels out of order on purpose: the recorder must merge it with the first b_total
		{Labels: []prompb.Label{{Name: "job", Value: "x"}, {Name: "__name__", Value: "b_total"}}, Samples: []prompb.Sample{{Value: 2, Timestamp: 2000}, {Value: stale, Timestamp: 2000}}},
	}}
	body1, body2 := mustMarshal(t, req1), mustMarshal(t, req2)

	// A waiter started before anything arrives must be woken by the writes.
	var wg sync.WaitGroup
	var waitErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		waitErr = rec.WaitFor(ctx, func(s Snapshot) bool {
			for _, se := range s.Series() {
				if se.Name() == "b_total" && len(se.Samples) == 3 {
					return true
				}
			}
			return false
		})
	}()

	if got := post(t, srv.Client(), srv.URL, body1, recCreds); got != http.StatusNoContent {
		t.Fatalf("signed write answered %d, want 204", got)
	}
	wrong := recCreds
	wrong.SecretAccessKey = "wrong"
	if got := post(t, srv.Client(), srv.URL, body1, wrong); got != http.StatusForbidden {
		t.Fatalf("badly signed write answered %d, want 403", got)
	}
	if got := post(t, srv.Client(), srv.URL, []byte("garbage"), recCreds); got != http.StatusBadRequest {
		t.Fatalf("undecodable write answered %d, want 400", got)
	}
	if got := post(t, srv.Client(), srv.URL, body2, recCreds); got != http.StatusNoContent {
		t.Fatalf("signed write answered %d, want 204", got)
	}
	wg.Wait()
	if waitErr != nil {
		t.Fatalf("WaitFor: %v", waitErr)
	}

	st := rec.Stats()
	want := Stats{
		Requests: 2, Rejected: 2, RejectReasons: map[string]int{"signature_mismatch": 1, "bad_body": 1},
		Series: 2, Samples: 4, StaleMarkers: 1, Metadata: 1, WireBytes: int64(len(body1) + len(body2)),
		Duplicates: 1, BadLabels: 1, LastBadLabels: `b_total{job="x"}: labels not sorted at "__name__"`,
	}
	if st.String() != want.String() || st.LastBadLabels != want.LastBadLabels {
		t.Fatalf("stats\n%s\nwant\n%s (%q)", st, want, st.LastBadLabels)
	}
	got := Render(rec.Series(), RenderOptions{Timestamps: TimestampsRelative})
	wantText := "a{job=\"x\"} 5@+0s\nb_total{job=\"x\"} 1@+0s 2@+1s stale@+1s\n"
	if got != wantText {
		t.Fatalf("rendered\n%s\nwant\n%s", got, wantText)
	}
	if md := RenderMetadata(rec.Metadata()); md != "# b_total COUNTER unit=\"\" help=\"B.\"\n" {
		t.Fatalf("metadata rendered %q", md)
	}

	// A condition that never holds ends with the context and says what arrived.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := rec.WaitFor(ctx, func(s Snapshot) bool { return s.Stats.Requests > 100 })
	if err == nil || !strings.Contains(err.Error(), "requests=2 rejected=2") {
		t.Fatalf("WaitFor error %v, want one describing the stats", err)
	}

	rec.Reset()
	if st := rec.Stats(); st.Requests != 0 || st.Series != 0 || len(rec.Series()) != 0 {
		t.Fatalf("after Reset: %s", st)
	}
}

func TestRecorderUnsigned(t *testing.T) {
	rec := NewRecorder(nil)
	srv := httptest.NewServer(rec)
	defer srv.Close()
	if got := post(t, srv.Client(), srv.URL, mustMarshal(t, testRequest()), aws.Credentials{}); got != http.StatusNoContent {
		t.Fatalf("unsigned write to a recorder without verifier answered %d, want 204", got)
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(mustMarshal(t, testRequest())))
	if err != nil {
		t.Fatal(err)
	}
	SetHeaders(req.Header)
	req.Header.Set("X-Prometheus-Remote-Write-Version", "2.0.0")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("remote-write 2.0 answered %d, want 415", resp.StatusCode)
	}
	if st := rec.Stats(); st.Requests != 1 || st.RejectReasons["unsupported"] != 1 || st.Samples != 1 {
		t.Fatalf("stats %s", st)
	}
}
