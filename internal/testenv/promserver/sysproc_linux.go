package promserver

import "syscall"

// sysProcAttr puts Prometheus in its own process group, so a Ctrl-C meant
// for the parent does not kill it before the parent's orderly Stop, and
// has the kernel send it SIGTERM if the parent dies without stopping it,
// so nothing is left running (`make run`, a killed test binary).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
