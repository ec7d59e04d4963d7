package faultproxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/golang/snappy"

	"github.com/otelcol-eks/otelcol-eks/test/harness/loopback"
)

// MaxBodyBytes bounds the request body the proxy reads; larger bodies are
// answered 413 without forwarding.
const MaxBodyBytes = 64 << 20

// Config configures Start.
type Config struct {
	// Upstream is the base URL requests are forwarded to, e.g.
	// http://127.0.0.1:9091. The request's path and query are kept, and so
	// is its Host header, so SigV4 signatures still verify behind the proxy.
	// Required.
	Upstream string
	// Addr is the loopback host:port to listen on; "" picks a free port.
	Addr string
	// MaxDecodedBytes, if positive, makes the proxy answer 413 to every
	// request whose body decodes (snappy block format, as remote write
	// uses) to more than this many bytes, the way AMP refuses oversize
	// requests. A body that is not snappy counts by its wire size.
	MaxDecodedBytes int
	// Client forwards requests; nil means a client with a 60s timeout.
	Client *http.Client
}

// Stats are what the proxy saw. Refused connections never reach the proxy
// and are not counted.
type Stats struct {
	// Requests counts requests received (any fault).
	Requests int64
	// Answered counts answers by HTTP status, forwarded or injected.
	Answered map[int]int64
	// Injected counts answers the proxy made up (KindStatus), by status.
	Injected map[int]int64
	// TooLarge counts requests answered 413 because of MaxDecodedBytes.
	TooLarge int64
	// Forwarded counts requests the upstream answered.
	Forwarded int64
	// UpstreamErrors counts forwards that got no answer (answered 502).
	UpstreamErrors int64
	// Repeats counts requests whose body equals an earlier request's: the
	// sender retried (or re-sent) it. A request in flight when Refuse is
	// set was counted before its connection was closed, so its retry is a
	// repeat too, whether or not the upstream stored it.
	Repeats int64
	// Attempts counts the requests received with each body, by the body's
	// SHA-256: how often each was sent.
	Attempts map[[sha256.Size]byte]int64
	// MaxWireBytes and MaxDecodedBytes are the largest request bodies seen,
	// as sent and snappy-decoded.
	MaxWireBytes, MaxDecodedBytes int
}

// Proxy is a running fault proxy. Its methods are safe for concurrent use.
type Proxy struct {
	upstream *url.URL
	client   *http.Client
	maxBody  int
	addr     string
	srv      *http.Server
	// life is canceled by Close: it ends delays and forwards in progress.
	life    context.Context
	endLife context.CancelFunc

	mu     sync.Mutex
	fault  Fault
	ln     net.Listener // nil while refusing or closed
	conns  map[net.Conn]struct{}
	seen   map[[sha256.Size]byte]int64
	closed bool
	stats  Stats
}

// Start listens on cfg.Addr (a free loopback port by default), starts
// passing requests through and returns the proxy.
func Start(cfg Config) (*Proxy, error) {
	up, err := url.Parse(cfg.Upstream)
	if err != nil || up.Scheme == "" || up.Host == "" {
		return nil, fmt.Errorf("cannot use upstream %q: want an absolute http(s) URL", cfg.Upstream)
	}
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if err := loopback.Check(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	p := &Proxy{
		upstream: up,
		client:   client,
		maxBody:  cfg.MaxDecodedBytes,
		addr:     ln.Addr().String(),
		ln:       ln,
		conns:    map[net.Conn]struct{}{},
		seen:     map[[sha256.Size]byte]int64{},
		stats:    Stats{Answered: map[int]int64{}, Injected: map[int]int64{}},
	}
	p.life, p.endLife = context.WithCancel(context.Background())
	p.srv = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		ConnState:         p.trackConn,
	}
	go p.serve(ln)
	return p, nil
}

// serve runs until ln is closed; closing it is how Refuse and Close stop it.
func (p *Proxy) serve(ln net.Listener) { _ = p.srv.Serve(ln) }

func (p *Proxy) trackConn(c net.Conn, s http.ConnState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch s {
	case http.StateNew:
		p.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(p.conns, c)
	}
}

// URL is the proxy's base URL, e.g. http://127.0.0.1:40123.
func (p *Proxy) URL() string { return "http://" + p.addr }

