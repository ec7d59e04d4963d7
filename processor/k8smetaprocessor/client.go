package k8smetaprocessor

import (
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// clientsProvider returns the API clients for an auth type.
type clientsProvider func(AuthType) (Clients, error)

// clientsFromAuth builds real clients: in-cluster service account or the
// standard kubeconfig loading rules ($KUBECONFIG, ~/.kube/config).
func clientsFromAuth(auth AuthType) (Clients, error) {
	var (
		rc  *rest.Config
		err error
	)
	switch auth {
	case AuthTypeServiceAccount:
		rc, err = rest.InClusterConfig()
	case AuthTypeKubeConfig:
		rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
	default:
		return Clients{}, fmt.Errorf("cannot create kubernetes clients for auth_type %q", auth)
	}
	if err != nil {
		return Clients{}, fmt.Errorf("cannot load kubernetes client configuration for auth_type %q: %w", auth, err)
	}
	rc.UserAgent = "otelcol-eks/k8smeta"
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return Clients{}, fmt.Errorf("cannot create kubernetes client: %w", err)
	}
	md, err := metadata.NewForConfig(rc)
	if err != nil {
		return Clients{}, fmt.Errorf("cannot create kubernetes metadata client: %w", err)
	}
	return Clients{Kube: kube, Metadata: md}, nil
}
