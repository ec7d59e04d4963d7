// Package loopback keeps the project's test servers, proxies and stand-ins
// on this machine: every address they listen on or forward to must be in
// 127.0.0.0/8, ::1 or "localhost". They hold test credentials and generate
// load, and this project's rule is that neither ever leaves loopback.
package loopback // import "github.com/otelcol-eks/otelcol-eks/test/harness/loopback"

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// Check returns nil when addr (host:port) names a loopback address: an IP
// in 127.0.0.0/8, ::1, or "localhost". An empty host (":9091", every
// interface) and any other name are refused, since a name may resolve
// elsewhere.
func Check(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("cannot parse address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q is not a loopback address", addr)
	}
	return nil
}

// relistenTimeout bounds how long Relisten waits for the kernel to release
// an address.
const relistenTimeout = 5 * time.Second

// Relisten binds addr again after the listener that held it was closed (a
// proxy that "refuses connections" closes its listener, then listens on the
// same address when it passes traffic again). It retries for a few seconds
// while the address is still in use, and fails on any other error.
func Relisten(addr string) (net.Listener, error) {
	deadline := time.Now().Add(relistenTimeout)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return ln, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return nil, fmt.Errorf("cannot listen on %s again: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FreePorts returns n distinct TCP ports that were free on 127.0.0.1: all n
// are held until the last is chosen, so they differ from each other. Another
// process may still take one before the caller's child binds it; the child
// then fails to start, and its log says so.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("cannot find a free port: %w", err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
