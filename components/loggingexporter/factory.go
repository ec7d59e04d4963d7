package loggingexporter // import "github.com/otelcol-eks/otelcol-eks/components/loggingexporter"

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configtelemetry"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/debugexporter"
	"go.uber.org/zap"

	"github.com/otelcol-eks/otelcol-eks/components/loggingexporter/internal/metadata"
)

// Defaults of the removed logging exporter, kept so that an old
// configuration logs as much as it used to.
const (
	defaultSamplingInitial    = 2
	defaultSamplingThereafter = 500
)

// NewFactory returns the factory of the `logging` compatibility exporter.
// Every exporter it creates is a debug exporter configured from the old
// fields; the first one created logs the deprecation warning.
func NewFactory() exporter.Factory {
	f := &factory{debug: debugexporter.NewFactory()}
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithTraces(f.createTraces, metadata.TracesStability),
		exporter.WithMetrics(f.createMetrics, metadata.MetricsStability),
		exporter.WithLogs(f.createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Verbosity:          configtelemetry.LevelBasic,
		SamplingInitial:    defaultSamplingInitial,
		SamplingThereafter: defaultSamplingThereafter,
	}
}

type factory struct {
	debug    exporter.Factory
	warnOnce sync.Once
}

func (f *factory) createTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	debugSet, debugCfg := f.asDebug(set, cfg.(*Config))
	return f.debug.CreateTraces(ctx, debugSet, debugCfg)
}

func (f *factory) createMetrics(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
	debugSet, debugCfg := f.asDebug(set, cfg.(*Config))
	return f.debug.CreateMetrics(ctx, debugSet, debugCfg)
}

func (f *factory) createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	debugSet, debugCfg := f.asDebug(set, cfg.(*Config))
	return f.debug.CreateLogs(ctx, debugSet, debugCfg)
}

// asDebug translates the settings and configuration of a logging exporter
// into those of the debug exporter that does its work. The debug exporter
// only accepts IDs of its own type, so the ID becomes `debug/<logging ID>`
// (e.g. `debug/logging`), which keeps the exporter's own telemetry
// recognisable.
func (f *factory) asDebug(set exporter.Settings, cfg *Config) (exporter.Settings, component.Config) {
	verbosity := cfg.effectiveVerbosity()
	f.warnOnce.Do(func() {
		set.Logger.Warn(
			"the logging exporter is deprecated and kept only so that old configurations load; use the debug exporter instead",
			zap.String("replace", fmt.Sprintf("exporters: {%s: {...}}", set.ID)),
			zap.String("with", fmt.Sprintf("exporters: {debug: {verbosity: %s, sampling_initial: %d, sampling_thereafter: %d}}",
				strings.ToLower(verbosity.String()), cfg.SamplingInitial, cfg.SamplingThereafter)),
		)
	})

	debugCfg := f.debug.CreateDefaultConfig().(*debugexporter.Config)
	debugCfg.Verbosity = verbosity
	debugCfg.SamplingInitial = cfg.SamplingInitial
	debugCfg.SamplingThereafter = cfg.SamplingThereafter
	debugCfg.UseInternalLogger = true // the logging exporter wrote through the collector's logger

	set.ID = component.NewIDWithName(f.debug.Type(), set.ID.String())
	return set, debugCfg
}
