//go:build chaos

package chaos

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestMain runs the suite, then asserts scenario 8: no log captured by
// any test (collector, stand-in, Prometheus) contains the secret access
// key or the session token the collector was given.
func TestMain(m *testing.M) {
	code := m.Run()
	if leaks := secretLeaks(); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: secrets found in captured logs: %s\n", strings.Join(leaks, "; "))
		code = 1
	}
	os.Exit(code)
}

// secretLeaks names every captured log holding a secret.
func secretLeaks() []string {
	logs.Lock()
	defer logs.Unlock()
	var leaks []string
	for _, c := range logs.all {
		text := c.String()
		for name, secret := range map[string]string{"secret access key": testSecretKey, "session token": testSessionToken} {
			if strings.Contains(text, secret) {
				leaks = append(leaks, fmt.Sprintf("%s in %s", name, c.name))
			}
		}
	}
	return leaks
}
