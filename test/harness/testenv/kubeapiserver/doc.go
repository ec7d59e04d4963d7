// Package kubeapiserver starts a real Kubernetes control plane for tests:
// etcd v3.6.16 and kube-apiserver v1.37.2, built from the Go module proxy by
// test/k8sbuild/build.sh (`make k8s-binaries`) into a cache directory
// outside the repository (DefaultBinDir), beside a kustomize (Kustomize). There is no controller manager, scheduler or
// kubelet: objects are stored and served, RBAC is enforced, but nothing
// reconciles them, so a test creates pods itself and marks them running
// (MarkPodRunning) on a loopback address of its own.
//
// In a test:
//
//	srv := kubeapiserver.StartForTest(t, kubeapiserver.Options{})
//	client := kubernetes.NewForConfigOrDie(srv.AdminConfig())
//	kubeconfig, err := srv.ServiceAccountKubeconfig(ctx, "other", "otelcol-eks", dir)
//
// The API server listens on a free port of 127.0.0.1 with a serving
// certificate from a CA generated for the run; the admin authenticates with
// a static token (group system:masters); every other client goes through
// RBAC (--authorization-mode=RBAC). Service-account tokens are signed with
// a key generated for the run and come from the TokenRequest API, as in a
// pod with a projected token. Every request is written to an audit log
// (AuditEvents), which is how tests count forbidden answers.
//
// StartForTest fails the test, never skips it, when the binaries are
// missing, saying how to build them: `make k8s-binaries`.
package kubeapiserver
