package rwsink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-eks/otelcol-eks/test/harness/remotewrite"
	"github.com/otelcol-eks/otelcol-eks/test/harness/sigv4check"
	"github.com/otelcol-eks/otelcol-eks/test/harness/synthtarget"
)

var creds = aws.Credentials{AccessKeyID: "AKIDBENCH", SecretAccessKey: "bench-secret"}

func series(name, pod, le string, values ...float64) prompb.TimeSeries {
	ls := []prompb.Label{{Name: "__name__", Value: name}, {Name: "job", Value: "synth"}}
	if le != "" {
		ls = append(ls, prompb.Label{Name: "le", Value: le})
	}
	ls = append(ls, prompb.Label{Name: "namespace", Value: "synth"}, prompb.Label{Name: "pod", Value: pod})
	ts := prompb.TimeSeries{Labels: ls}
	for i, v := range values {
		ts.Samples = append(ts.Samples, prompb.Sample{Value: v, Timestamp: int64(1000 * (i + 1))})
	}
	return ts
}

// post sends wr signed with c, or unsigned when c is nil, and returns
// the status code.
func post(t *testing.T, url string, wr *prompb.WriteRequest, c *aws.Credentials) int {
	t.Helper()
	body, err := remotewrite.Marshal(wr)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	remotewrite.SetHeaders(req.Header)
	if c != nil {
		sum := sha256.Sum256(body)
		require.NoError(t, v4.NewSigner().SignHTTP(req.Context(), *c, req, hex.EncodeToString(sum[:]), "aps", "us-west-2", time.Now()))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestCountsByScrape(t *testing.T) {
	pods := []string{synthtarget.PodName(0), synthtarget.PodName(1)}
	s := New(&sigv4check.Verifier{Credentials: creds, Region: "us-west-2", Service: "aps"}, pods)
	srv := httptest.NewServer(s)
	defer srv.Close()
	defer http.DefaultClient.CloseIdleConnections()

	wr := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		// Scrapes 3 and 4 of target 1, counter and bucket le=1 (factor 2).
		series(synthtarget.CounterName, pods[1], "", 3, 4),
		series(synthtarget.HistogramName+"_bucket", pods[1], "1", 6, 8),
		// Scrape 5 of target 0: a gauge and a native histogram.
		series(synthtarget.GaugeName, pods[0], "", 10),
		{Labels: series(synthtarget.HistogramName, pods[0], "").Labels, Histograms: []prompb.Histogram{
			{Count: &prompb.Histogram_CountInt{CountInt: synthtarget.NativeHistogramCount(5)}, Timestamp: 5000},
		}},
		// Not synthetic: counted as a sample and a series only.
		series("up", pods[0], "", 1),
		// Synthetic name, unknown pod; and a value no scrape served.
		series(synthtarget.CounterName, "other-pod", "", 3),
		series(synthtarget.GaugeName, pods[1], "", 3),
	}}
	require.Equal(t, http.StatusNoContent, post(t, srv.URL, wr, &creds))

	c := s.Counters()
	require.Equal(t, int64(1), c.Requests)
	require.Equal(t, int64(0), c.Rejected)
	require.Equal(t, int64(8), c.Samples)
	require.Equal(t, int64(1), c.Histograms)
	require.Equal(t, int64(6), c.Synth)
	require.Equal(t, int64(2), c.Unattributed)
	require.Positive(t, c.WireBytes)
	require.Equal(t, 7, s.Series())
	require.Equal(t, []int{2, 2, 2, 0}, s.Delivered([]Scrape{{1, 3}, {1, 4}, {0, 5}, {0, 3}}))

	// A wrong secret is refused and counts nothing else.
	bad := creds
	bad.SecretAccessKey = "wrong"
	require.Equal(t, http.StatusForbidden, post(t, srv.URL, wr, &bad))
	c = s.Counters()
	require.Equal(t, int64(1), c.Rejected)
	require.Equal(t, int64(8), c.Samples)
	require.Equal(t, map[string]int{sigv4check.ReasonSignatureMismatch: 1}, s.RejectReasons())

	// Unsigned requests: refused, unless allowed; a bad signature is
	// refused either way.
	require.Equal(t, http.StatusForbidden, post(t, srv.URL, wr, nil))
	s.AllowUnsigned(true)
	require.Equal(t, http.StatusNoContent, post(t, srv.URL, wr, nil))
	require.Equal(t, http.StatusForbidden, post(t, srv.URL, wr, &bad))
	c = s.Counters()
	require.Equal(t, int64(2), c.Requests)
	require.Equal(t, int64(1), c.Unsigned)
	require.Equal(t, int64(3), c.Rejected)

	s.Reset()
	require.Equal(t, Counters{}, s.Counters())
	require.Equal(t, 0, s.Series())
	require.Equal(t, []int{0}, s.Delivered([]Scrape{{1, 3}}))
}
