// Package k8smetaprocessor adds Kubernetes metadata (workload owner, node,
// node topology, pod identity and allow-listed labels) to scraped metrics,
// both as semantic-convention resource attributes and as Prometheus-friendly
// data point labels, from the small caches of internal/kubemeta, which
// never hold ReplicaSets. See README.md for options, RBAC and measurements.
package k8smetaprocessor // import "github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor"
