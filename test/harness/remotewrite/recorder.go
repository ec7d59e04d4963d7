package remotewrite

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/prometheus/prompb"

	"github.com/otelcol-eks/otelcol-eks/test/harness/sigv4check"
)

// Stats counts what a Recorder received.
type Stats struct {
	Requests      int            // requests accepted (verified and decoded)
	Rejected      int            // requests refused: bad signature, wrong headers, undecodable body
	RejectReasons map[string]int // Rejected by cause: a sigv4check Reason*, "unsupported" or "bad_body"
	Series        int            // distinct label sets seen
	Samples       int            // float samples, staleness markers included
	StaleMarkers  int            // float samples that are Prometheus staleness markers
	Histograms    int            // native histogram samples
	Exemplars     int
	Metadata      int   // metadata entries
	WireBytes     int64 // compressed body bytes of accepted requests
	// OutOfOrder counts samples older than the previous sample of their
	// series, Duplicates samples with the same timestamp as the previous
	// one (retries, or several writers racing); remote-write 1.0 senders
	// must keep per-series order, so both stay 0 for a correct sender.
	OutOfOrder int
	Duplicates int
	// BadLabels counts series whose label set breaks the remote-write 1.0
	// rules (unsorted, repeated or empty names, empty values, no __name__);
	// LastBadLabels describes the last one.
	BadLabels     int
	LastBadLabels string
}

// Snapshot is what a WaitFor condition sees: the current Stats, and the
// series on demand. A Snapshot is valid only during the condition call.
type Snapshot struct {
	Stats  Stats
	series func() []Series
}

// Series returns a copy of the series received so far, sorted by label
// set, as Recorder.Series does.
func (s Snapshot) Series() []Series { return s.series() }

// Recorder is an http.Handler receiving remote-write 1.0 requests. It
// verifies the SigV4 signature first when it has a Verifier, decodes each
// request, keeps every series and sample, and answers 204 like Prometheus.
// Refused requests are answered 403 (signature, AWS-like body), 415
// (unsupported headers) or 400 (undecodable body) and only counted.
// A Recorder is safe for concurrent use; the zero value is not usable, use
// NewRecorder.
type Recorder struct {
	verifier *sigv4check.Verifier

	mu       sync.Mutex
	series   map[string]*Series
	metadata map[string]prompb.MetricMetadata
	stats    Stats
	changed  chan struct{} // closed and replaced on every request, to wake WaitFor
}

// NewRecorder returns an empty Recorder. A nil verifier accepts unsigned
// requests.
func NewRecorder(verifier *sigv4check.Verifier) *Recorder {
	return &Recorder{
		verifier: verifier,
		series:   make(map[string]*Series),
		metadata: make(map[string]prompb.MetricMetadata),
		stats:    Stats{RejectReasons: make(map[string]int)},
		changed:  make(chan struct{}),
	}
}

