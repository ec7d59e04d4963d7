package rwsink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math"
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

// startTargets starts n synthetic targets and scrapes target i scrapes[i]
// times.
func startTargets(t *testing.T, n int, scrapes ...int) *synthtarget.Set {
	t.Helper()
	set, err := synthtarget.Start(synthtarget.Config{Targets: n, LabelSets: 1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = set.Close() })
	for i, k := range scrapes {
		for range k {
			scrapeOnce(t, set, i)
		}
	}
	return set
}

func scrapeOnce(t *testing.T, set *synthtarget.Set, i int) {
	t.Helper()
	resp, err := http.Get("http://" + set.Addrs()[i] + "/metrics")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func TestCountsByScrape(t *testing.T) {
	set := startTargets(t, 2, 5, 4) // target 0 served scrapes 1-5, target 1 scrapes 1-4
	pods := []string{synthtarget.PodName(0), synthtarget.PodName(1)}
	s := New(&sigv4check.Verifier{Credentials: creds, Region: "us-west-2", Service: "aps"}, set.Targets())
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
		// Synthetic name, unknown pod; a value no scrape can serve; the
		// value of a scrape target 1 has not served (5).
		series(synthtarget.CounterName, "other-pod", "", 3),
		series(synthtarget.GaugeName, pods[1], "", 3),
		series(synthtarget.CounterName, pods[1], "", 5),
	}}
	require.Equal(t, http.StatusNoContent, post(t, srv.URL, wr, &creds))

	c := s.Counters()
	require.Equal(t, int64(1), c.Requests)
	require.Equal(t, int64(0), c.Rejected)
	require.Equal(t, int64(9), c.Samples)
	require.Equal(t, int64(1), c.Histograms)
	require.Equal(t, int64(6), c.Synth)
	require.Equal(t, int64(3), c.Unattributed)
	require.Positive(t, c.WireBytes)
	require.Equal(t, 7, s.Series()) // the counter of pods[1] comes twice
	require.Equal(t, []int{2, 2, 2, 0, 0}, s.Delivered([]Scrape{{1, 3}, {1, 4}, {0, 5}, {0, 3}, {1, 5}}))

	// A wrong secret is refused and counts nothing else.
	bad := creds
	bad.SecretAccessKey = "wrong"
	require.Equal(t, http.StatusForbidden, post(t, srv.URL, wr, &bad))
	c = s.Counters()
	require.Equal(t, int64(1), c.Rejected)
	require.Equal(t, int64(9), c.Samples)
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

// Freshness measures, for the samples of the scrapes served inside the
// window, the time from the target's answer to the request's arrival,
// whenever they arrive; samples of scrapes served before or after the
// window are not measured.
func TestFreshness(t *testing.T) {
	set := startTargets(t, 2, 1) // target 0 scrape 1: before the window
	pods := []string{synthtarget.PodName(0), synthtarget.PodName(1)}
	s := New(nil, set.Targets())
	var clock time.Time
	s.now = func() time.Time { return clock }
	srv := httptest.NewServer(s)
	defer srv.Close()
	defer http.DefaultClient.CloseIdleConnections()

	clock = time.Now()
	require.Equal(t, clock, s.StartWindow())
	scrapeOnce(t, set, 0) // target 0 scrape 2
	scrapeOnce(t, set, 1) // target 1 scrape 1
	clock = time.Now()
	require.Equal(t, clock, s.EndWindow())
	scrapeOnce(t, set, 0) // target 0 scrape 3: after the window

	servedAt := func(target int, seq int64) time.Time {
		at, ok := set.Targets()[target].ServedAt(seq)
		require.True(t, ok)
		return at
	}
	// Three samples of target 0's scrape 2 arrive 1.5 s after it was
	// served (after the window's end: still measured), with samples of
	// scrapes 1 and 3, which are not.
	clock = servedAt(0, 2).Add(1500 * time.Millisecond)
	require.Equal(t, http.StatusNoContent, post(t, srv.URL, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		series(synthtarget.CounterName, pods[0], "", 1, 2, 3),
		series(synthtarget.GaugeName, pods[0], "", 2, 4),
		series(synthtarget.HistogramName+"_bucket", pods[0], "+Inf", 6),
	}}, nil))
	// Five samples of target 1's scrape 1, 300 ms after it.
	clock = servedAt(1, 1).Add(300 * time.Millisecond)
	require.Equal(t, http.StatusNoContent, post(t, srv.URL, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		series(synthtarget.CounterName, pods[1], "", 1),
		series(synthtarget.GaugeName, pods[1], "", 2),
		series(synthtarget.HistogramName+"_bucket", pods[1], "0.1", 1),
		series(synthtarget.HistogramName+"_sum", pods[1], "", 0.5),
		series(synthtarget.HistogramName+"_count", pods[1], "", 3),
	}}, nil))

	f := s.Freshness()
	require.Equal(t, int64(8), f.Samples)
	require.Equal(t, 1500*time.Millisecond, f.Max)
	require.Equal(t, 1500*time.Millisecond, f.P99)  // rank 8 of 8
	requireWithin(t, 300*time.Millisecond, f.P50)   // rank 4 of 8
	require.Equal(t, int64(11), s.Counters().Synth) // measured or not, all are counted

	s.Reset()
	require.Equal(t, Freshness{}, s.Freshness())
}

// requireWithin checks that got is want or at most the histogram's
// resolution above it.
func requireWithin(t *testing.T, want, got time.Duration) {
	t.Helper()
	require.GreaterOrEqual(t, got, want)
	require.LessOrEqual(t, got, want+want/subBuckets+time.Microsecond)
}

func TestHistogramBuckets(t *testing.T) {
	f := func(us uint64) {
		t.Helper()
		i := bucketOf(us)
		d := time.Duration(us) * time.Microsecond
		require.GreaterOrEqual(t, bucketUpper(i), d, "%d µs", us)
		require.LessOrEqual(t, bucketUpper(i)-d, d/subBuckets+time.Microsecond, "%d µs: bucket too wide", us)
		if i > 0 {
			require.Less(t, bucketUpper(i-1), d, "%d µs", us)
		}
	}
	for us := range uint64(5000) {
		f(us)
	}
	for _, us := range []uint64{63, 64, 65, 127, 128, 129, 1 << 20, 1<<20 - 1, 1<<20 + 1, 999_999, 60_000_000, 1 << 40} {
		f(us)
	}
	require.Less(t, bucketOf(math.MaxInt64/1000), len(Histogram{}.counts))
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	require.Equal(t, Freshness{}, h.Summary())
	for ms := 1; ms <= 1000; ms++ {
		h.Add(time.Duration(ms)*time.Millisecond, 1)
	}
	h.Add(-time.Second, 0) // nothing
	f := h.Summary()
	require.Equal(t, int64(1000), f.Samples)
	requireWithin(t, 500*time.Millisecond, f.P50)
	requireWithin(t, 990*time.Millisecond, f.P99)
	require.Equal(t, time.Second, f.Max)
	require.Equal(t, time.Second, h.Quantile(1))

	// Weights count as that many samples; a negative delay counts as 0.
	var w Histogram
	w.Add(-time.Millisecond, 98)
	w.Add(2*time.Second, 2)
	f = w.Summary()
	require.Equal(t, int64(100), f.Samples)
	require.Less(t, f.P50, time.Microsecond) // the first bucket: [0, 1 µs)
	require.Equal(t, 2*time.Second, f.P99)
	require.Equal(t, 2*time.Second, f.Max)
}
