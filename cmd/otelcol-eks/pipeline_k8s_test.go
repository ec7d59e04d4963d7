package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	metadatafake "k8s.io/client-go/metadata/fake"

	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor"
)

// loadKubernetesObjects decodes a multi-document YAML file of Kubernetes
// objects (Pods, Nodes, Namespaces, ReplicaSets, ...) with client-go's
// universal deserializer, so the file reads like `kubectl get -o yaml`
// output. A missing file yields no objects.
func loadKubernetesObjects(path string) ([]runtime.Object, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read kubernetes objects: %w", err)
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	decoder := scheme.Codecs.UniversalDeserializer()
	var objs []runtime.Object
	for i := 0; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("cannot split %s into documents: %w", path, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("cannot decode document %d of %s: %w", i, path, err)
		}
		objs = append(objs, obj)
	}
}

// fakeKubernetesClients serves objs the way the k8smeta processor reads a
// cluster: every object through the typed fake clientset (pods are listed
// and watched there), and Nodes, Namespaces and ReplicaSets also as
// PartialObjectMetadata through the metadata fake, which the processor uses
// for them.
func fakeKubernetesClients(objs []runtime.Object) k8smetaprocessor.Clients {
	var meta []runtime.Object
	for _, obj := range objs {
		switch o := obj.(type) {
		case *corev1.Node:
			meta = append(meta, partialMetadata("v1", "Node", o.ObjectMeta))
		case *corev1.Namespace:
			meta = append(meta, partialMetadata("v1", "Namespace", o.ObjectMeta))
		case *appsv1.ReplicaSet:
			meta = append(meta, partialMetadata("apps/v1", "ReplicaSet", o.ObjectMeta))
		}
	}
	metaScheme := metadatafake.NewTestScheme()
	metav1.AddMetaToScheme(metaScheme)
	return k8smetaprocessor.Clients{
		Kube:     fake.NewClientset(objs...),
		Metadata: metadatafake.NewSimpleMetadataClient(metaScheme, meta...),
	}
}

func partialMetadata(apiVersion, kind string, om metav1.ObjectMeta) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}, ObjectMeta: om}
}
