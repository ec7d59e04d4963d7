package metadata

import (
	"context"
	"errors"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

// Meter returns the meter of this component from its telemetry settings.
func Meter(settings component.TelemetrySettings) metric.Meter {
	return settings.MeterProvider.Meter(ScopeName)
}

// TelemetryBuilder creates every self-metric of the processor in one place.
// Counters are used directly; observable gauges are read through callbacks
// registered with the Register* methods and released by Shutdown.
type TelemetryBuilder struct {
	meter         metric.Meter
	mu            sync.Mutex
	registrations []metric.Registration

	// K8smetaAssociations counts association attempts, with attributes
	// source (pod_uid, pod_name, pod_ip, datapoint_labels) and result
	// (hit, miss). An attempt is counted only when the identifying
	// attributes for that source are present.
	K8smetaAssociations metric.Int64Counter
	// K8smetaAPIErrors counts errors from the Kubernetes API, with
	// attributes resource and reason (e.g. Forbidden).
	K8smetaAPIErrors metric.Int64Counter
	// K8smetaCacheEntries is the number of cached objects, with attribute
	// kind (pod, node, namespace, replicaset).
	K8smetaCacheEntries metric.Int64ObservableGauge
	// K8smetaCacheSynced is 1 once the initial list of every informer the
	// processor needs has completed, 0 before.
	K8smetaCacheSynced metric.Int64ObservableGauge
}

// RegisterK8smetaCacheEntriesCallback sets the callback of the observable
// K8smetaCacheEntries gauge.
func (builder *TelemetryBuilder) RegisterK8smetaCacheEntriesCallback(cb metric.Int64Callback) error {
	return builder.register(builder.K8smetaCacheEntries, cb)
}

// RegisterK8smetaCacheSyncedCallback sets the callback of the observable
// K8smetaCacheSynced gauge.
func (builder *TelemetryBuilder) RegisterK8smetaCacheSyncedCallback(cb metric.Int64Callback) error {
	return builder.register(builder.K8smetaCacheSynced, cb)
}

func (builder *TelemetryBuilder) register(inst metric.Int64Observable, cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		return cb(ctx, observerInt64{inst: inst, obs: o})
	}, inst)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

type observerInt64 struct {
	metric.Int64Observer
	inst metric.Int64Observable
	obs  metric.Observer
}

func (oi observerInt64) Observe(value int64, opts ...metric.ObserveOption) {
	oi.obs.ObserveInt64(oi.inst, value, opts...)
}

// Shutdown unregisters every callback; it is safe to call more than once.
func (builder *TelemetryBuilder) Shutdown() {
	builder.mu.Lock()
	defer builder.mu.Unlock()
	for _, reg := range builder.registrations {
		_ = reg.Unregister()
	}
	builder.registrations = nil
}

// NewTelemetryBuilder creates the self-metrics over the component's
// MeterProvider.
func NewTelemetryBuilder(settings component.TelemetrySettings) (*TelemetryBuilder, error) {
	builder := TelemetryBuilder{meter: Meter(settings)}
	var err, errs error
	builder.K8smetaAssociations, err = builder.meter.Int64Counter(
		"otelcol_k8smeta_associations",
		metric.WithDescription("Association attempts by source and result (hit, miss). [Alpha]"),
		metric.WithUnit("{attempt}"),
	)
	errs = errors.Join(errs, err)
	builder.K8smetaAPIErrors, err = builder.meter.Int64Counter(
		"otelcol_k8smeta_api_errors",
		metric.WithDescription("Errors returned by the Kubernetes API, by resource and reason. [Alpha]"),
		metric.WithUnit("{error}"),
	)
	errs = errors.Join(errs, err)
	builder.K8smetaCacheEntries, err = builder.meter.Int64ObservableGauge(
		"otelcol_k8smeta_cache_entries",
		metric.WithDescription("Objects held in the metadata cache, by kind. [Alpha]"),
		metric.WithUnit("{object}"),
	)
	errs = errors.Join(errs, err)
	builder.K8smetaCacheSynced, err = builder.meter.Int64ObservableGauge(
		"otelcol_k8smeta_cache_synced",
		metric.WithDescription("1 once every informer of the cache has completed its initial list, else 0. [Alpha]"),
		metric.WithUnit("1"),
	)
	errs = errors.Join(errs, err)
	return &builder, errs
}
