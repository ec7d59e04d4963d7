// Package rwsink is the benchmark's remote-write receiver: it verifies the
// SigV4 signature of every request the way the AMP stand-in does
// (test/harness/sigv4check), checks the remote-write 1.0 headers, decodes the
// body (test/harness/remotewrite) and only counts what it received: samples,
// distinct series, bytes on the wire, and the samples of each synthetic
// scrape (target, sequence number), found from the sample's value with
// synthtarget.SeqOf. For the scrapes served in a measurement window it
// also measures freshness: how long after the target answered each sample
// arrived (Freshness).
//
// Unlike remotewrite.Recorder it keeps no samples, so that the sink's own
// memory and CPU stay small next to the processes being measured at
// 500 K series: per sample it keeps a count, and the delays go into a
// histogram of fixed size.
package rwsink

import (
	"net/http"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/prometheus/prompb"

	"github.com/otelcol-eks/otelcol-eks/test/harness/remotewrite"
	"github.com/otelcol-eks/otelcol-eks/test/harness/sigv4check"
	"github.com/otelcol-eks/otelcol-eks/test/harness/synthtarget"
)

// Scrape identifies one scrape of one synthetic target.
type Scrape struct {
	Target int   // index in the synthtarget.Set
	Seq    int64 // the target's sequence number of the scrape
}

// Counters are cumulative totals since the last Reset. The difference of
// two Counters taken at two instants describes the requests received in
// between.
type Counters struct {
	Requests  int64 // accepted requests
	Rejected  int64 // refused requests (signature, headers, body)
	WireBytes int64 // compressed body bytes of accepted requests
	Samples   int64 // float samples of every series (synthetic or not)
	// Synth are samples of synthetic series attributed to a scrape;
	// Unattributed are samples named like synthetic series whose pod or
	// value matches no scrape served (a corrupted value would land here).
	Synth, Unattributed int64
	Histograms          int64 // native histogram samples (of every series)
	// Unsigned are accepted requests that carried no signature, which
	// only AllowUnsigned permits.
	Unsigned int64
}

// Sink is an http.Handler receiving remote-write 1.0 requests. It is safe
// for concurrent use; create it with New.
type Sink struct {
	verifier *sigv4check.Verifier
	targets  []*synthtarget.Target
	byPod    map[string]int // pod label -> target index
	now      func() time.Time

	mu            sync.Mutex
	allowUnsigned bool
	c             Counters
	reasons       map[string]int
	series        map[uint64]struct{}
	perScrape     map[Scrape]int
	// The freshness window: samples of scrapes served from windowStart
	// (and before windowEnd, once set) go into fresh.
	windowStart, windowEnd time.Time
	fresh                  Histogram
}

// New returns a Sink that accepts only requests signed for verifier (nil
// accepts unsigned requests) and attributes synthetic samples to targets
// (targets[i] has index i) by their pod label, and to a scrape the target
// served by their value.
func New(verifier *sigv4check.Verifier, targets []*synthtarget.Target) *Sink {
	s := &Sink{verifier: verifier, targets: targets, byPod: make(map[string]int, len(targets)), now: time.Now}
	for i, t := range targets {
		s.byPod[t.Pod()] = i
	}
	s.Reset()
	return s
}

// Reset forgets everything counted so far and closes the freshness window;
// the benchmark calls it before each run.
func (s *Sink) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c = Counters{}
	s.reasons = map[string]int{}
	s.series = map[uint64]struct{}{}
	s.perScrape = map[Scrape]int{}
	s.windowStart, s.windowEnd = time.Time{}, time.Time{}
	s.fresh = Histogram{}
}

// StartWindow opens the freshness window now and returns its start: from
// then on, every sample of a scrape served at or after the start is
// measured when it arrives. Samples that arrived before cannot be of such
// a scrape, since a target records a scrape before answering it.
func (s *Sink) StartWindow() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.windowStart, s.windowEnd = s.now(), time.Time{}
	s.fresh = Histogram{}
	return s.windowStart
}

// EndWindow ends the window of scrapes now and returns its end: samples of
// scrapes served from then on are not measured; those of the window's
// scrapes still are, whenever they arrive. Every sample counted before
// EndWindow arrived before its end, so its scrape was served before it.
func (s *Sink) EndWindow() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.windowEnd = s.now()
	return s.windowEnd
}

// Freshness summarises the delays of the window's samples that arrived so
// far (each copy of a duplicate counts).
func (s *Sink) Freshness() Freshness {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fresh.Summary()
}

// inWindowLocked reports whether a scrape served at `at` is one of the
// window's.
func (s *Sink) inWindowLocked(at time.Time) bool {
	return !s.windowStart.IsZero() && !at.Before(s.windowStart) && (s.windowEnd.IsZero() || at.Before(s.windowEnd))
}

// AllowUnsigned makes the sink accept requests without an Authorization
// header (still verifying signed ones), for senders that cannot sign:
// Debian's Prometheus 2.42 parses a remote_write sigv4 block but sends
// its requests unsigned.
func (s *Sink) AllowUnsigned(allow bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allowUnsigned = allow
}

