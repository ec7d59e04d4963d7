package ampstandin

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Stats are the stand-in's counters, served as JSON on /stats.
type Stats struct {
	// Accepted counts requests whose signature verified (then forwarded).
	Accepted int64 `json:"accepted"`
	// Rejected counts refused requests by sigv4check reason.
	Rejected map[string]int64 `json:"rejected"`
	// RejectedTotal is the sum of Rejected.
	RejectedTotal int64 `json:"rejected_total"`
	// MostRejectionsOfOneRequest is the most times one request body was
	// refused: how often a sender retried the same refused request.
	MostRejectionsOfOneRequest int64 `json:"most_rejections_of_one_request"`
	// Upstream counts upstream answers by HTTP status code.
	Upstream map[string]int64 `json:"upstream"`
	// UpstreamErrors counts forwards that got no answer at all.
	UpstreamErrors int64 `json:"upstream_errors"`
	// ForwardedBytes sums the compressed bodies the upstream answered.
	ForwardedBytes int64 `json:"forwarded_bytes"`
	// HA counts what the deduplication of HA pairs decided; empty when it
	// is off (Config.HA).
	HA HAStats `json:"ha"`
}

// HAStats are the counters of the deduplication of HA pairs (ha.go).
type HAStats struct {
	// Requests counts verified requests by verdict: "leader" (from the
	// leader of its cluster: stored without __replica__), "deduplicated"
	// (from another replica: answered 202, not stored), "not_ha" (the
	// first series lacks cluster or __replica__: stored as it is) and
	// "undecodable" (answered 415 or 400).
	Requests map[string]int64 `json:"requests"`
	// Samples counts the samples and native histograms of those requests
	// by the same verdicts (not "undecodable").
	Samples map[string]int64 `json:"samples"`
	// LeaderChanges counts elections by cluster: its first leader, then
	// every failover.
	LeaderChanges map[string]int64 `json:"leader_changes"`
	// Leaders names the leader of each cluster.
	Leaders map[string]string `json:"leaders"`
}

type counters struct {
	mu sync.Mutex
	s  Stats
	// rejectedBodies counts the refusals of each request body, by SHA-256.
	rejectedBodies map[[sha256.Size]byte]int64
}

func newCounters() counters {
	return counters{s: Stats{Rejected: map[string]int64{}, Upstream: map[string]int64{}, HA: HAStats{
		Requests: map[string]int64{}, Samples: map[string]int64{}, LeaderChanges: map[string]int64{}, Leaders: map[string]string{},
	}}, rejectedBodies: map[[sha256.Size]byte]int64{}}
}

// reject counts a refusal of body (nil when it could not be read).
func (c *counters) reject(reason string, body []byte) {
	sum := sha256.Sum256(body)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Rejected[reason]++
	c.s.RejectedTotal++
	c.rejectedBodies[sum]++
	c.s.MostRejectionsOfOneRequest = max(c.s.MostRejectionsOfOneRequest, c.rejectedBodies[sum])
}

func (c *counters) accept() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Accepted++
}

func (c *counters) upstream(status, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Upstream[strconv.Itoa(status)]++
	c.s.ForwardedBytes += int64(bytes)
}

func (c *counters) upstreamError() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.UpstreamErrors++
}

// haVerdict counts a request the deduplication decided on, with its
// samples, and the election it made (nil if none).
func (c *counters) haVerdict(v haVerdict, samples int64, e *haElection) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.HA.Requests[v.String()]++
	c.s.HA.Samples[v.String()] += samples
	if e != nil {
		c.s.HA.LeaderChanges[e.cluster]++
		c.s.HA.Leaders[e.cluster] = e.replica
	}
}

func (c *counters) haUndecodable() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.HA.Requests["undecodable"]++
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	s.Rejected = maps.Clone(c.s.Rejected)
	s.Upstream = maps.Clone(c.s.Upstream)
	s.HA = HAStats{
		Requests: maps.Clone(c.s.HA.Requests), Samples: maps.Clone(c.s.HA.Samples),
		LeaderChanges: maps.Clone(c.s.HA.LeaderChanges), Leaders: maps.Clone(c.s.HA.Leaders),
	}
	return s
}

func (p *Proxy) serveStats(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(p.Stats())
}

// serveMetrics writes the counters in the Prometheus text format (0.0.4).
func (p *Proxy) serveMetrics(w http.ResponseWriter) {
	s := p.Stats()
	var b strings.Builder
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	labelled := func(name, label string, m map[string]int64) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s{%s=%q} %d\n", name, label, k, m[k])
		}
	}
	family("amp_standin_accepted_requests_total", "counter", "Requests whose SigV4 signature verified.")
	fmt.Fprintf(&b, "amp_standin_accepted_requests_total %d\n", s.Accepted)
	family("amp_standin_rejected_requests_total", "counter", "Requests refused, by reason.")
	labelled("amp_standin_rejected_requests_total", "reason", s.Rejected)
	family("amp_standin_upstream_responses_total", "counter", "Upstream answers, by HTTP status code.")
	labelled("amp_standin_upstream_responses_total", "code", s.Upstream)
	family("amp_standin_upstream_errors_total", "counter", "Forwards that got no upstream answer.")
	fmt.Fprintf(&b, "amp_standin_upstream_errors_total %d\n", s.UpstreamErrors)
	family("amp_standin_forwarded_bytes_total", "counter", "Compressed remote-write bytes forwarded.")
	fmt.Fprintf(&b, "amp_standin_forwarded_bytes_total %d\n", s.ForwardedBytes)
	family("amp_standin_ha_requests_total", "counter", "Requests the deduplication of HA pairs decided on, by verdict.")
	labelled("amp_standin_ha_requests_total", "verdict", s.HA.Requests)
	family("amp_standin_ha_samples_total", "counter", "Samples of those requests, by verdict.")
	labelled("amp_standin_ha_samples_total", "verdict", s.HA.Samples)
	family("amp_standin_ha_leader_changes_total", "counter", "Leader elections, by cluster: the first leader, then every failover.")
	labelled("amp_standin_ha_leader_changes_total", "cluster", s.HA.LeaderChanges)
	family("amp_standin_ha_leader", "gauge", "1 for the leader replica of each cluster.")
	for _, cluster := range slices.Sorted(maps.Keys(s.HA.Leaders)) {
		fmt.Fprintf(&b, "amp_standin_ha_leader{cluster=%q,replica=%q} 1\n", cluster, s.HA.Leaders[cluster])
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}
