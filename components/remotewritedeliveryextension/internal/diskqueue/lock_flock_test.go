//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package diskqueue

import (
	"errors"
	"testing"
)

// TestOpenTwice: a second Open of a directory fails with ErrLocked while
// the first is open. Only where flock(2) exists, as lock_flock.go.
func TestOpenTwice(t *testing.T) {
	opts := testOptions(t, nil)
	mustOpen(t, opts)
	q, err := Open(opts)
	if err == nil {
		_ = q.Close()
		t.Fatal("a second Open of the same directory succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("a second Open of the same directory: %v, not ErrLocked", err)
	}
}
