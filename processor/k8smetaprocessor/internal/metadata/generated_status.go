// Package metadata holds the component type, stability and self-telemetry of
// the k8smeta processor, in the shape mdatagen generates (written by hand
// because mdatagen is not available to this build).
package metadata // import "github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/metadata"

import (
	"go.opentelemetry.io/collector/component"
)

var (
	// Type is the component type used in collector configurations.
	Type = component.MustNewType("k8smeta")
	// ScopeName is the instrumentation scope of the self-telemetry.
	ScopeName = "github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor"
)

const (
	// MetricsStability is the stability of the metrics pipeline support.
	MetricsStability = component.StabilityLevelAlpha
)
