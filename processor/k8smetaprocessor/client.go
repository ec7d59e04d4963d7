package k8smetaprocessor

import (
	"fmt"

	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/kubemeta"
)

// Clients are the Kubernetes API clients of the processor: Kube lists and
// watches pods; Metadata lists and watches nodes and namespaces as
// PartialObjectMetadata and GETs ReplicaSets. Tests pass client-go fakes
// through NewFactoryWithClients.
type Clients = kubemeta.Clients

// clientsProvider returns the API clients for an auth type.
type clientsProvider func(AuthType) (Clients, error)

// clientsFromAuth builds real clients: in-cluster service account or the
// standard kubeconfig loading rules ($KUBECONFIG, ~/.kube/config).
func clientsFromAuth(auth AuthType) (Clients, error) {
	var (
		c   Clients
		err error
	)
	switch auth {
	case AuthTypeServiceAccount:
		c, err = kubemeta.InClusterClients()
	case AuthTypeKubeConfig:
		c, err = kubemeta.KubeconfigClients()
	default:
		return Clients{}, fmt.Errorf("cannot create kubernetes clients for auth_type %q", auth)
	}
	if err != nil {
		return Clients{}, fmt.Errorf("cannot create kubernetes clients for auth_type %q: %w", auth, err)
	}
	return c, nil
}
