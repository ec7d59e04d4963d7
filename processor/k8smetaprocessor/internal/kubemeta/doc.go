// Package kubemeta is the Kubernetes side of the k8smeta processor: it
// lists and watches pods (and, when asked, nodes and namespaces), keeps the
// few fields the processor writes in small indexes, derives each pod's
// workload, resolves the ReplicaSets whose owner cannot be derived with a
// metadata GET off the watch path, and reports API errors. The processor
// reads it through Store only; nothing here knows about pdata or about the
// processor's configuration.
package kubemeta // import "github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/kubemeta"
