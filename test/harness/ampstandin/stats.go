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
}

type counters struct {
	mu sync.Mutex
	s  Stats
	// rejectedBodies counts the refusals of each request body, by SHA-256.
	rejectedBodies map[[sha256.Size]byte]int64
}

func newCounters() counters {
	return counters{s: Stats{Rejected: map[string]int64{}, Upstream: map[string]int64{}}, rejectedBodies: map[[sha256.Size]byte]int64{}}
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

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	s.Rejected = maps.Clone(c.s.Rejected)
	s.Upstream = maps.Clone(c.s.Upstream)
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
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}
