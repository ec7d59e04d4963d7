// Package metadata holds what mdatagen would generate for the logging
// compatibility exporter: its type and stability per signal.
package metadata // import "github.com/otelcol-eks/otelcol-eks/components/loggingexporter/internal/metadata"

import "go.opentelemetry.io/collector/component"

var (
	// Type is the component type users write in configurations.
	Type = component.MustNewType("logging")
	// ScopeName is the instrumentation scope of the exporter's own telemetry.
	ScopeName = "github.com/otelcol-eks/otelcol-eks/components/loggingexporter"
)

// Every signal is deprecated: the exporter exists only so that old
// configurations load; new ones should use the debug exporter.
const (
	TracesStability  = component.StabilityLevelDeprecated
	MetricsStability = component.StabilityLevelDeprecated
	LogsStability    = component.StabilityLevelDeprecated
)
