//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package diskqueue

import (
	"os"
	"path/filepath"
)

// lockDir only creates the lock file: without flock(2), two queues on one
// directory are not detected.
func lockDir(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o640)
}
