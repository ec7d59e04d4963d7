package childproc

import "syscall"

// sysProcAttr puts the child in its own process group, so a Ctrl-C meant for
// the parent does not stop it before Stop ends it in order, and has the
// kernel send it sig should the parent die without calling Stop.
func sysProcAttr(sig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: sig}
}
