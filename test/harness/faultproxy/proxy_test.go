package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func startProxy(t *testing.T, cfg Config) (*Proxy, *atomic.Int64) {
	t.Helper()
	var seen atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		w.Header().Set("X-Host-Seen", r.Host)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(up.Close)
	cfg.Upstream = up.URL
	p, err := Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p, &seen
}

func post(t *testing.T, c *http.Client, url string, body []byte) (*http.Response, error) {
	t.Helper()
	resp, err := c.Post(url, "application/x-protobuf", bytes.NewReader(body))
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func TestFaults(t *testing.T) {
	p, seen := startProxy(t, Config{})
	c := &http.Client{Timeout: 5 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	url := p.URL() + "/workspaces/ws/api/v1/remote_write"

	f := func(fault Fault, wantStatus int, wantForwarded int64) {
		t.Helper()
		require.NoError(t, p.Set(fault))
		before := seen.Load()
		resp, err := post(t, c, url, []byte("x"))
		require.NoError(t, err, fault.String())
		require.Equal(t, wantStatus, resp.StatusCode, fault.String())
		require.Equal(t, wantForwarded, seen.Load()-before, fault.String())
		if fault.RetryAfter > 0 {
			require.Equal(t, "2", resp.Header.Get("Retry-After"))
		}
	}
	f(Pass(), http.StatusNoContent, 1)
	f(Status(http.StatusServiceUnavailable), http.StatusServiceUnavailable, 0)
	f(TooManyRequests(1500*time.Millisecond), http.StatusTooManyRequests, 0)
	f(Status(http.StatusForbidden), http.StatusForbidden, 0)
	f(Delay(10*time.Millisecond), http.StatusNoContent, 1)

	s := p.Stats()
	require.Equal(t, int64(5), s.Requests)
	require.Equal(t, int64(4), s.Repeats) // the same body five times
	require.Equal(t, int64(2), s.Forwarded)
	require.Equal(t, int64(1), s.Injected[http.StatusTooManyRequests])
	require.Equal(t, int64(2), s.Answered[http.StatusNoContent])
}

func TestRefuseThenPass(t *testing.T) {
	p, seen := startProxy(t, Config{})
	c := &http.Client{Timeout: 5 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	url := p.URL() + "/api/v1/write"

	_, err := post(t, c, url, []byte("x")) // opens a keep-alive connection
	require.NoError(t, err)
	require.NoError(t, p.Set(Refuse()))
	// The client's pooled connection was closed by the proxy; a new one
	// must be refused by the kernel.
	c.CloseIdleConnections()
	_, err = post(t, c, url, []byte("x"))
	require.Error(t, err)
	require.True(t, errors.Is(err, syscall.ECONNREFUSED), "want connection refused, got %v", err)

	require.NoError(t, p.Set(Pass()))
	resp, err := post(t, c, url, []byte("x"))
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, int64(2), seen.Load())
}

func TestHostKeptForSignatures(t *testing.T) {
	p, _ := startProxy(t, Config{})
	resp, err := http.Post(p.URL()+"/x", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, p.Addr(), resp.Header.Get("X-Host-Seen"))
}

func TestMaxDecodedBytes(t *testing.T) {
	p, seen := startProxy(t, Config{MaxDecodedBytes: 1000})
	c := &http.Client{Timeout: 5 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	small := snappy.Encode(nil, make([]byte, 1000))
	large := snappy.Encode(nil, make([]byte, 1001)) // compresses far below 1000 on the wire

	resp, err := post(t, c, p.URL(), small)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	resp, err = post(t, c, p.URL(), large)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	require.Equal(t, int64(1), seen.Load())
	s := p.Stats()
	require.Equal(t, int64(1), s.TooLarge)
	require.Equal(t, 1001, s.MaxDecodedBytes)
}

func TestDelayEndsOnClose(t *testing.T) {
	p, seen := startProxy(t, Config{})
	require.NoError(t, p.Set(Delay(time.Hour)))
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, p.URL(), nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	require.Eventually(t, func() bool { return p.Stats().Requests == 1 }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, p.Close())
	select {
	case <-errc:
	case <-time.After(5 * time.Second):
		t.Fatal("a delayed request outlived Close")
	}
	require.Equal(t, int64(0), seen.Load())
	require.Error(t, p.Set(Pass()))
}

func TestRejectsNonLoopback(t *testing.T) {
	_, err := Start(Config{Upstream: "http://127.0.0.1:1", Addr: "0.0.0.0:0"})
	require.ErrorContains(t, err, "not a loopback address")
	_, err = Start(Config{Upstream: "not a url"})
	require.ErrorContains(t, err, "cannot use upstream")
}
