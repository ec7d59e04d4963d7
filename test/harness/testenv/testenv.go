// Package testenv holds what the real-process test environments
// (promserver, kubeapiserver) share; each lives in its own subpackage.
package testenv // import "github.com/otelcol-eks/otelcol-eks/test/harness/testenv"

// TB is the part of testing.TB that the environments' StartForTest use:
// they fail the test, never skip it, when the process cannot start, and
// print its log when the test failed.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
	Logf(format string, args ...any)
	Failed() bool
}
