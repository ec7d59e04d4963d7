package k8smetaprocessor

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	"sigs.k8s.io/yaml"
)

// testObjects are the Kubernetes objects a test serves through fakes.
type testObjects struct {
	Namespaces  []corev1.Namespace             `json:"namespaces"`
	Nodes       []corev1.Node                  `json:"nodes"`
	ReplicaSets []metav1.PartialObjectMetadata `json:"replicasets"`
	Pods        []corev1.Pod                   `json:"pods"`
}

func loadObjects(t testing.TB, path string) testObjects {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var objs testObjects
	require.NoError(t, yaml.UnmarshalStrict(raw, &objs))
	return objs
}

// fakeClients serves objs through client-go fakes: pods through the typed
// clientset, nodes, namespaces and ReplicaSets as metadata.
func fakeClients(objs testObjects) (Clients, *fake.Clientset, *metadatafake.FakeMetadataClient) {
	var typed []runtime.Object
	for i := range objs.Pods {
		typed = append(typed, &objs.Pods[i])
	}
	var meta []runtime.Object
	for _, n := range objs.Nodes {
		meta = append(meta, partial("v1", "Node", n.ObjectMeta))
	}
	for _, n := range objs.Namespaces {
		meta = append(meta, partial("v1", "Namespace", n.ObjectMeta))
	}
	for _, rs := range objs.ReplicaSets {
		meta = append(meta, partial("apps/v1", "ReplicaSet", rs.ObjectMeta))
	}
	kube := fake.NewClientset(typed...)
	scheme := metadatafake.NewTestScheme()
	metav1.AddMetaToScheme(scheme)
	md := metadatafake.NewSimpleMetadataClient(scheme, meta...)
	return Clients{Kube: kube, Metadata: md}, kube, md
}

func partial(apiVersion, kind string, om metav1.ObjectMeta) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}, ObjectMeta: om}
}
