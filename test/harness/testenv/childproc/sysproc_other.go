//go:build !linux

package childproc

import "syscall"

// sysProcAttr puts the child in its own process group, so a Ctrl-C meant for
// the parent does not stop it before Stop ends it in order. Outside Linux
// there is no parent-death signal: sig is ignored.
func sysProcAttr(sig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
