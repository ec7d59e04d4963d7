// Package kubemetatest serves Kubernetes objects to kubemeta through
// client-go fakes, for the tests of kubemeta and of the processor.
package kubemetatest // import "github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/kubemeta/kubemetatest"

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
)

// Objects are the Kubernetes objects a test serves, as YAML or JSON
// lists under these keys; ReplicaSets are only read as metadata, so their
// metadata is all they have.
type Objects struct {
	Namespaces  []corev1.Namespace             `json:"namespaces"`  // served as metadata
	Nodes       []corev1.Node                  `json:"nodes"`       // served as metadata
	ReplicaSets []metav1.PartialObjectMetadata `json:"replicasets"` // served as metadata
	Pods        []corev1.Pod                   `json:"pods"`        // served whole
}

// FakeClients serves objs as a cluster does to kubemeta (as its
// Clients.Kube and Clients.Metadata): pods through the typed clientset;
// nodes, namespaces and ReplicaSets as PartialObjectMetadata through the
// metadata client.
func FakeClients(objs Objects) (*fake.Clientset, *metadatafake.FakeMetadataClient) {
	var typed []runtime.Object
	for i := range objs.Pods {
		typed = append(typed, &objs.Pods[i])
	}
	var meta []runtime.Object
	for _, n := range objs.Nodes {
		meta = append(meta, Partial("v1", "Node", n.ObjectMeta))
	}
	for _, n := range objs.Namespaces {
		meta = append(meta, Partial("v1", "Namespace", n.ObjectMeta))
	}
	for _, rs := range objs.ReplicaSets {
		meta = append(meta, Partial("apps/v1", "ReplicaSet", rs.ObjectMeta))
	}
	kube := fake.NewClientset(typed...)
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		panic(err) // registering fixed types cannot fail
	}
	return kube, metadatafake.NewSimpleMetadataClient(scheme, meta...)
}

// Partial returns the PartialObjectMetadata of an object of kind.
func Partial(apiVersion, kind string, om metav1.ObjectMeta) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}, ObjectMeta: om}
}
