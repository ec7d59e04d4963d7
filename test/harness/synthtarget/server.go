package synthtarget

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Config configures Start.
type Config struct {
	// Targets is the number of targets (T), each on its own loopback port.
	Targets int
	// LabelSets is the number of label sets each target serves (S); each is
	// SamplesPerLabelSet series.
	LabelSets int
	// Namespace is the namespace label's value; "" means "synth".
	Namespace string
	// Host is the loopback address to listen on; "" means 127.0.0.1.
	Host string
	// Protobuf makes the targets answer in the protobuf exposition when the
	// scraper accepts it, as the Prometheus client libraries do; without
	// it they answer in the text format whatever the scraper asks.
	Protobuf bool
	// NativeHistograms is the share (0 to 1) of label sets whose histogram
	// is a native histogram instead of the classic one. It needs Protobuf;
	// a scraper that does not accept protobuf then gets 406.
	NativeHistograms float64
}

// Scrape is one answer a target served.
type Scrape struct {
	// Seq is the scrape's sequence number on its target: 1, 2, 3, ...
	Seq int64
	// At is when the target answered: the answer was rendered and is about
	// to be written. It is recorded before the first byte is written, so a
	// sample of the scrape cannot reach anyone before its record exists.
	At time.Time
	// LabelSets is how many label sets it held (Scale times Config.LabelSets).
	LabelSets int
	// Samples is how many samples it held (a native histogram is one).
	Samples int
}

// Set is a running set of targets. Its methods are safe for concurrent use.
type Set struct {
	cfg     Config
	targets []*Target
	scale   atomic.Int64
}

// Target is one synthetic scrape target.
type Target struct {
	set   *Set
	index int
	pod   string
	ln    net.Listener
	srv   *http.Server

	mu     sync.Mutex // held while answering a scrape
	seq    int64
	sets   []labelSet         // grows with Scale, never shrinks
	labels [][]*dto.LabelPair // sets' labels for the protobuf exposition (Config.Protobuf)
	buf    []byte

	// servedMu guards scrapes apart from mu, so that reading them never
	// waits for an answer being written to a slow scraper.
	servedMu sync.Mutex
	scrapes  []Scrape // scrapes[i].Seq == i+1
}

// Start listens on Config.Targets free loopback ports and serves /metrics
// on each.
func Start(cfg Config) (*Set, error) {
	if cfg.Targets < 1 || cfg.LabelSets < 1 {
		return nil, fmt.Errorf("cannot start targets: want at least one target and one label set, got %d and %d", cfg.Targets, cfg.LabelSets)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "synth"
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if ip := net.ParseIP(cfg.Host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("cannot start targets: host %q is not a loopback address", cfg.Host)
	}
	if !(cfg.NativeHistograms >= 0 && cfg.NativeHistograms <= 1) {
		return nil, fmt.Errorf("cannot start targets: native histograms share %v is not between 0 and 1", cfg.NativeHistograms)
	}
	if cfg.NativeHistograms > 0 && !cfg.Protobuf {
		return nil, errors.New("cannot start targets: native histograms need the protobuf exposition (Protobuf)")
	}
	s := &Set{cfg: cfg}
	s.scale.Store(1)
	for i := range cfg.Targets {
		ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, "0"))
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("cannot listen for target %d: %w", i, err)
		}
		t := &Target{set: s, index: i, pod: PodName(i), ln: ln}
		t.srv = &http.Server{Handler: t, ReadHeaderTimeout: 10 * time.Second}
		s.targets = append(s.targets, t)
		go func() { _ = t.srv.Serve(ln) }()
	}
	return s, nil
}

// PodName is the pod label of target i, shaped like a Deployment's pod.
func PodName(i int) string { return fmt.Sprintf("synth-%03d-7d4b9c8f6-x2x7q", i) }

// Targets returns the targets in index order.
func (s *Set) Targets() []*Target { return s.targets }

// Addrs returns every target's host:port, in index order.
func (s *Set) Addrs() []string {
	out := make([]string, len(s.targets))
	for i, t := range s.targets {
		out[i] = t.Addr()
	}
	return out
}

// SetScale multiplies the label sets every target serves from the next
// scrape on (1 is Config.LabelSets); the overload scenario uses 10.
func (s *Set) SetScale(factor int) {
	s.scale.Store(int64(max(factor, 1)))
}

// SamplesServed is the number of samples every target served so far.
func (s *Set) SamplesServed() int64 {
	var n int64
	for _, t := range s.targets {
		for _, sc := range t.Served() {
			n += int64(sc.Samples)
		}
	}
	return n
}

// Close stops every target. It is safe to call more than once.
func (s *Set) Close() error {
	var errs []error
	for _, t := range s.targets {
		if err := t.srv.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Index is the target's position in its Set.
func (t *Target) Index() int { return t.index }

// Pod is the pod label this target's series carry.
func (t *Target) Pod() string { return t.pod }

// Addr is the target's host:port.
func (t *Target) Addr() string { return t.ln.Addr().String() }

// Served returns a copy of the scrapes served so far, in order.
func (t *Target) Served() []Scrape {
	t.servedMu.Lock()
	defer t.servedMu.Unlock()
	return append([]Scrape(nil), t.scrapes...)
}

// ServedAt returns when the target answered scrape seq; ok is false for a
// sequence number it has not served. It takes constant time, for callers
// that look up every sample's scrape (the benchmark sink's freshness).
func (t *Target) ServedAt(seq int64) (at time.Time, ok bool) {
	t.servedMu.Lock()
	defer t.servedMu.Unlock()
	if seq < 1 || seq > int64(len(t.scrapes)) {
		return time.Time{}, false
	}
	return t.scrapes[seq-1].At, true
}

func (t *Target) record(sc Scrape) {
	t.servedMu.Lock()
	defer t.servedMu.Unlock()
	t.scrapes = append(t.scrapes, sc)
}

// ServeHTTP answers a scrape: the next sequence number's exposition.
func (t *Target) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/metrics" {
		http.NotFound(w, r)
		return
	}
	cfg := t.set.cfg
	protobuf := cfg.Protobuf && acceptsProtobuf(r)
	if cfg.NativeHistograms > 0 && !protobuf {
		http.Error(w, "native histograms are served in the protobuf exposition only: scrape with scrape_native_histograms (Prometheus 2.42: --enable-feature=native-histograms)", http.StatusNotAcceptable)
		return
	}
	want := cfg.LabelSets * int(t.set.scale.Load())

	t.mu.Lock()
	defer t.mu.Unlock()
	for len(t.sets) < want {
		t.sets = append(t.sets, newLabelSet(cfg.Namespace, t.pod, len(t.sets)))
	}
	seq := t.seq + 1
	contentType := "text/plain; version=0.0.4; charset=utf-8"
	if protobuf {
		for len(t.labels) < want {
			t.labels = append(t.labels, pbLabels(cfg.Namespace, t.pod, len(t.labels)))
		}
		var err error
		if t.buf, err = appendProtobuf(t.buf[:0], t.labels[:want], seq, cfg.NativeHistograms); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		contentType = protobufContentType
	} else {
		t.buf = appendExposition(t.buf[:0], t.sets[:want], seq)
	}
	t.seq = seq
	// Recorded before the answer is written, so that no sample of it can
	// reach a sink before its scrape is known (bench freshness).
	t.record(Scrape{Seq: seq, At: time.Now(), LabelSets: want, Samples: cfg.Samples(want)})
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(t.buf)))
	_, _ = w.Write(t.buf)
}
