package loggingexporter

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configtelemetry"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-eks/otelcol-eks/components/loggingexporter/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	f := func(name string, wantVerbosity configtelemetry.Level, wantInitial, wantThereafter int, wantErr string) {
		t.Helper()
		cfg := NewFactory().CreateDefaultConfig()
		sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
		require.NoError(t, err)
		require.NoError(t, sub.Unmarshal(cfg))

		err = confmap.Validate(cfg)
		if wantErr != "" {
			require.ErrorContains(t, err, wantErr, "entry %q", name)
			return
		}
		require.NoError(t, err, "entry %q", name)
		got := cfg.(*Config)
		require.Equal(t, wantVerbosity, got.effectiveVerbosity(), "entry %q", name)
		require.Equal(t, wantInitial, got.SamplingInitial, "entry %q", name)
		require.Equal(t, wantThereafter, got.SamplingThereafter, "entry %q", name)
	}

	f("", configtelemetry.LevelBasic, 2, 500, "")
	f("workshop", configtelemetry.LevelNormal, 2, 500, "")
	f("debug", configtelemetry.LevelDetailed, 10, 50, "")
	f("verbosity", configtelemetry.LevelDetailed, 2, 500, "")
	f("bad_level", 0, 0, 0, `loglevel: unsupported value "verbose"`)
	f("both", 0, 0, 0, "loglevel and verbosity are mutually exclusive")
	f("negative", 0, 0, 0, "sampling_initial: must not be negative, got -1")
}

func TestLogLevelMapping(t *testing.T) {
	f := func(loglevel string, want configtelemetry.Level) {
		t.Helper()
		cfg := &Config{LogLevel: loglevel, Verbosity: configtelemetry.LevelBasic}
		require.NoError(t, cfg.Validate())
		require.Equal(t, want, cfg.effectiveVerbosity(), "loglevel %q", loglevel)
	}
	f("debug", configtelemetry.LevelDetailed)
	f("info", configtelemetry.LevelNormal)
	f("INFO", configtelemetry.LevelNormal)
	f("warn", configtelemetry.LevelBasic)
	f("error", configtelemetry.LevelBasic)
	f("", configtelemetry.LevelBasic)
}
