package workshop

import "syscall"

// childProcAttr puts the collector in its own process group, so a Ctrl-C
// meant for the caller does not stop it before Stop flushes it in order,
// and has the kernel kill it should the caller die without calling Stop.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
