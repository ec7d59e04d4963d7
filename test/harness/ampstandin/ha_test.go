package ampstandin

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"

	"github.com/otelcol-eks/otelcol-eks/test/harness/remotewrite"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/promserver"
)

// TestHATracker: the election of one leader per cluster, as Cortex's
// distributor and HA tracker decide it.
func TestHATracker(t *testing.T) {
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tr := newHATracker(HAConfig{Enabled: true, FailoverTimeout: 3 * time.Second})
	f := func(at time.Duration, cluster, replica string, want haVerdict, wantElected string, wantElection bool) {
		t.Helper()
		got, elected, e := tr.check(cluster, replica, start.Add(at))
		if got != want || elected != wantElected || (e != nil) != wantElection {
			t.Fatalf("at %s, %s/%s: %s, elected %q, election %+v; want %s, %q, election %v",
				at, cluster, replica, got, elected, e, want, wantElected, wantElection)
		}
	}
	f(0, "eks", "a", haLeader, "a", true)                           // the first request elects its replica
	f(500*time.Millisecond, "eks", "b", haDeduplicated, "a", false) // another replica is dropped
	f(time.Second, "eks", "a", haLeader, "a", false)                // the leader again: its silence starts over
	f(3900*time.Millisecond, "eks", "b", haDeduplicated, "a", false)
	f(4*time.Second-time.Millisecond, "eks", "b", haDeduplicated, "a", false) // just under the timeout
	f(2*time.Second, "other", "b", haLeader, "b", true)                       // clusters are independent
	f(3*time.Second, "eks", "", haNotHA, "", false)                           // no replica label: stored as is
	f(3*time.Second, "", "b", haNotHA, "", false)                             // no cluster label: stored as is
	f(4*time.Second, "eks", "b", haLeader, "b", true)                         // the leader silent 3 s: failover
	f(4100*time.Millisecond, "eks", "a", haDeduplicated, "b", false)          // the old leader is now the standby
	f(10*time.Second, "eks", "a", haLeader, "a", true)                        // and takes over once b is silent
	_, _, e := tr.check("eks", "b", start.Add(20*time.Second))
	if e == nil || e.previous != "a" || e.silentFor != 10*time.Second {
		t.Fatalf("election %+v, want from a, silent for 10s", e)
	}
	if d := newHATracker(HAConfig{Enabled: true}).failover; d != DefaultFailoverTimeout {
		t.Fatalf("default failover timeout %s", d)
	}
}

// haSeries is one series of the HA test: its labels but the HA ones.
func haSeries(name, product string) []prompb.Label {
	return []prompb.Label{{Name: "__name__", Value: name}, {Name: "productId", Value: product}}
}

