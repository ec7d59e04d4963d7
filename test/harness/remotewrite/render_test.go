package remotewrite

import (
	"math"
	"testing"

	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
)

func lbls(kv ...string) []prompb.Label {
	var ls []prompb.Label
	for i := 0; i+1 < len(kv); i += 2 {
		ls = append(ls, prompb.Label{Name: kv[i], Value: kv[i+1]})
	}
	return ls
}

func smps(vt ...float64) []prompb.Sample {
	var ss []prompb.Sample
	for i := 0; i+1 < len(vt); i += 2 {
		ss = append(ss, prompb.Sample{Value: vt[i], Timestamp: int64(vt[i+1])})
	}
	return ss
}

func TestRender(t *testing.T) {
	stale := math.Float64frombits(value.StaleNaN)
	f := func(name string, series []Series, opts RenderOptions, want string) {
		t.Helper()
		if got := Render(series, opts); got != want {
			t.Fatalf("%s: rendered\n%s\nwant\n%s", name, got, want)
		}
	}

	up := Series{Labels: lbls("__name__", "up", "job", "orders", "instance", "127.0.0.1:40123"), Samples: smps(1, 1000, 1, 16000, 1, 31000, stale, 46000)}
	f("defaults drop timestamps, sort labels, show stale", []Series{up}, RenderOptions{},
		`up{instance="127.0.0.1:40123",job="orders"} 1 1 1 stale`+"\n")
	f("distinct values and masked instance", []Series{up}, RenderOptions{DistinctValues: true, MaskLabels: []string{"instance"}},
		`up{instance="<masked>",job="orders"} 1 stale`+"\n")
	f("relative timestamps", []Series{up}, RenderOptions{DistinctValues: true, Timestamps: TimestampsRelative, DropLabels: []string{"instance"}},
		`up{job="orders"} 1@+0s stale@+45s`+"\n")
	f("absolute timestamps", []Series{{Labels: lbls("__name__", "g"), Samples: smps(2.5, 1700000000000)}}, RenderOptions{Timestamps: TimestampsAbsolute},
		`g{} 2.5@1700000000000`+"\n")
	f("non-consecutive repeats kept", []Series{{Labels: lbls("__name__", "g"), Samples: smps(1, 1, 2, 2, 2, 3, 1, 4)}}, RenderOptions{DistinctValues: true},
		"g{} 1 2 1\n")
	f("special values", []Series{{Labels: lbls("__name__", "g", "le", "+Inf"), Samples: smps(math.NaN(), 1, math.Inf(1), 2, math.Inf(-1), 3, 1e-9, 4, 12345678901234, 5)}}, RenderOptions{},
		`g{le="+Inf"} NaN +Inf -Inf 1e-09 1.2345678901234e+13`+"\n")
	f("quoted label values", []Series{{Labels: lbls("__name__", "g", "path", "a\"b\\c\n"), Samples: smps(1, 1)}}, RenderOptions{},
		`g{path="a\"b\\c\n"} 1`+"\n")

	// Two runs of one target whose port changed merge once the port is dropped.
	a := Series{Labels: lbls("__name__", "c_total", "instance", "127.0.0.1:1"), Samples: smps(1, 1000, 2, 3000)}
	b := Series{Labels: lbls("__name__", "c_total", "instance", "127.0.0.1:2"), Samples: smps(3, 2000)}
	f("dropped label merges series by time", []Series{a, b}, RenderOptions{DropLabels: []string{"instance"}},
		"c_total{} 1 3 2\n")
	f("drop and mask metrics", []Series{
		{Labels: lbls("__name__", "scrape_duration_seconds"), Samples: smps(0.0012, 1, 0.0031, 2, stale, 3)},
		{Labels: lbls("__name__", "scrape_samples_scraped"), Samples: smps(10, 1)},
		{Labels: lbls("__name__", "a"), Samples: smps(1, 1)},
	}, RenderOptions{DistinctValues: true, MaskValues: []string{"scrape_duration_seconds"}, DropMetrics: []string{"scrape_samples_scraped"}},
		"a{} 1\nscrape_duration_seconds{} <value> stale\n")

	h := prompb.Histogram{
		Count: &prompb.Histogram_CountInt{CountInt: 6}, Sum: 10.5, Schema: 0, ZeroThreshold: 1e-128,
		ZeroCount:     &prompb.Histogram_ZeroCountInt{ZeroCountInt: 1},
		PositiveSpans: []prompb.BucketSpan{{Offset: 0, Length: 2}, {Offset: 1, Length: 1}}, PositiveDeltas: []int64{2, 1, -2},
		Timestamp: 1000,
	}
	staleH := prompb.Histogram{Sum: stale, Timestamp: 2000, ResetHint: prompb.Histogram_UNKNOWN}
	f("native histogram and exemplar", []Series{{
		Labels:     lbls("__name__", "lat_seconds"),
		Histograms: []prompb.Histogram{h, h, staleH},
		Exemplars:  []prompb.Exemplar{{Labels: lbls("trace_id", "abc"), Value: 0.5, Timestamp: 1500}},
	}}, RenderOptions{DistinctValues: true, Timestamps: TimestampsRelative},
		"lat_seconds{} {count=6,sum=10.5,schema=0,zero_threshold=1e-128,zero_count=1,pos=[0:2,1:1]:[2,3,1],neg=[]:[],reset=UNKNOWN}@+0s stale@+1s\n"+
			"  # exemplar {trace_id=\"abc\"} 0.5@+500ms\n")
	f("float histogram", []Series{{
		Labels: lbls("__name__", "h"),
		Histograms: []prompb.Histogram{{Sum: 0, Timestamp: 1}, {Count: &prompb.Histogram_CountFloat{CountFloat: 2.5}, Sum: 1, Schema: -53,
			ZeroCount:     &prompb.Histogram_ZeroCountFloat{ZeroCountFloat: 0},
			PositiveSpans: []prompb.BucketSpan{{Offset: 0, Length: 2}}, PositiveCounts: []float64{1, 1.5}, CustomValues: []float64{0.1, 1}}},
	}}, RenderOptions{NoExemplars: true},
		"h{} {count=0,sum=0,schema=0,zero_threshold=0,zero_count=0,pos=[]:[],neg=[]:[],reset=UNKNOWN} {count=2.5,sum=1,schema=-53,zero_threshold=0,zero_count=0,pos=[0:2]:[1,1.5],neg=[]:[],custom=[0.1,1],reset=UNKNOWN}\n")
}

func TestRenderMetadata(t *testing.T) {
	md := []prompb.MetricMetadata{
		{MetricFamilyName: "z", Type: prompb.MetricMetadata_GAUGE, Help: "Zed \"quoted\"."},
		{MetricFamilyName: "a_seconds", Type: prompb.MetricMetadata_HISTOGRAM, Unit: "seconds", Help: "A."},
		{MetricFamilyName: "z", Type: prompb.MetricMetadata_GAUGE, Help: "Zed \"quoted\"."},
	}
	want := "# a_seconds HISTOGRAM unit=\"seconds\" help=\"A.\"\n# z GAUGE unit=\"\" help=\"Zed \\\"quoted\\\".\"\n"
	if got := RenderMetadata(md); got != want {
		t.Fatalf("rendered\n%s\nwant\n%s", got, want)
	}
}
