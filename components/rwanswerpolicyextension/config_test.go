package rwanswerpolicyextension

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-eks/otelcol-eks/components/rwanswerpolicyextension/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	f := func(name string, wantStatuses []int, wantInterval time.Duration, wantErr string) {
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
		require.Equal(t, wantStatuses, got.PermanentStatuses, "entry %q", name)
		require.Equal(t, wantInterval, got.LogInterval, "entry %q", name)
	}

	f("", []int{400, 403, 413}, time.Minute, "")
	f("full", []int{400, 403, 409, 413, 422}, 10*time.Second, "")
	f("none", []int{}, time.Minute, "")
	f("retryable", nil, 0, "permanent_statuses: 429 is retried by the exporter and must not be dropped")
	f("server_error", nil, 0, "permanent_statuses: 503 is not a 4xx status")
	f("twice", nil, 0, "permanent_statuses: 400 is listed twice")
	f("no_interval", nil, 0, "log_interval: must be positive, got 0s")
}
