package synthtarget

import (
	"math"
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"
)

// acceptProtobuf is what a Prometheus scraper with scrape_native_histograms sends.
const acceptProtobuf = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5," +
	"application/openmetrics-text;version=1.0.0;q=0.4,text/plain;version=0.0.4;q=0.1,*/*;q=0.05"

// get scrapes addr with the Accept header accept and returns the answer's
// status, format and, for a protobuf answer, its metric families.
func get(t *testing.T, addr, accept string) (int, expfmt.FormatType, map[string]*dto.MetricFamily) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	format := expfmt.ResponseFormat(resp.Header)
	if resp.StatusCode != http.StatusOK || format.FormatType() != expfmt.TypeProtoDelim {
		return resp.StatusCode, format.FormatType(), nil
	}
	fams := map[string]*dto.MetricFamily{}
	dec := expfmt.NewDecoder(resp.Body, format)
	for {
		var mf dto.MetricFamily
		if dec.Decode(&mf) != nil {
			break
		}
		fams[mf.GetName()] = &mf
	}
	return resp.StatusCode, format.FormatType(), fams
}

// TestServesNativeHistograms: with a share of native histograms, a
// protobuf scrape holds that share of native histograms (20 buckets, counts
// consistent), the other label sets' classic ones, and every value encodes
// the scrape's sequence number.
func TestServesNativeHistograms(t *testing.T) {
	s, err := Start(Config{Targets: 1, LabelSets: 10, Protobuf: true, NativeHistograms: 0.3})
	require.NoError(t, err)
	defer s.Close()
	defer http.DefaultClient.CloseIdleConnections()

	for want := int64(1); want <= 2; want++ {
		code, format, fams := get(t, s.Addrs()[0], acceptProtobuf)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, expfmt.TypeProtoDelim, format)
		require.Len(t, fams, 3)
		for _, m := range fams[CounterName].GetMetric() {
			seq, ok := SeqOf(CounterName, "", m.GetCounter().GetValue())
			require.True(t, ok)
			require.Equal(t, want, seq)
		}
		for _, m := range fams[GaugeName].GetMetric() {
			seq, ok := SeqOf(GaugeName, "", m.GetGauge().GetValue())
			require.True(t, ok)
			require.Equal(t, want, seq)
		}
		natives, samples := 0, 0
		for i, m := range fams[HistogramName].GetMetric() {
			require.Len(t, m.GetLabel(), 6)
			require.Equal(t, PodName(0), m.GetLabel()[1].GetValue())
			h := m.GetHistogram()
			if h.Schema != nil {
				natives++
				samples += SamplesPerNativeLabelSet
				require.True(t, isNative(i, 0.3), "label set %d", i)
				require.Empty(t, h.GetBucket(), "no classic buckets beside the native ones")
				require.Equal(t, int32(3), h.GetSchema())
				var n, total int64
				buckets := uint32(0)
				for _, d := range h.GetPositiveDelta() {
					n += d
					require.Positive(t, n)
					total += n
				}
				for _, sp := range h.GetPositiveSpan() {
					buckets += sp.GetLength()
				}
				require.Equal(t, uint32(20), buckets)
				require.Len(t, h.GetPositiveDelta(), 20)
				require.Equal(t, uint64(total), h.GetSampleCount(), "buckets and count agree")
				seq, ok := SeqOfNativeHistogram(HistogramName, h.GetSampleCount())
				require.True(t, ok)
				require.Equal(t, want, seq)
				continue
			}
			samples += SamplesPerLabelSet
			require.Len(t, h.GetBucket(), 2)
			for j, le := range []string{"0.1", "1"} {
				seq, ok := SeqOf(HistogramName+"_bucket", le, float64(h.GetBucket()[j].GetCumulativeCount()))
				require.True(t, ok)
				require.Equal(t, want, seq)
			}
			for name, v := range map[string]float64{"_sum": h.GetSampleSum(), "_count": float64(h.GetSampleCount())} {
				seq, ok := SeqOf(HistogramName+name, "", v)
				require.True(t, ok, name)
				require.Equal(t, want, seq, name)
			}
		}
		require.Equal(t, 3, natives)
		require.Equal(t, 3*SamplesPerNativeLabelSet+7*SamplesPerLabelSet, samples)
		require.Equal(t, samples, s.Targets()[0].Served()[want-1].Samples)
	}
	require.Equal(t, int64(2*(3*SamplesPerNativeLabelSet+7*SamplesPerLabelSet)), s.SamplesServed())

	// Native histograms cannot be served in text: a scraper that does not
	// negotiate protobuf is refused, and no scrape is recorded.
	code, _, _ := get(t, s.Addrs()[0], "text/plain;version=0.0.4")
	require.Equal(t, http.StatusNotAcceptable, code)
	require.Len(t, s.Targets()[0].Served(), 2)
}

