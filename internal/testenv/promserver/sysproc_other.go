//go:build !linux

package promserver

import "syscall"

// sysProcAttr puts Prometheus in its own process group, so a Ctrl-C meant
// for the parent does not kill it before the parent's orderly Stop.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
