package synthtarget

import (
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func TestServesDecodableScrapes(t *testing.T) {
	s, err := Start(Config{Targets: 2, LabelSets: 3})
	require.NoError(t, err)
	defer s.Close()
	defer http.DefaultClient.CloseIdleConnections()

	for want := int64(1); want <= 3; want++ {
		text := scrape(t, s.Addrs()[1])
		p := expfmt.NewTextParser(model.UTF8Validation)
		families, err := p.TextToMetricFamilies(strings.NewReader(text))
		require.NoError(t, err)
		require.Len(t, families, 3)
		samples := 0
		for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			samples++
			name, rest, _ := strings.Cut(line, "{")
			labels, value, _ := strings.Cut(rest, "} ")
			le := ""
			if _, after, ok := strings.Cut(labels, `le="`); ok {
				le, _, _ = strings.Cut(after, `"`)
			}
			require.Contains(t, labels, `pod="`+PodName(1)+`"`)
			v, err := parseFloat(value)
			require.NoError(t, err)
			seq, ok := SeqOf(name, le, v)
			require.True(t, ok, line)
			require.Equal(t, want, seq, line)
		}
		require.Equal(t, 3*SamplesPerLabelSet, samples)
	}
	require.Len(t, s.Targets()[1].Served(), 3)
	require.Empty(t, s.Targets()[0].Served())
	require.Equal(t, int64(3*3*SamplesPerLabelSet), s.SamplesServed())
}

// A scrape's record exists before the first byte of its answer is written,
// and ServedAt finds it by sequence number.
func TestServedAtBeforeAnswer(t *testing.T) {
	s, err := Start(Config{Targets: 1, LabelSets: 2})
	require.NoError(t, err)
	defer s.Close()
	tg := s.Targets()[0]
	req, _ := http.NewRequest(http.MethodGet, "/metrics", nil)
	for seq := int64(1); seq <= 3; seq++ {
		before := time.Now()
		var seen []bool
		w := recordingWriter{discardWriter: discardWriter{h: http.Header{}}, onWrite: func() {
			_, ok := tg.ServedAt(seq)
			seen = append(seen, ok)
		}}
		tg.ServeHTTP(w, req)
		require.NotEmpty(t, seen)
		require.NotContains(t, seen, false, "scrape %d answered before it was recorded", seq)
		at, ok := tg.ServedAt(seq)
		require.True(t, ok)
		require.False(t, at.Before(before))
		require.Equal(t, tg.Served()[seq-1].At, at)
	}
	for _, seq := range []int64{0, -1, 4} {
		_, ok := tg.ServedAt(seq)
		require.False(t, ok, "seq %d", seq)
	}
}

type recordingWriter struct {
	discardWriter
	onWrite func()
}

func (r recordingWriter) Write(p []byte) (int, error) {
	r.onWrite()
	return len(p), nil
}

func TestScale(t *testing.T) {
	s, err := Start(Config{Targets: 1, LabelSets: 2})
	require.NoError(t, err)
	defer s.Close()
	defer http.DefaultClient.CloseIdleConnections()
	scrape(t, s.Addrs()[0])
	s.SetScale(10)
	text := scrape(t, s.Addrs()[0])
	require.Equal(t, 20, strings.Count(text, CounterName+"{"))
	served := s.Targets()[0].Served()
	require.Equal(t, []int{2, 20}, []int{served[0].LabelSets, served[1].LabelSets})
}

func TestSeqOf(t *testing.T) {
	f := func(name, le string, v float64, want int64, wantOK bool) {
		t.Helper()
		got, ok := SeqOf(name, le, v)
		require.Equal(t, wantOK, ok, "%s %s %v", name, le, v)
		require.Equal(t, want, got, "%s %s %v", name, le, v)
	}
	f(CounterName, "", 7, 7, true)
	f(GaugeName, "", 14, 7, true)
	f(GaugeName, "", 13, 0, false)
	f(HistogramName+"_bucket", "1", 14, 7, true)
	f(HistogramName+"_bucket", "1.0", 14, 7, true) // Prometheus 2.x, protobuf scrape
	f(HistogramName+"_bucket", "+Inf", 21, 7, true)
	f(HistogramName+"_bucket", "", 21, 0, false)
	f(HistogramName+"_bucket", "+Inf", 21, 7, true)
	f(HistogramName+"_bucket", "5", 21, 0, false)
	f(HistogramName+"_sum", "", 3.5, 7, true)
	f(HistogramName+"_count", "", 21, 7, true)
	f("up", "", 1, 0, false)
	f(CounterName, "", math.NaN(), 0, false)
	f(CounterName, "", 0, 0, false)
}

func TestRejectsBadConfig(t *testing.T) {
	_, err := Start(Config{Targets: 0, LabelSets: 1})
	require.ErrorContains(t, err, "at least one target")
	_, err = Start(Config{Targets: 1, LabelSets: 1, Host: "0.0.0.0"})
	require.ErrorContains(t, err, "not a loopback address")
}

func BenchmarkServe(b *testing.B) {
	s, err := Start(Config{Targets: 1, LabelSets: 100})
	require.NoError(b, err)
	defer s.Close()
	tg := s.Targets()[0]
	w := discardWriter{h: http.Header{}}
	req, _ := http.NewRequest(http.MethodGet, "/metrics", nil)
	b.ReportAllocs()
	for b.Loop() {
		tg.ServeHTTP(w, req)
	}
}

type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
