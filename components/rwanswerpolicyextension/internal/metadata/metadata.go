// Package metadata holds what mdatagen would generate for the
// remote_write_answers extension: its type, stability and self-telemetry
// (written by hand because mdatagen is not available to this build).
package metadata // import "github.com/otelcol-eks/otelcol-eks/components/rwanswerpolicyextension/internal/metadata"

import (
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

var (
	// Type is the component type users write in configurations.
	Type = component.MustNewType("remote_write_answers")
	// ScopeName is the instrumentation scope of the self-telemetry.
	ScopeName = "github.com/otelcol-eks/otelcol-eks/components/rwanswerpolicyextension"
)

// ExtensionStability is the stability of the extension.
const ExtensionStability = component.StabilityLevelAlpha

// TelemetryBuilder creates every self-metric of the extension in one place.
type TelemetryBuilder struct {
	// RemoteWriteAnswers counts the backend's answers to remote-write
	// requests, with attributes code (the HTTP status, or "none" when the
	// request got no answer) and class ("2xx", "4xx", "5xx", ..., "error").
	RemoteWriteAnswers metric.Int64Counter
	// RemoteWriteDroppedRequests counts requests answered with a permanent
	// rejection and reported to the exporter as delivered, so that it never
	// re-sends them, with attributes code and reason (out_of_order,
	// duplicate_sample, too_old, invalid_labels, bad_request, forbidden,
	// too_large, rejected).
	RemoteWriteDroppedRequests metric.Int64Counter
	// RemoteWriteDroppedBytes counts the request bytes (as sent, compressed)
	// of the dropped requests, with attribute reason.
	RemoteWriteDroppedBytes metric.Int64Counter
}

// NewTelemetryBuilder creates the self-metrics over the component's
// MeterProvider.
func NewTelemetryBuilder(settings component.TelemetrySettings) (*TelemetryBuilder, error) {
	meter := settings.MeterProvider.Meter(ScopeName)
	var b TelemetryBuilder
	var err, errs error
	b.RemoteWriteAnswers, err = meter.Int64Counter(
		"otelcol_remote_write_answers",
		metric.WithDescription("Answers of the remote-write backend, by HTTP status code and class. [Alpha]"),
		metric.WithUnit("{answer}"),
	)
	errs = errors.Join(errs, err)
	b.RemoteWriteDroppedRequests, err = meter.Int64Counter(
		"otelcol_remote_write_dropped_requests",
		metric.WithDescription("Remote-write requests the backend rejected for good, dropped instead of re-sent, by code and reason. [Alpha]"),
		metric.WithUnit("{request}"),
	)
	errs = errors.Join(errs, err)
	b.RemoteWriteDroppedBytes, err = meter.Int64Counter(
		"otelcol_remote_write_dropped_bytes",
		metric.WithDescription("Bytes (as sent) of the dropped remote-write requests, by reason. [Alpha]"),
		metric.WithUnit("By"),
	)
	errs = errors.Join(errs, err)
	return &b, errs
}