// haRequest builds a request of series, each labelled with extra (name,
// value pairs; the HA labels), one sample of value v now.
func haRequest(t *testing.T, v float64, series [][]prompb.Label, extra ...string) []byte {
	t.Helper()
	wr := &prompb.WriteRequest{}
	for _, s := range series {
		ls := append([]prompb.Label(nil), s...)
		for i := 0; i+1 < len(extra); i += 2 {
			ls = append(ls, prompb.Label{Name: extra[i], Value: extra[i+1]})
		}
		wr.Timeseries = append(wr.Timeseries, prompb.TimeSeries{Labels: ls,
			Samples: []prompb.Sample{{Value: v, Timestamp: time.Now().UnixMilli()}}})
	}
	body, err := remotewrite.Marshal(wr)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// TestHADeduplication puts the stand-in, deduplication on, in front of a
// real Prometheus and sends it what an HA pair sends: only the leader's
// samples are stored, without __replica__; the other replica is answered
// 202 with Cortex's message; the leader's silence for the failover timeout
// hands over to the other replica; requests whose first series lacks a
// label are stored as they are.
func TestHADeduplication(t *testing.T) {
	prom := promserver.StartForTest(t, promserver.Options{})
	const failover = 3 * time.Second
	e := newEnvWith(t, func(c *Config) {
		c.Upstream = prom.RemoteWriteURL()
		c.HA = HAConfig{Enabled: true, FailoverTimeout: failover}
	})
	const path = "/workspaces/ws-ha/api/v1/remote_write"
	orders := [][]prompb.Label{haSeries("orders_total", "1"), haSeries("orders_total", "2")}
	send := func(v float64, wantStatus int, extra ...string) string {
		t.Helper()
		status, answer := e.post(t, path, haRequest(t, v, orders, extra...), testCreds)
		if status != wantStatus {
			t.Fatalf("value %v from %v: answered %d %q, want %d", v, extra, status, answer, wantStatus)
		}
		return answer
	}
	send(1, http.StatusNoContent, "cluster", "eks", "__replica__", "a")
	answer := send(100, http.StatusAccepted, "cluster", "eks", "__replica__", "b")
	if !strings.Contains(answer, "replicas did not match, rejecting sample: replica=b, elected=a") {
		t.Fatalf("202 answer %q lacks Cortex's message", answer)
	}
	e.clock.Add(failover - time.Millisecond)
	send(2, http.StatusNoContent, "cluster", "eks", "__replica__", "a")
	e.clock.Add(failover - time.Millisecond)
	send(200, http.StatusAccepted, "cluster", "eks", "__replica__", "b")
	// a stops; b takes over once a has been silent for the timeout.
	e.clock.Add(time.Millisecond)
	send(300, http.StatusNoContent, "cluster", "eks", "__replica__", "b")
	send(3, http.StatusAccepted, "cluster", "eks", "__replica__", "a")
	// Without the replica label (the collectors' own metrics) or the
	// cluster label, stored as sent.
	send(7, http.StatusNoContent, "cluster", "eks", "instance", "collector-a")
	send(8, http.StatusNoContent, "__replica__", "a", "instance", "no-cluster")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stored := func(q string) model.Vector {
		t.Helper()
		v, err := prom.WaitForQuery(ctx, q, 0, func(v model.Vector) bool { return len(v) > 0 })
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return v
	}
	// One series per product, without __replica__, holding the leader's
	// samples only: 1 and 2 from a, then 300 from b.
	v := stored(`count_over_time(orders_total{cluster="eks", instance=""}[5m])`)
	if len(v) != 2 {
		t.Fatalf("series %v, want one per product", v)
	}
	for _, s := range v {
		if s.Value != 3 || len(s.Metric) != 2 {
			t.Fatalf("%v: want 3 samples, and labels productId and cluster only", s)
		}
	}
	for q, want := range map[string]model.SampleValue{
		`min_over_time(orders_total{cluster="eks", instance=""}[5m])`: 1,
		`max_over_time(orders_total{cluster="eks", instance=""}[5m])`: 300,
		`sum_over_time(orders_total{cluster="eks", instance=""}[5m])`: 303,
	} {
		for _, s := range stored(q) {
			if s.Value != want {
				t.Fatalf("%s = %v, want %v", q, s, want)
			}
		}
	}
	if v := stored(`orders_total{instance="collector-a"}`); v[0].Metric["cluster"] != "eks" || v[0].Value != 7 {
		t.Fatalf("request without __replica__: %v", v)
	}
	if v := stored(`orders_total{instance="no-cluster"}`); v[0].Metric["__replica__"] != "a" || v[0].Value != 8 {
		t.Fatalf("request without cluster: %v, want it stored with its __replica__", v)
	}

	st := e.proxy.Stats().HA
	want := map[string]int64{"leader": 3, "deduplicated": 3, "not_ha": 2}
	for k, n := range want {
		if st.Requests[k] != n || st.Samples[k] != 2*n {
			t.Fatalf("HA stats %+v, want requests %v, two samples each", st, want)
		}
	}
	if st.LeaderChanges["eks"] != 2 || st.Leaders["eks"] != "b" {
		t.Fatalf("HA stats %+v, want two elections, b leading", st)
	}
	if logs := e.logs.String(); strings.Count(logs, "HA leader elected") != 2 || !strings.Contains(logs, "previous=a") {
		t.Fatalf("elections not logged:\n%s", logs)
	}
	resp, err := e.srv.Client().Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`amp_standin_ha_requests_total{verdict="deduplicated"} 3`,
		`amp_standin_ha_samples_total{verdict="leader"} 6`,
		`amp_standin_ha_leader_changes_total{cluster="eks"} 2`,
		`amp_standin_ha_leader{cluster="eks",replica="b"} 1`,
	} {
		if !strings.Contains(b.String(), line+"\n") {
			t.Fatalf("/metrics lacks %q:\n%s", line, b.String())
		}
	}
}

// TestHAOffByDefault: without Config.HA the stand-in forwards bodies
// unread, the HA labels included, as every other test expects.
func TestHAOffByDefault(t *testing.T) {
	e := newEnv(t)
	body := haRequest(t, 1, [][]prompb.Label{haSeries("orders_total", "1")}, "cluster", "eks", "__replica__", "a")
	for range 2 {
		if status, answer := e.post(t, "/api/v1/write", body, testCreds); status != http.StatusNoContent {
			t.Fatalf("answered %d %q", status, answer)
		}
	}
	calls := e.upstream.Calls()
	if len(calls) != 2 || !bytes.Equal(calls[1].Body, body) {
		t.Fatalf("upstream got %d calls, want 2 with the body unchanged", len(calls))
	}
	if st := e.proxy.Stats().HA; len(st.Requests)+len(st.Leaders) != 0 {
		t.Fatalf("HA stats %+v with deduplication off", st)
	}
}

// TestHAUnreadable: with deduplication on, a body that is not remote-write
// 1.0 is refused (415 for its headers, 400 for its content) and never
// forwarded.
func TestHAUnreadable(t *testing.T) {
	e := newEnvWith(t, func(c *Config) { c.HA = HAConfig{Enabled: true} })
	f := func(contentType string, body []byte, want int, wantMessage string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/write", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		remotewrite.SetHeaders(req.Header)
		req.Header.Set("Content-Type", contentType)
		signWith(t, req, body, testCreds, e.clock.Now())
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want || !strings.Contains(string(answer), wantMessage) {
			t.Fatalf("answered %d %q, want %d with %q", resp.StatusCode, answer, want, wantMessage)
		}
	}
	f("application/x-protobuf;proto=io.prometheus.write.v2.Request", []byte("x"), http.StatusUnsupportedMediaType, "remote-write 1.0")
	f("application/x-protobuf", []byte("not snappy"), http.StatusBadRequest, "cannot snappy-decode")
	if n := len(e.upstream.Calls()); n != 0 {
		t.Fatalf("upstream called %d times", n)
	}
	if st := e.proxy.Stats().HA; st.Requests["undecodable"] != 2 {
		t.Fatalf("HA stats %+v", st)
	}
}
