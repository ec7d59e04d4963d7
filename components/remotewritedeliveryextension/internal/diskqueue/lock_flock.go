//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package diskqueue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lockDir takes an exclusive flock(2) on dir's lock file. The kernel drops
// it when the process dies, so a SIGKILLed owner never blocks a restart.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("cannot create lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("cannot lock %s: %w", f.Name(), ErrLocked)
		}
		return nil, fmt.Errorf("cannot lock %s: %w", f.Name(), err)
	}
	return f, nil
}
