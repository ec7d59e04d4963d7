package k8smetaprocessor

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/metadata"
)

func TestSharedCacheLifecycle(t *testing.T) {
	clients := fakeClients(loadObjects(t, filepath.Join("testdata", "golden", "objects.yaml")))
	registry := newCacheRegistry(func(AuthType) (Clients, error) { return clients, nil })
	cfg := createDefaultConfig()
	set := processortest.NewNopSettings(metadata.Type).TelemetrySettings
	p1, err := newK8smetaProcessor(cfg, set, registry)
	require.NoError(t, err)
	p2, err := newK8smetaProcessor(cfg, set, registry)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, p1.start(ctx, componenttest.NewNopHost()))
	require.NoError(t, p2.start(ctx, componenttest.NewNopHost()))
	require.Same(t, p1.runningCache(), p2.runningCache(), "identical settings share one cache")
	require.NoError(t, p1.shutdownFunc(ctx))
	require.Len(t, registry.entries, 1, "still referenced")
	require.NoError(t, p2.shutdownFunc(ctx))
	require.NoError(t, p2.shutdownFunc(ctx), "shutdown twice")
	require.Empty(t, registry.entries)
}

func TestAuthNoneOnlyStatic(t *testing.T) {
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.AuthType = AuthTypeNone
	cfg.ClusterName = "c1"
	sink := new(consumertest.MetricsSink)
	p, err := f.CreateMetrics(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Shutdown(context.Background()), "shutdown before start")
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	md := resourceBatch(1)
	require.NoError(t, p.ConsumeMetrics(context.Background(), md))
	out := sink.AllMetrics()[0].ResourceMetrics().At(0)
	v, ok := out.Resource().Attributes().Get(keyCluster.resource)
	require.True(t, ok)
	require.Equal(t, "c1", v.Str())
	require.NoError(t, p.Shutdown(context.Background()))
}
