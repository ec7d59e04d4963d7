package tcpproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/otelcol-eks/otelcol-eks/test/harness/loopback"
)

// DialTimeout bounds the connection to the upstream made for each accepted
// connection; a connection whose upstream cannot be reached is closed.
const DialTimeout = 5 * time.Second

// Config configures Start.
type Config struct {
	// Upstream is the loopback host:port connections are forwarded to.
	// Required.
	Upstream string
	// Addr is the loopback host:port to listen on; "" picks a free port of
	// 127.0.0.1.
	Addr string
}

// Stats are what the proxy saw. Connections refused while the proxy
// refuses never reach it and are not counted.
type Stats struct {
	// Accepted counts connections accepted.
	Accepted int64
	// DialFailures counts accepted connections closed because the upstream
	// could not be reached.
	DialFailures int64
	// Cut counts connections ended by Refuse or Close.
	Cut int64
	// Open is the number of connections being forwarded now.
	Open int
}

// Proxy is a running TCP proxy. Its methods are safe for concurrent use.
type Proxy struct {
	upstream string
	addr     string
	// life is canceled by Close: it ends dials in progress.
	life    context.Context
	endLife context.CancelFunc
	wg      sync.WaitGroup // accept loops and connection handlers

	mu     sync.Mutex
	ln     net.Listener // nil while refusing or closed
	links  map[*link]struct{}
	closed bool
	stats  Stats
}

// link is one forwarded connection: the accepted one and, once dialled,
// its upstream.
type link struct {
	client, upstream net.Conn
}

// Start listens on cfg.Addr, starts passing connections through to
// cfg.Upstream and returns the proxy. Both addresses must be on loopback.
func Start(cfg Config) (*Proxy, error) {
	if err := loopback.Check(cfg.Upstream); err != nil {
		return nil, fmt.Errorf("cannot use upstream: %w", err)
	}
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if err := loopback.Check(addr); err != nil {
		return nil, fmt.Errorf("cannot listen: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	p := &Proxy{upstream: cfg.Upstream, addr: ln.Addr().String(), ln: ln, links: map[*link]struct{}{}}
	p.life, p.endLife = context.WithCancel(context.Background())
	p.wg.Add(1)
	go p.serve(ln)
	return p, nil
}

// Addr is the proxy's host:port; it stays the same across Refuse and Pass.
func (p *Proxy) Addr() string { return p.addr }

// Refusing reports whether the proxy refuses connections.
func (p *Proxy) Refusing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ln == nil
}

// Refuse closes the listening socket, so that new connections are refused,
// and cuts every open connection: the client side is reset (RST), the
// upstream side closed. It fails only when the proxy is closed.
func (p *Proxy) Refuse() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("cannot refuse connections: the proxy is closed")
	}
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	p.cutAllLocked()
	return nil
}

// Pass listens again on Addr, so that new connections are forwarded. It
// fails when the proxy is closed or the address cannot be bound again
// within a few seconds (another process took the port).
func (p *Proxy) Pass() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("cannot pass connections: the proxy is closed")
	}
	if p.ln != nil {
		return nil
	}
	ln, err := loopback.Relisten(p.addr)
	if err != nil {
		return err
	}
	p.ln = ln
	p.wg.Add(1)
	go p.serve(ln)
	return nil
}

// Stats returns a copy of the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Open = len(p.links)
	return s
}

// Close stops listening, cuts every connection and waits until every
// goroutine of the proxy has ended. It is safe to call more than once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.endLife()
		if p.ln != nil {
			_ = p.ln.Close()
			p.ln = nil
		}
		p.cutAllLocked()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

// cutAllLocked ends every open connection; p.mu is held.
func (p *Proxy) cutAllLocked() {
	for l := range p.links {
		reset(l.client)
		if l.upstream != nil {
			_ = l.upstream.Close()
		}
		delete(p.links, l)
		p.stats.Cut++
	}
}

// serve accepts connections on ln until ln is closed (by Refuse or Close).
func (p *Proxy) serve(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of file descriptors or similar: the listener stays usable.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p.wg.Add(1)
		go p.handle(ln, c)
	}
}

// handle forwards one accepted connection, unless ln stopped being the
// proxy's listener since the accept (a Refuse raced with it).
func (p *Proxy) handle(ln net.Listener, client net.Conn) {
	defer p.wg.Done()
	l := &link{client: client}
	p.mu.Lock()
	if p.ln != ln {
		p.mu.Unlock()
		reset(client)
		return
	}
	p.links[l] = struct{}{}
	p.stats.Accepted++
	p.mu.Unlock()

	d := net.Dialer{Timeout: DialTimeout}
	up, err := d.DialContext(p.life, "tcp", p.upstream)
	p.mu.Lock()
	_, alive := p.links[l] // false once cut by Refuse or Close
	switch {
	case err != nil:
		p.stats.DialFailures++
		delete(p.links, l)
	case alive:
		l.upstream = up
	}
	p.mu.Unlock()
	if err != nil || !alive {
		reset(client)
		if up != nil {
			_ = up.Close()
		}
		return
	}

	p.wg.Add(1)
	done := make(chan struct{})
	go func() {
		defer p.wg.Done()
		defer close(done)
		pipe(up, client)
	}()
	pipe(client, up)
	<-done
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
	_ = client.Close()
	_ = up.Close()
}

// pipe copies src to dst. At src's end of stream it half-closes dst, so
// that a peer's FIN travels through; on an error (a reset, or the other
// direction closing both) it closes both, which ends the other direction.
func pipe(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if err == nil {
		if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			return
		}
	}
	_ = dst.Close()
	_ = src.Close()
}

// reset closes c so that its peer sees a reset rather than an orderly end
// of stream, as when a host or a middlebox drops a connection.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
