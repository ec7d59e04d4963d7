package tcpproxy

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startEcho serves a TCP echo on loopback: it echoes until the client's end
// of stream, then writes "|eof" and closes, so tests see half-closes travel
// both ways.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if _, err := io.Copy(c, c); err == nil {
					_, _ = c.Write([]byte("|eof"))
				}
			}()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

func startProxy(t *testing.T, upstream string) *Proxy {
	t.Helper()
	p, err := Start(Config{Upstream: upstream})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	return c
}

// roundTrip writes msg and reads it back.
func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	_, err := c.Write([]byte(msg))
	require.NoError(t, err)
	buf := make([]byte, len(msg))
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	require.Equal(t, msg, string(buf))
}

func waitOpen(t *testing.T, p *Proxy, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().Open != want {
		require.True(t, time.Now().Before(deadline), "open connections: got %d, want %d", p.Stats().Open, want)
		time.Sleep(10 * time.Millisecond)
	}
}

func TestForwardsBothWaysWithHalfClose(t *testing.T) {
	p := startProxy(t, startEcho(t))
	c := dial(t, p.Addr())
	roundTrip(t, c, "hello")
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	rest, err := io.ReadAll(c)
	require.NoError(t, err, "the upstream's orderly close reaches the client")
	require.Equal(t, "|eof", string(rest), "the client's FIN reached the upstream, which answered after it")
	waitOpen(t, p, 0)
	require.Equal(t, Stats{Accepted: 1}, p.Stats())
}

// TestTLSVerifiesThroughProxy: bytes pass unchanged, so a client trusting
// the server's CA verifies the server's certificate at the proxy's address
// (httptest's certificate is valid for 127.0.0.1).
func TestTLSVerifiesThroughProxy(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	p := startProxy(t, srv.Listener.Addr().String())
	client := srv.Client()
	t.Cleanup(client.CloseIdleConnections)
	resp, err := client.Get("https://" + p.Addr() + "/")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, "ok", string(body))
	require.Equal(t, srv.TLS.Certificates[0].Leaf.Raw, resp.TLS.PeerCertificates[0].Raw, "the server's own certificate")
}

func TestRefuseCutsAndPassRestores(t *testing.T) {
	p := startProxy(t, startEcho(t))
	c := dial(t, p.Addr())
	roundTrip(t, c, "before")
	waitOpen(t, p, 1)

	require.NoError(t, p.Refuse())
	require.True(t, p.Refusing())
	require.NoError(t, p.Refuse(), "idempotent")
	_, err := c.Read(make([]byte, 1))
	require.Error(t, err, "the open connection is cut")
	require.False(t, os.IsTimeout(err), "cut at once, not left hanging: %v", err)
	require.ErrorIs(t, err, syscall.ECONNRESET, "reset, not an orderly end of stream")
	_, err = net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.Equal(t, Stats{Accepted: 1, Cut: 1}, p.Stats())

	require.NoError(t, p.Pass())
	require.NoError(t, p.Pass(), "idempotent")
	require.False(t, p.Refusing())
	c2 := dial(t, p.Addr())
	roundTrip(t, c2, "after")
	require.Equal(t, Stats{Accepted: 2, Cut: 1, Open: 1}, p.Stats())
}

func TestUpstreamUnreachableClosesConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gone := ln.Addr().String()
	require.NoError(t, ln.Close())

	p := startProxy(t, gone)
	// The reset may come before connect returns (loopback is that fast).
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err == nil {
		defer c.Close()
		require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
		_, err = c.Read(make([]byte, 1))
	}
	require.Error(t, err)
	require.False(t, os.IsTimeout(err), "closed at once: %v", err)
	require.Equal(t, Stats{Accepted: 1, DialFailures: 1}, p.Stats())
}

func TestCloseEndsEverything(t *testing.T) {
	p, err := Start(Config{Upstream: startEcho(t)})
	require.NoError(t, err)
	c := dial(t, p.Addr())
	roundTrip(t, c, "x")
	require.NoError(t, p.Close())
	require.NoError(t, p.Close(), "idempotent")
	_, err = c.Read(make([]byte, 1))
	require.Error(t, err)
	require.False(t, os.IsTimeout(err), "%v", err)
	_, err = net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.Error(t, p.Pass())
	require.Error(t, p.Refuse())
	require.Equal(t, Stats{Accepted: 1, Cut: 1}, p.Stats())
}

func TestStartRejects(t *testing.T) {
	f := func(cfg Config, want string) {
		t.Helper()
		p, err := Start(cfg)
		require.Nil(t, p)
		require.ErrorContains(t, err, want)
	}
	f(Config{}, "cannot use upstream")
	f(Config{Upstream: "10.0.0.1:443"}, `address "10.0.0.1:443" is not a loopback address`)
	f(Config{Upstream: "example.com:443"}, "is not a loopback address")
	f(Config{Upstream: "127.0.0.1:443", Addr: "0.0.0.0:0"}, `cannot listen: address "0.0.0.0:0" is not a loopback address`)
	f(Config{Upstream: "127.0.0.1:443", Addr: "127.0.0.1"}, "cannot parse address")

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	f(Config{Upstream: "127.0.0.1:443", Addr: busy.Addr().String()}, "cannot listen on "+busy.Addr().String())
}

// TestRefuseDuringTraffic: connections opened and cut concurrently leave
// nothing running (goleak) and nothing counted twice.
func TestRefuseDuringTraffic(t *testing.T) {
	p := startProxy(t, startEcho(t))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
				if err != nil {
					// Refused while refusing; reset when cut (or when a
					// Refuse raced with the accept) before connect returned.
					if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ECONNRESET) {
						t.Errorf("dial: %v", err)
					}
					continue
				}
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_, _ = c.Write([]byte("ping"))
				_, _ = io.ReadFull(c, make([]byte, 4))
				_ = c.Close()
			}
		}()
	}
	for range 10 {
		require.NoError(t, p.Refuse())
		require.NoError(t, p.Pass())
	}
	wg.Wait()
	waitOpen(t, p, 0)
	s := p.Stats()
	require.LessOrEqual(t, s.Cut+s.DialFailures, s.Accepted)
}
