package workshop

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// tcpForwarder accepts connections on a fixed loopback address and relays
// each, byte for byte, to target. It gives Prometheus the well-known address
// `make run` prints (127.0.0.1:9090) while promserver runs it on a port of
// its own choosing; everything, the web UI included, works through it.
type tcpForwarder struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func startForwarder(addr, target string) (*tcpForwarder, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %q: %w", addr, err)
	}
	f := &tcpForwarder{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.accept()
	return f, nil
}

func (f *tcpForwarder) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !f.track(c) {
			c.Close()
			return
		}
		f.wg.Add(1)
		go f.relay(c)
	}
}

// track records c so Close can end it; false once closed.
func (f *tcpForwarder) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *tcpForwarder) untrack(c net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.conns, c)
}

func (f *tcpForwarder) relay(client net.Conn) {
	defer f.wg.Done()
	defer f.untrack(client)
	defer client.Close()
	upstream, err := net.Dial("tcp", f.target)
	if err != nil {
		return
	}
	if !f.track(upstream) {
		upstream.Close()
		return
	}
	defer f.untrack(upstream)
	defer upstream.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Half-close so the other side sees EOF; if it cannot, close.
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		} else {
			dst.Close()
		}
		done <- struct{}{}
	}
	go pipe(upstream, client)
	go pipe(client, upstream)
	<-done
	<-done
}

// Addr returns the address the forwarder listens on.
func (f *tcpForwarder) Addr() string { return f.ln.Addr().String() }

// Close stops accepting, ends every relayed connection and waits for the
// relays to finish.
func (f *tcpForwarder) Close() {
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.ln.Close()
	f.wg.Wait()
}