// ServeHTTP implements http.Handler.
func (r *Recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	v := r.verifier
	if v == nil {
		v = &sigv4check.Verifier{}
	}
	body, rej := v.ReadBody(w, req)
	if rej == nil && r.verifier != nil {
		if err := r.verifier.Verify(req, body); err != nil {
			rej = sigv4check.AsReject(err)
		}
	}
	if rej != nil {
		r.reject(rej.Reason)
		rej.WriteResponse(w)
		return
	}
	if err := CheckHeaders(req.Header); err != nil {
		r.reject("unsupported")
		http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
		return
	}
	wr, err := Unmarshal(body)
	if err != nil {
		r.reject("bad_body")
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.add(wr, len(body))
	w.WriteHeader(http.StatusNoContent)
}

func (r *Recorder) reject(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Rejected++
	r.stats.RejectReasons[reason]++
	r.notifyLocked()
}

// Add records a decoded request as if it had arrived over HTTP with
// wireBytes compressed bytes; harnesses that decode themselves use it.
func (r *Recorder) Add(wr *prompb.WriteRequest, wireBytes int) { r.add(wr, wireBytes) }

func (r *Recorder) add(wr *prompb.WriteRequest, wireBytes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Requests++
	r.stats.WireBytes += int64(wireBytes)
	for _, ts := range wr.Timeseries {
		if p := labelProblem(ts.Labels); p != "" {
			r.stats.BadLabels++
			r.stats.LastBadLabels = labelsString(ts.Labels) + ": " + p
		}
		ls := sortedLabels(ts.Labels)
		key := labelsString(ls)
		s, ok := r.series[key]
		if !ok {
			s = &Series{Labels: ls}
			r.series[key] = s
			r.stats.Series++
		}
		for _, smp := range ts.Samples {
			r.checkOrderLocked(s.Samples, smp.Timestamp)
			s.Samples = append(s.Samples, smp)
			r.stats.Samples++
			if isStale(smp.Value) {
				r.stats.StaleMarkers++
			}
		}
		for _, h := range ts.Histograms {
			s.Histograms = append(s.Histograms, h)
			r.stats.Histograms++
		}
		s.Exemplars = append(s.Exemplars, ts.Exemplars...)
		r.stats.Exemplars += len(ts.Exemplars)
	}
	for _, md := range wr.Metadata {
		r.metadata[md.MetricFamilyName] = md
		r.stats.Metadata++
	}
	r.notifyLocked()
}

func (r *Recorder) checkOrderLocked(prev []prompb.Sample, ts int64) {
	if len(prev) == 0 {
		return
	}
	switch last := prev[len(prev)-1].Timestamp; {
	case ts < last:
		r.stats.OutOfOrder++
	case ts == last:
		r.stats.Duplicates++
	}
}

func (r *Recorder) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Series returns a deep copy of every series received, sorted by label set.
func (r *Recorder) Series() []Series {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seriesLocked()
}

func (r *Recorder) seriesLocked() []Series {
	out := make([]Series, 0, len(r.series))
	for _, s := range r.series {
		out = append(out, Series{
			Labels:     slices.Clone(s.Labels),
			Samples:    slices.Clone(s.Samples),
			Histograms: slices.Clone(s.Histograms),
			Exemplars:  slices.Clone(s.Exemplars),
		})
	}
	slices.SortFunc(out, func(a, b Series) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// Metadata returns the latest metadata received per metric family, sorted
// by family name.
func (r *Recorder) Metadata() []prompb.MetricMetadata {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]prompb.MetricMetadata, 0, len(r.metadata))
	for _, md := range r.metadata {
		out = append(out, md)
	}
	slices.SortFunc(out, func(a, b prompb.MetricMetadata) int { return strings.Compare(a.MetricFamilyName, b.MetricFamilyName) })
	return out
}

// Stats returns a copy of the counters.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.statsLocked()
}

func (r *Recorder) statsLocked() Stats {
	s := r.stats
	s.RejectReasons = make(map[string]int, len(r.stats.RejectReasons))
	for k, v := range r.stats.RejectReasons {
		s.RejectReasons[k] = v
	}
	return s
}

// Reset forgets everything received so far (series, metadata, counters).
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.series = make(map[string]*Series)
	r.metadata = make(map[string]prompb.MetricMetadata)
	r.stats = Stats{RejectReasons: make(map[string]int)}
	r.notifyLocked()
}

// WaitFor returns nil as soon as cond holds, checking it now and again
// after every request (accepted or refused), never by polling on a timer.
// cond runs with the Recorder locked: it must be quick, must not call the
// Recorder's methods and must not keep the Snapshot. When ctx ends first,
// WaitFor returns an error wrapping ctx's error and describing the last
// Stats, so a failing test says what did arrive.
func (r *Recorder) WaitFor(ctx context.Context, cond func(Snapshot) bool) error {
	for {
		r.mu.Lock()
		snap := Snapshot{Stats: r.statsLocked(), series: r.seriesLocked}
		ok := cond(snap)
		changed := r.changed
		stats := snap.Stats
		r.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("remote-write condition not met: %w (received %s)", context.Cause(ctx), stats)
		}
	}
}

// String summarises the counters on one line.
func (s Stats) String() string {
	reasons := make([]string, 0, len(s.RejectReasons))
	for k, v := range s.RejectReasons {
		reasons = append(reasons, fmt.Sprintf("%s=%d", k, v))
	}
	slices.Sort(reasons)
	return fmt.Sprintf("requests=%d rejected=%d [%s] series=%d samples=%d stale=%d histograms=%d exemplars=%d metadata=%d wire_bytes=%d out_of_order=%d duplicates=%d bad_labels=%d",
		s.Requests, s.Rejected, strings.Join(reasons, " "), s.Series, s.Samples, s.StaleMarkers, s.Histograms, s.Exemplars, s.Metadata, s.WireBytes, s.OutOfOrder, s.Duplicates, s.BadLabels)
}
