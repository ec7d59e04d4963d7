package ampstandin

import (
	"fmt"
	"net"
)

// CheckLoopback returns nil when addr (host:port) names only a loopback
// address: an IP in 127.0.0.0/8 or ::1, or "localhost". An empty host
// (":9091") listens on every interface and is refused, as are names that
// resolve elsewhere. The stand-in holds test credentials and must not be
// reachable from other machines unless asked.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("cannot parse listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listen address %q is not a loopback address (use -allow-non-loopback to override)", addr)
	}
	return nil
}
