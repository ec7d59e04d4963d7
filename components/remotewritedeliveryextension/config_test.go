package remotewritedeliveryextension

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-eks/otelcol-eks/components/remotewritedeliveryextension/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	f := func(name string, want *Config, wantErrs ...string) {
		t.Helper()
		cfg := NewFactory().CreateDefaultConfig()
		sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
		require.NoError(t, err)
		require.NoError(t, sub.Unmarshal(cfg))
		err = confmap.Validate(cfg)
		if len(wantErrs) > 0 {
			for _, want := range wantErrs {
				require.ErrorContains(t, err, want, "entry %q", name)
			}
			return
		}
		require.NoError(t, err, "entry %q", name)
		require.Equal(t, want, cfg, "entry %q", name)
	}

	f("", createDefaultConfig())
	f("full", &Config{
		Directory:     "/data/queues",
		LockWait:      2 * time.Minute,
		Authenticator: component.MustNewID("sigv4auth"),
		MaxSizeMiB:    256,
		MaxAge:        30 * time.Minute,
		SyncInterval:  0,
		Timeout:       10 * time.Second,
		MaxInFlight:   2,
		Retry:         RetryConfig{InitialInterval: 500 * time.Millisecond, MaxInterval: time.Minute, CredentialsInterval: 2 * time.Minute},
		LogInterval:   10 * time.Second,
	})
	f("no_directory", nil, "directory: must be set")
	f("tiny", nil, "max_size_mib: must be at least 4, got 3")
	f("negative_lock_wait", nil, "lock_wait: must be 0 (fail at once) or positive, got -1s")
	f("negative_sync", nil, "sync_interval: must be 0 (sync every request) or positive, got -1s")
	f("backwards_retry", nil, "retry::initial_interval: 1m0s is longer than retry::max_interval 1s")
	f("too_many_in_flight", nil, "max_in_flight: must be 1 to 16, got 17")
	f("none_in_flight", nil, "max_in_flight: must be 1 to 16, got 0")
	f("zeros", nil, "max_age: must be positive, got 0s", "timeout: must be positive, got 0s", "log_interval: must be positive, got 0s")
}

// TestSegmentBytes: a sixteenth of the bound, within 1 and 64 MiB, and
// never more than the quarter of the bound the queue accepts.
func TestSegmentBytes(t *testing.T) {
	f := func(maxMiB, wantMiB int64) {
		t.Helper()
		cfg := &Config{MaxSizeMiB: maxMiB}
		require.Equal(t, wantMiB<<20, cfg.segmentBytes(), "max_size_mib %d", maxMiB)
		require.LessOrEqual(t, cfg.segmentBytes(), cfg.maxBytes()/4)
	}
	f(minMaxSizeMiB, 1)
	f(64, 4)
	f(1024, 64)
	f(8192, 64)
}
