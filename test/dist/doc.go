// Package dist tests the built distribution as a user runs it: the binary
// from `make build` (OTELCOL_EKS_BIN), its CLI, and every shipped
// configuration, validated in a pod-like environment (the service-account
// files the workshop configuration names exist, as in a pod).
//
// The tests carry the e2e build tag: `make e2e` (and `make test`) build the
// binary first and run them.
package dist
