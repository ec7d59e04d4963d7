//go:build !linux

package workshop

import "syscall"

// childProcAttr: outside Linux the collector shares the caller's process
// group and is not killed with it.
func childProcAttr() *syscall.SysProcAttr { return nil }
