// Package metadata holds what mdatagen would generate for the
// remote_write_delivery extension: its type, stability and self-telemetry
// (written by hand because mdatagen is not available to this build).
package metadata // import "github.com/otelcol-eks/otelcol-eks/components/remotewritedeliveryextension/internal/metadata"

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

var (
	// Type is the component type users write in configurations.
	Type = component.MustNewType("remote_write_delivery")
	// ScopeName is the instrumentation scope of the self-telemetry.
	ScopeName = "github.com/otelcol-eks/otelcol-eks/components/remotewritedeliveryextension"
)

// ExtensionStability is the stability of the extension.
const ExtensionStability = component.StabilityLevelAlpha

// TelemetryBuilder creates every self-metric of the extension in one place.
// The gauges are observed from the queue when the metrics are read; the
// callback is registered by the extension and removed by Shutdown.
type TelemetryBuilder struct {
	meter metric.Meter

	// RemoteWriteAnswers counts the backend's answers, with attributes code
	// (the HTTP status, or "none" when the attempt got no answer) and class
	// ("2xx", "4xx", "5xx", ..., "error").
	RemoteWriteAnswers metric.Int64Counter
	// RemoteWriteSentRequests counts the requests the backend accepted (2xx).
	RemoteWriteSentRequests metric.Int64Counter
	// RemoteWriteSentBytes counts their bytes as sent (compressed).
	RemoteWriteSentBytes metric.Int64Counter
	// RemoteWriteRetriedRequests counts the attempts that will be retried,
	// with attribute reason (connection, server_error, throttled,
	// credentials).
	RemoteWriteRetriedRequests metric.Int64Counter
	// RemoteWriteDroppedRequests counts the requests that will never be
	// delivered, with attribute reason: answered for good by the backend
	// (out_of_order, duplicate_sample, too_old, invalid_labels, bad_request,
	// too_large, rejected), or dropped here (expired, queue_full,
	// disk_full, disk_error, corrupt).
	RemoteWriteDroppedRequests metric.Int64Counter
	// RemoteWriteDroppedBytes counts the bytes of the dropped requests (as
	// captured, compressed), with attribute reason.
	RemoteWriteDroppedBytes metric.Int64Counter
	// RemoteWriteQueueWriteDuration records how long each request took to
	// be appended to the queue (and synced, when sync_interval is 0).
	RemoteWriteQueueWriteDuration metric.Float64Histogram
	// RemoteWriteQueueBytes, RemoteWriteQueueRequests and
	// RemoteWriteQueueOldestAge describe what waits in the queue: its size
	// on disk, its requests, and the age of the oldest one (0 when empty).
	RemoteWriteQueueBytes     metric.Int64ObservableGauge
	RemoteWriteQueueRequests  metric.Int64ObservableGauge
	RemoteWriteQueueOldestAge metric.Float64ObservableGauge
}

// NewTelemetryBuilder creates the self-metrics over the component's
// MeterProvider.
func NewTelemetryBuilder(settings component.TelemetrySettings) (*TelemetryBuilder, error) {
	b := TelemetryBuilder{meter: settings.MeterProvider.Meter(ScopeName)}
	var err, errs error
	counter := func(name, description, unit string) metric.Int64Counter {
		var c metric.Int64Counter
		c, err = b.meter.Int64Counter(name, metric.WithDescription(description+" [Alpha]"), metric.WithUnit(unit))
		errs = errors.Join(errs, err)
		return c
	}
	b.RemoteWriteAnswers = counter("otelcol_remote_write_answers",
		"Answers of the remote-write backend, by HTTP status code and class.", "{answer}")
	b.RemoteWriteSentRequests = counter("otelcol_remote_write_sent_requests",
		"Remote-write requests the backend accepted.", "{request}")
	b.RemoteWriteSentBytes = counter("otelcol_remote_write_sent_bytes",
		"Bytes (compressed, as sent) of the remote-write requests the backend accepted.", "By")
	b.RemoteWriteRetriedRequests = counter("otelcol_remote_write_retried_requests",
		"Attempts to send a remote-write request that will be retried, by reason.", "{attempt}")
	b.RemoteWriteDroppedRequests = counter("otelcol_remote_write_dropped_requests",
		"Remote-write requests that will never be delivered, by reason.", "{request}")
	b.RemoteWriteDroppedBytes = counter("otelcol_remote_write_dropped_bytes",
		"Bytes (compressed) of the remote-write requests that will never be delivered, by reason.", "By")
	b.RemoteWriteQueueWriteDuration, err = b.meter.Float64Histogram("otelcol_remote_write_queue_write_duration",
		metric.WithDescription("Time to append a remote-write request to the on-disk queue. [Alpha]"),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1))
	errs = errors.Join(errs, err)
	b.RemoteWriteQueueBytes, err = b.meter.Int64ObservableGauge("otelcol_remote_write_queue_bytes",
		metric.WithDescription("Bytes of the remote-write requests waiting in the on-disk queue. [Alpha]"), metric.WithUnit("By"))
	errs = errors.Join(errs, err)
	b.RemoteWriteQueueRequests, err = b.meter.Int64ObservableGauge("otelcol_remote_write_queue_requests",
		metric.WithDescription("Remote-write requests waiting in the on-disk queue. [Alpha]"), metric.WithUnit("{request}"))
	errs = errors.Join(errs, err)
	b.RemoteWriteQueueOldestAge, err = b.meter.Float64ObservableGauge("otelcol_remote_write_queue_oldest_age",
		metric.WithDescription("Age of the oldest remote-write request waiting in the on-disk queue; 0 when it is empty. [Alpha]"), metric.WithUnit("s"))
	errs = errors.Join(errs, err)
	return &b, errs
}

// QueueState is what the queue gauges report.
type QueueState struct {
	Bytes, Requests  int64
	OldestAgeSeconds float64
}

// RegisterQueueCallback observes the queue gauges through state every time
// the metrics are read. The returned function unregisters it.
func (b *TelemetryBuilder) RegisterQueueCallback(state func() QueueState, opts ...metric.ObserveOption) (unregister func() error, err error) {
	reg, err := b.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := state()
		o.ObserveInt64(b.RemoteWriteQueueBytes, s.Bytes, opts...)
		o.ObserveInt64(b.RemoteWriteQueueRequests, s.Requests, opts...)
		o.ObserveFloat64(b.RemoteWriteQueueOldestAge, s.OldestAgeSeconds, opts...)
		return nil
	}, b.RemoteWriteQueueBytes, b.RemoteWriteQueueRequests, b.RemoteWriteQueueOldestAge)
	if err != nil {
		return nil, err
	}
	return reg.Unregister, nil
}