// Addr is the proxy's host:port; it stays the same across Refuse.
func (p *Proxy) Addr() string { return p.addr }

// Fault returns the fault in effect.
func (p *Proxy) Fault() Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fault
}

// Set applies f to every request from now on. Switching to Refuse closes
// the listener and every open connection (requests in flight fail, but
// stay counted: see Stats.Repeats); switching away from it listens again
// on the same address. Set fails only when that address cannot be bound
// again within a few seconds.
func (p *Proxy) Set(f Fault) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("cannot set a fault: the proxy is closed")
	}
	p.fault = f
	switch {
	case f.Kind == KindRefuse && p.ln != nil:
		_ = p.ln.Close()
		p.ln = nil
		for c := range p.conns {
			_ = c.Close()
			delete(p.conns, c)
		}
	case f.Kind != KindRefuse && p.ln == nil:
		ln, err := loopback.Relisten(p.addr)
		if err != nil {
			return err
		}
		p.ln = ln
		go p.serve(ln)
	}
	return nil
}

// Stats returns a copy of the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Answered = maps.Clone(p.stats.Answered)
	s.Injected = maps.Clone(p.stats.Injected)
	s.Attempts = maps.Clone(p.seen)
	return s
}

// Close stops listening, closes every connection and ends delays in
// progress. It is safe to call more than once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.endLife()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	p.mu.Unlock()
	return p.srv.Close()
}

// ServeHTTP applies the fault in effect to r.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	_ = r.Body.Close()
	if err != nil {
		p.answer(w, http.StatusBadRequest, false, fmt.Sprintf("cannot read request body: %v", err))
		return
	}
	decoded := len(body)
	if n, err := snappy.DecodedLen(body); err == nil {
		decoded = n
	}

	sum := sha256.Sum256(body)
	p.mu.Lock()
	f := p.fault
	p.stats.Requests++
	if p.seen[sum] > 0 {
		p.stats.Repeats++
	}
	p.seen[sum]++
	p.stats.MaxWireBytes = max(p.stats.MaxWireBytes, len(body))
	p.stats.MaxDecodedBytes = max(p.stats.MaxDecodedBytes, decoded)
	tooLarge := len(body) > MaxBodyBytes || (p.maxBody > 0 && decoded > p.maxBody)
	if tooLarge {
		p.stats.TooLarge++
	}
	p.mu.Unlock()

	if tooLarge {
		p.answer(w, http.StatusRequestEntityTooLarge, true, fmt.Sprintf("request body of %d bytes (decoded) exceeds the limit of %d bytes", decoded, p.maxBody))
		return
	}
	switch f.Kind {
	case KindStatus:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
		}
		p.answer(w, f.Status, true, fmt.Sprintf("fault injected: %s", f))
		return
	case KindDelay:
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-p.life.Done():
			t.Stop()
			return
		}
	}
	p.forward(w, r, body)
}

func (p *Proxy) answer(w http.ResponseWriter, status int, injected bool, msg string) {
	p.mu.Lock()
	p.stats.Answered[status]++
	if injected {
		p.stats.Injected[status]++
	}
	p.mu.Unlock()
	http.Error(w, msg, status)
}

func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, body []byte) {
	target := *p.upstream
	target.Path = r.URL.Path
	target.RawPath = r.URL.RawPath
	target.RawQuery = r.URL.RawQuery
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(p.life, cancel)
	defer stop()
	out, err := http.NewRequestWithContext(ctx, r.Method, target.String(), bytes.NewReader(body))
	if err != nil {
		p.countUpstreamError(w, err)
		return
	}
	out.Header = r.Header.Clone()
	out.Host = r.Host
	out.ContentLength = int64(len(body))
	resp, err := p.client.Do(out)
	if err != nil {
		p.countUpstreamError(w, err)
		return
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	p.mu.Lock()
	p.stats.Forwarded++
	p.stats.Answered[resp.StatusCode]++
	p.mu.Unlock()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(respBody)
}

func (p *Proxy) countUpstreamError(w http.ResponseWriter, err error) {
	p.mu.Lock()
	p.stats.UpstreamErrors++
	p.stats.Answered[http.StatusBadGateway]++
	p.mu.Unlock()
	http.Error(w, fmt.Sprintf("cannot forward request: %v", err), http.StatusBadGateway)
}