// TestProtobufOnlyWhenAsked: targets answer in text unless configured for
// protobuf and asked for it; classic-only protobuf scrapes hold the same
// samples as text ones.
func TestProtobufOnlyWhenAsked(t *testing.T) {
	text, err := Start(Config{Targets: 1, LabelSets: 2})
	require.NoError(t, err)
	defer text.Close()
	pb, err := Start(Config{Targets: 1, LabelSets: 2, Protobuf: true})
	require.NoError(t, err)
	defer pb.Close()
	defer http.DefaultClient.CloseIdleConnections()

	_, format, _ := get(t, text.Addrs()[0], acceptProtobuf)
	require.Equal(t, expfmt.TypeTextPlain, format)
	_, format, _ = get(t, pb.Addrs()[0], "text/plain;version=0.0.4")
	require.Equal(t, expfmt.TypeTextPlain, format)
	_, format, fams := get(t, pb.Addrs()[0], acceptProtobuf)
	require.Equal(t, expfmt.TypeProtoDelim, format)
	for _, m := range fams[HistogramName].GetMetric() {
		require.Nil(t, m.GetHistogram().Schema, "no native histogram without a share")
	}
	for _, sc := range pb.Targets()[0].Served() {
		require.Equal(t, 2*SamplesPerLabelSet, sc.Samples)
	}
}

func TestSeqOfNativeHistogram(t *testing.T) {
	f := func(name string, count uint64, want int64, wantOK bool) {
		t.Helper()
		got, ok := SeqOfNativeHistogram(name, count)
		require.Equal(t, wantOK, ok, "%s %d", name, count)
		require.Equal(t, want, got, "%s %d", name, count)
	}
	f(HistogramName, NativeHistogramCount(7), 7, true)
	f(HistogramName, uint64(7*nativeCountFactor+1), 0, false)
	f(HistogramName, 0, 0, false)
	f(HistogramName+"_count", uint64(7*nativeCountFactor), 0, false)
	f(HistogramName, math.MaxUint64-math.MaxUint64%uint64(nativeCountFactor), 0, false)
}

func TestSamplesOfConfig(t *testing.T) {
	require.Equal(t, 10*SamplesPerLabelSet, Config{}.Samples(10))
	require.Equal(t, 10*SamplesPerNativeLabelSet, Config{NativeHistograms: 1}.Samples(10))
	require.Equal(t, 5*SamplesPerNativeLabelSet+5*SamplesPerLabelSet, Config{NativeHistograms: 0.5}.Samples(10))
}

func TestRejectsBadNativeHistogramConfig(t *testing.T) {
	for _, share := range []float64{-0.1, 1.5, math.NaN()} {
		_, err := Start(Config{Targets: 1, LabelSets: 1, Protobuf: true, NativeHistograms: share})
		require.ErrorContains(t, err, "native histograms share")
	}
	_, err := Start(Config{Targets: 1, LabelSets: 1, NativeHistograms: 0.5})
	require.ErrorContains(t, err, "need the protobuf exposition")
}
