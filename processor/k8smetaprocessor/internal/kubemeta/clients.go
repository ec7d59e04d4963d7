package kubemeta

import (
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Clients are the Kubernetes API clients a Cache reads through. Tests pass
// client-go fakes (k8s.io/client-go/kubernetes/fake,
// k8s.io/client-go/metadata/fake).
type Clients struct {
	// Kube lists and watches pods.
	Kube kubernetes.Interface
	// Metadata lists and watches nodes and namespaces as
	// PartialObjectMetadata, and GETs ReplicaSets. It may be nil when
	// Settings need no nodes or namespaces; then ReplicaSets whose owner
	// cannot be derived stay the workload of their pods.
	Metadata metadata.Interface
}

// InClusterClients returns clients authenticated as the pod's service
// account.
func InClusterClients() (Clients, error) {
	rc, err := rest.InClusterConfig()
	if err != nil {
		return Clients{}, fmt.Errorf("cannot load the in-cluster configuration: %w", err)
	}
	return clientsFor(rc)
}

// KubeconfigClients returns clients configured by the standard kubeconfig
// loading rules ($KUBECONFIG, else ~/.kube/config).
func KubeconfigClients() (Clients, error) {
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return Clients{}, fmt.Errorf("cannot load the kubeconfig: %w", err)
	}
	return clientsFor(rc)
}

func clientsFor(rc *rest.Config) (Clients, error) {
	rc.UserAgent = "otelcol-eks/k8smeta"
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return Clients{}, fmt.Errorf("cannot create the kubernetes client: %w", err)
	}
	md, err := metadata.NewForConfig(rc)
	if err != nil {
		return Clients{}, fmt.Errorf("cannot create the kubernetes metadata client: %w", err)
	}
	return Clients{Kube: kube, Metadata: md}, nil
}
