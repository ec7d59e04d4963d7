// Package e2ek8s runs the EKS workshop's metrics pipeline against a real
// kube-apiserver (test/harness/testenv/kubeapiserver): bin/otelcol-eks with the
// workshop's kubernetes-pods job and k8smeta, taken from deploy/'s
// OpenTelemetryCollector, authenticating as deploy/'s ServiceAccount with a
// TokenRequest token (so RBAC is deploy/'s ClusterRole), scraping pods that
// the test serves on loopback addresses, and remote-writing through the
// SigV4-checking AMP stand-in into a real Prometheus, where the test asserts
// with PromQL.
//
// The tests carry the e2ek8s build tag and need bin/otelcol-eks (make
// build), prometheus (make ensure-prometheus) and the control-plane binaries
// (make k8s-binaries): `make e2e-k8s` does all three.
package e2ek8s
