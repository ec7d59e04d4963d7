package kubeapiserver

import "syscall"

// sysProcAttr puts etcd and kube-apiserver in their own process groups, so a
// Ctrl-C meant for the test does not kill them before the orderly Stop, and
// has the kernel send them SIGTERM if the test binary dies without stopping
// them, so nothing is left running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
