package loggingexporter

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/debugexporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-eks/otelcol-eks/components/loggingexporter/internal/metadata"
)

// TestExportsThroughDebugExporter checks the whole promise of the shim: the
// workshop's `loglevel: info` creates a working exporter for every signal,
// metrics reach the collector's log at the debug exporter's "normal"
// verbosity, and exactly one deprecation warning names the replacement.
func TestExportsThroughDebugExporter(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	set := exportertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)

	factory := NewFactory()
	cfg := factory.CreateDefaultConfig().(*Config)
	cfg.LogLevel = "info"
	require.NoError(t, cfg.Validate())

	ctx := context.Background()
	metricsExp, err := factory.CreateMetrics(ctx, set, cfg)
	require.NoError(t, err)
	tracesExp, err := factory.CreateTraces(ctx, set, cfg)
	require.NoError(t, err)
	logsExp, err := factory.CreateLogs(ctx, set, cfg)
	require.NoError(t, err)

	require.NoError(t, metricsExp.Start(ctx, componenttest.NewNopHost()))
	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("watch_orders_total")
	m.SetEmptySum().DataPoints().AppendEmpty().SetDoubleValue(3)
	require.NoError(t, metricsExp.ConsumeMetrics(ctx, md))
	require.NoError(t, metricsExp.Shutdown(ctx))
	require.NoError(t, tracesExp.Shutdown(ctx))
	require.NoError(t, logsExp.Shutdown(ctx))

	warnings := logs.FilterLevelExact(zapcore.WarnLevel).All()
	require.Len(t, warnings, 1, "one deprecation warning for three exporters")
	assert.Contains(t, warnings[0].Message, "use the debug exporter instead")
	assert.Equal(t, "exporters: {debug: {verbosity: normal, sampling_initial: 2, sampling_thereafter: 500}}",
		warnings[0].ContextMap()["with"])

	// Normal verbosity prints one line per data point, naming the metric.
	printed := logs.FilterMessageSnippet("watch_orders_total").All()
	require.NotEmpty(t, printed, "the metric is printed at normal verbosity; log: %v", logs.All())
}

// TestDebugIDKeepsLoggingName: the debug exporter refuses IDs of another
// type, so the shim hands it `debug/<logging ID>`.
func TestDebugIDKeepsLoggingName(t *testing.T) {
	f := func(loggingID component.ID, want string) {
		t.Helper()
		shim := &factory{debug: debugexporter.NewFactory()}
		set := exportertest.NewNopSettings(metadata.Type)
		set.ID = loggingID
		debugSet, _ := shim.asDebug(set, createDefaultConfig().(*Config))
		require.Equal(t, want, debugSet.ID.String())
		_, err := shim.debug.CreateMetrics(context.Background(), debugSet, shim.debug.CreateDefaultConfig())
		require.NoError(t, err)
	}
	f(component.NewID(metadata.Type), "debug/logging")
	f(component.NewIDWithName(metadata.Type, "workshop"), "debug/logging/workshop")
}
