package kubeapiserver

import (
	"io"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/childproc"
)

// stopGrace is how long etcd and kube-apiserver may take to exit after
// SIGTERM before they are killed.
const stopGrace = 10 * time.Second

// startProcess starts bin with args; its output is kept in memory and, if
// not nil, goes to out.
func startProcess(name, bin string, out io.Writer, args []string) (*childproc.Process, error) {
	// SIGTERM should the test binary die without stopping them, so they
	// exit in order and nothing is left running.
	return childproc.Start(childproc.Config{
		Name: name, Path: bin, Args: args, Output: out, DeathSignal: syscall.SIGTERM,
	})
}

func loopbackAddr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
