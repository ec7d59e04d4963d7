//go:build chaos

package chaos

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// badTargets serves one misbehaving target per path on a loopback port.
func badTargets(t *testing.T) (addr string, paths []string) {
	t.Helper()
	huge := strings.Repeat("x", 1<<20)
	handlers := map[string]http.HandlerFunc{
		"/malformed": func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, "# TYPE broken counter\nbroken{a=\"1\" 12\nbroken{{}} NaNaN\n\x00\xff garbage\n")
		},
		"/huge-label": func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, "# TYPE bad_huge_label gauge\nbad_huge_label{v=%q} 1\n", huge)
		},
		"/nan-inf": func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, "# TYPE bad_special gauge\nbad_special{v=\"nan\"} NaN\nbad_special{v=\"pinf\"} +Inf\nbad_special{v=\"ninf\"} -Inf\n")
		},
		"/duplicate": func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, "# TYPE bad_dup gauge\nbad_dup{a=\"1\"} 1\nbad_dup{a=\"1\"} 2\n")
		},
		"/hang": func(_ http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		},
		"/ten-megabytes": func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte("# TYPE bad_big gauge\n"))
			line := []byte{}
			for i := 0; len(line) < 10<<20; i++ {
				line = fmt.Appendf(line, "bad_big{i=\"%d\",pad=\"%s\"} %d\n", i, strings.Repeat("p", 200), i)
			}
			w.Write(line)
		},
	}
	mux := http.NewServeMux()
	for p, h := range handlers {
		mux.Handle(p, h)
		paths = append(paths, p)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String(), paths
}

// TestBadInput is scenario 7: malformed expositions, a 1 MB label value,
// NaN and ±Inf, duplicate series in one scrape, a target that never
// answers and one answering 10 MB, scraped next to healthy targets. The
// collector must not crash, must report the broken scrapes (up = 0), and
// the healthy targets must lose nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	addr, paths := badTargets(t)
	var jobs []map[string]any
	for _, p := range paths {
		jobs = append(jobs, map[string]any{
			"job_name": "bad" + strings.ReplaceAll(p, "/", "-"), "metrics_path": p,
			"scrape_interval": "1s", "scrape_timeout": "1s",
			"static_configs": []map[string]any{{"targets": []string{addr}}},
		})
	}
	sc := startScenario(t, backendOptions{}, 2, 5, collectorSpec{ExtraScrapeConfigs: jobs})
	b, ts, c := sc.b, sc.ts, sc.c
	runFor(t, c, 15*time.Second)
	s := snapshot(ts)
	tl := b.waitDelivered(t, s, time.Minute, nil)
	st := b.fault.Stats()
	t.Logf("healthy targets next to bad ones: %s; largest request %d bytes decoded, 413s %d", tl, st.MaxDecodedBytes, st.TooLarge)

	up, err := b.prom.Query(t.Context(), `max_over_time(up{job=~"bad-.*"}[1m])`, time.Time{})
	require.NoError(t, err)
	ups := map[string]float64{}
	for _, smp := range up {
		ups[string(smp.Metric["job"])] = float64(smp.Value)
	}
	t.Logf("up of the bad targets (max over 1m): %v", ups)
	special, err := b.prom.Query(t.Context(), `bad_special`, time.Time{})
	require.NoError(t, err)
	for _, smp := range special {
		v := float64(smp.Value)
		switch smp.Metric["v"] {
		case "nan":
			require.True(t, math.IsNaN(v))
		case "pinf":
			require.True(t, math.IsInf(v, 1))
		case "ninf":
			require.True(t, math.IsInf(v, -1))
		}
	}
	require.True(t, c.running(), "collector crashed")
	require.Empty(t, tl.Missing, "healthy targets lost scrapes: %s", tl.summarize(10))
	require.Equal(t, 0.0, ups["bad-malformed"], "malformed exposition not reported")
	require.Equal(t, 0.0, ups["bad-hang"], "hanging target not reported")
	require.Len(t, special, 3, "NaN/±Inf samples")
	require.Equal(t, model.SampleValue(1), upOf(up, "bad-nan-inf"))
}

func upOf(v model.Vector, job string) model.SampleValue {
	for _, s := range v {
		if string(s.Metric["job"]) == job {
			return s.Value
		}
	}
	return -1
}
