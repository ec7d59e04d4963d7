//go:build !linux

package kubeapiserver

import "syscall"

// sysProcAttr puts etcd and kube-apiserver in their own process groups; only
// Linux can also tie their lives to the test binary's.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
