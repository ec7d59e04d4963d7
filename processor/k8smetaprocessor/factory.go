package k8smetaprocessor

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/metadata"
)

var processorCapabilities = consumer.Capabilities{MutatesData: true}

// NewFactory returns the factory of the k8smeta processor; its processors
// reach the API server as configured by auth_type.
func NewFactory() processor.Factory {
	return newFactory(clientsFromAuth)
}

// NewFactoryWithClients returns a factory whose processors use clients
// instead of building them from auth_type (auth_type none still means no
// API access). It is meant for tests that pass client-go fakes, e.g.
// Clients{Kube: fake.NewClientset(objs...), Metadata: metadatafake.NewSimpleMetadataClient(...)}.
func NewFactoryWithClients(clients Clients) processor.Factory {
	return newFactory(func(AuthType) (Clients, error) { return clients, nil })
}

func newFactory(newClients clientsProvider) processor.Factory {
	// One registry per factory: processors created by the same factory
	// with the same cache settings share a cache.
	registry := newCacheRegistry(newClients)
	return processor.NewFactory(
		metadata.Type,
		func() component.Config { return createDefaultConfig() },
		processor.WithMetrics(func(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
			return createMetricsProcessor(ctx, set, cfg, next, registry)
		}, metadata.MetricsStability),
	)
}

func createMetricsProcessor(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics, registry *cacheRegistry) (processor.Metrics, error) {
	pcfg, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("cannot create k8smeta processor: %w", errBadConfig)
	}
	p, err := newK8smetaProcessor(pcfg, set.TelemetrySettings, registry)
	if err != nil {
		return nil, fmt.Errorf("cannot create k8smeta telemetry: %w", err)
	}
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.processMetrics,
		processorhelper.WithCapabilities(processorCapabilities),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdownFunc))
}