// Counters returns the totals since the last Reset.
func (s *Sink) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c
}

// Series is the number of distinct label sets received since the last Reset.
func (s *Sink) Series() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.series)
}

// RejectReasons counts refused requests by cause (a sigv4check Reason*,
// "unsupported" or "bad_body") since the last Reset.
func (s *Sink) RejectReasons() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.reasons))
	for k, v := range s.reasons {
		out[k] = v
	}
	return out
}

// Delivered returns how many samples of each scrape in want arrived.
func (s *Sink) Delivered(want []Scrape) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int, len(want))
	for i, k := range want {
		out[i] = s.perScrape[k]
	}
	return out
}

// ServeHTTP implements http.Handler: 204 for a counted request; 403, 413,
// 415 or 400 (counted as rejected) otherwise.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v := s.verifier
	if v == nil {
		v = &sigv4check.Verifier{}
	}
	body, rej := v.ReadBody(w, r)
	arrived := s.now()
	unsigned := r.Header.Get("Authorization") == ""
	s.mu.Lock()
	skip := unsigned && s.allowUnsigned
	s.mu.Unlock()
	if rej == nil && s.verifier != nil && !skip {
		if err := s.verifier.Verify(r, body); err != nil {
			rej = sigv4check.AsReject(err)
		}
	}
	if rej != nil {
		s.reject(rej.Reason)
		rej.WriteResponse(w)
		return
	}
	if err := remotewrite.CheckHeaders(r.Header); err != nil {
		s.reject("unsupported")
		http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
		return
	}
	wr, err := remotewrite.Unmarshal(body)
	if err != nil {
		s.reject("bad_body")
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.count(wr, len(body), unsigned, arrived)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sink) reject(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c.Rejected++
	s.reasons[reason]++
}

// count adds one decoded request, which arrived at `arrived`. Label
// hashing, attribution and the look-up of when each scrape was served
// happen outside the lock; only the updates are serialised.
func (s *Sink) count(wr *prompb.WriteRequest, wireBytes int, unsigned bool, arrived time.Time) {
	hashes := make([]uint64, len(wr.Timeseries))
	type hit struct {
		k  Scrape
		n  int
		at time.Time // when the scrape was served
	}
	var hits []hit
	var c Counters
	var d xxhash.Digest
	for i, ts := range wr.Timeseries {
		d.Reset()
		var name, pod, le string
		for _, l := range ts.Labels {
			_, _ = d.WriteString(l.Name)
			_, _ = d.Write([]byte{0xff})
			_, _ = d.WriteString(l.Value)
			_, _ = d.Write([]byte{0xff})
			switch l.Name {
			case "__name__":
				name = l.Value
			case "pod":
				pod = l.Value
			case "le":
				le = l.Value
			}
		}
		hashes[i] = d.Sum64()
		c.Samples += int64(len(ts.Samples))
		c.Histograms += int64(len(ts.Histograms))
		if !isSynth(name) {
			continue
		}
		target, known := s.byPod[pod]
		attribute := func(seq int64, ok bool) {
			if !known || !ok {
				c.Unattributed++
				return
			}
			k := Scrape{Target: target, Seq: seq}
			if n := len(hits); n > 0 && hits[n-1].k == k {
				hits[n-1].n++
			} else {
				hits = append(hits, hit{k: k, n: 1})
			}
		}
		for _, smp := range ts.Samples {
			attribute(synthtarget.SeqOf(name, le, smp.Value))
		}
		for _, h := range ts.Histograms {
			attribute(synthtarget.SeqOfNativeHistogram(name, h.GetCountInt()))
		}
	}
	// Consecutive samples of one scrape share a hit: a look-up per run.
	served := hits[:0]
	for _, h := range hits {
		at, ok := s.targets[h.k.Target].ServedAt(h.k.Seq)
		if !ok {
			c.Unattributed += int64(h.n) // a value no scrape served
			continue
		}
		c.Synth += int64(h.n)
		h.at = at
		served = append(served, h)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.c.Requests++
	if unsigned {
		s.c.Unsigned++
	}
	s.c.WireBytes += int64(wireBytes)
	s.c.Samples += c.Samples
	s.c.Synth += c.Synth
	s.c.Unattributed += c.Unattributed
	s.c.Histograms += c.Histograms
	for _, h := range hashes {
		s.series[h] = struct{}{}
	}
	for _, h := range served {
		s.perScrape[h.k] += h.n
		if s.inWindowLocked(h.at) {
			s.fresh.Add(arrived.Sub(h.at), int64(h.n))
		}
	}
}

// isSynth reports whether a stored metric name is one synthtarget serves.
func isSynth(name string) bool {
	switch name {
	case synthtarget.CounterName, synthtarget.GaugeName, synthtarget.HistogramName,
		synthtarget.HistogramName + "_bucket", synthtarget.HistogramName + "_sum", synthtarget.HistogramName + "_count":
		return true
	}
	return false
}
