package main

import (
	"context"
	"fmt"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/otelcol-eks/otelcol-eks/test/harness/synthtarget"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/kubeapiserver"
)

// podTemplateHash is the ReplicaSet suffix of every synthetic pod name
// (synthtarget.PodName: synth-NNN-7d4b9c8f6-x2x7q), so k8smeta derives the
// Deployment synth-NNN without a ReplicaSet GET, as for real Deployments.
const podTemplateHash = "7d4b9c8f6"

// benchNodes are the nodes the synthetic pods run on, labelled like EKS
// managed node group nodes so that node_topology has work to do.
var benchNodes = []struct{ name, zone, instanceType, capacityType string }{
	{"ip-10-0-1-10.us-west-2.compute.internal", "us-west-2a", "m6i.large", "ON_DEMAND"},
	{"ip-10-0-2-10.us-west-2.compute.internal", "us-west-2b", "m6i.large", "ON_DEMAND"},
	{"ip-10-0-3-10.us-west-2.compute.internal", "us-west-2c", "m7g.xlarge", "SPOT"},
}

// startCluster starts a kube-apiserver holding, for every synthetic
// target, a running pod of the same namespace and name (owned by a
// ReplicaSet of a Deployment) on one of benchNodes, and writes an admin
// kubeconfig into dir. The caller stops the returned server.
func startCluster(ctx context.Context, set *synthtarget.Set, namespace, dir string) (*kubeapiserver.Server, string, error) {
	srv, err := kubeapiserver.Start(ctx, kubeapiserver.Options{})
	if err != nil {
		return nil, "", fmt.Errorf("cannot start kube-apiserver (build it with `make k8s-binaries`): %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = srv.Stop()
		}
	}()
	client, err := kubernetes.NewForConfig(srv.AdminConfig())
	if err != nil {
		return nil, "", fmt.Errorf("cannot create admin client: %w", err)
	}
	if err := kubeapiserver.EnsureNamespace(ctx, client, namespace); err != nil {
		return nil, "", err
	}
	for _, n := range benchNodes {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: map[string]string{
			"kubernetes.io/hostname":           n.name,
			"kubernetes.io/os":                 "linux",
			"topology.kubernetes.io/region":    "us-west-2",
			"topology.kubernetes.io/zone":      n.zone,
			"node.kubernetes.io/instance-type": n.instanceType,
			"eks.amazonaws.com/nodegroup":      "bench",
			"eks.amazonaws.com/capacityType":   n.capacityType,
		}}}
		if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return nil, "", fmt.Errorf("cannot create node %s: %w", n.name, err)
		}
	}
	for _, t := range set.Targets() {
		i := t.Index()
		rs := fmt.Sprintf("synth-%03d-%s", i, podTemplateHash)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: t.Pod(), Namespace: namespace,
				Labels: map[string]string{"app.kubernetes.io/name": fmt.Sprintf("synth-%03d", i), "pod-template-hash": podTemplateHash},
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs, UID: "00000000-0000-0000-0000-000000000001",
					Controller: ptr(true),
				}},
			},
			Spec: corev1.PodSpec{
				NodeName:   benchNodes[i%len(benchNodes)].name,
				Containers: []corev1.Container{{Name: "app", Image: "example.com/synth:1"}},
			},
		}
		created, err := client.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			return nil, "", fmt.Errorf("cannot create pod %s/%s: %w", namespace, pod.Name, err)
		}
		if _, err := kubeapiserver.MarkPodRunning(ctx, client, created, fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)); err != nil {
			return nil, "", err
		}
	}
	kubeconfig := filepath.Join(dir, "admin.kubeconfig")
	if err := srv.AdminKubeconfig(kubeconfig); err != nil {
		return nil, "", err
	}
	ok = true
	return srv, kubeconfig, nil
}

func ptr[T any](v T) *T { return &v }
