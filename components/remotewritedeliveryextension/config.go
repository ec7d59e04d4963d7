package remotewritedeliveryextension

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
)

// Config configures the remote_write_delivery extension.
type Config struct {
	// Directory is where the queues live: each remote_write_delivery
	// component keeps its own in a subdirectory named after its ID
	// (remote_write_delivery, remote_write_delivery_<name>). It must survive
	// container restarts (an emptyDir volume in Kubernetes). Created if
	// missing. Default: /var/lib/otelcol-eks.
	Directory string `mapstructure:"directory"`
	// LockWait is how long Start waits for the queue directory while
	// another process holds it (the previous collector pod on the node,
	// still stopping), before it fails; 0 fails at once. Default: 1m.
	LockWait time.Duration `mapstructure:"lock_wait"`
	// Authenticator is the HTTP client authenticator extension that signs
	// every attempt when it is sent (sigv4auth for AMP). Empty: requests
	// are sent as captured, unsigned.
	Authenticator component.ID `mapstructure:"authenticator"`
	// MaxSizeMiB bounds the queue on disk; beyond it the oldest requests
	// are dropped (reason queue_full). At least 4. Default: 1024.
	MaxSizeMiB int64 `mapstructure:"max_size_mib"`
	// MaxAge is how long a request is kept for delivery; an older one is
	// dropped unsent (reason expired). AMP, like Prometheus, refuses
	// samples more than about an hour older than the newest of their
	// series. Default: 1h.
	MaxAge time.Duration `mapstructure:"max_age"`
	// SyncInterval is how often what was queued is flushed to the disk
	// (fsync). 0 syncs every request before the exporter is told it is
	// queued. A process crash loses nothing either way; a power loss or
	// kernel crash can lose the requests of the last interval. Default: 1s.
	SyncInterval time.Duration `mapstructure:"sync_interval"`
	// Timeout bounds every attempt to send a request. Default: 30s.
	Timeout time.Duration `mapstructure:"timeout"`
	// MaxInFlight bounds the requests sent and not yet committed at once
	// (sent in the queue's order, committed in that order), among requests
	// captured within inFlightSpread of each other: sender.go says why, and
	// why a backend without an out-of-order window needs 1. 1 to 16.
	// Default: 4.
	MaxInFlight int `mapstructure:"max_in_flight"`
	// Retry paces the attempts after a failure.
	Retry RetryConfig `mapstructure:"retry"`
	// LogInterval is the shortest time between two log lines for the same
	// cause of a drop or of refused credentials; the occurrences in between
	// are counted in the next line and in the metrics. Default: 1m.
	LogInterval time.Duration `mapstructure:"log_interval"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// RetryConfig paces the retries of the answers the README's table
// ("What happens to a request") says are retried.
type RetryConfig struct {
	// InitialInterval is the wait after the first failure. Default: 1s.
	InitialInterval time.Duration `mapstructure:"initial_interval"`
	// MaxInterval caps the exponential backoff. Default: 30s.
	MaxInterval time.Duration `mapstructure:"max_interval"`
	// CredentialsInterval is how long the queue waits after a 401, a 403
	// or an attempt the authenticator could not sign. Default: 30s.
	CredentialsInterval time.Duration `mapstructure:"credentials_interval"`

	// prevent unkeyed literal initialization
	_ struct{}
}

const defaultDirectory = "/var/lib/otelcol-eks"

func createDefaultConfig() *Config {
	return &Config{
		Directory:    defaultDirectory,
		LockWait:     time.Minute,
		MaxSizeMiB:   1024,
		MaxAge:       time.Hour,
		SyncInterval: time.Second,
		Timeout:      30 * time.Second,
		MaxInFlight:  4,
		Retry: RetryConfig{
			InitialInterval:     time.Second,
			MaxInterval:         30 * time.Second,
			CredentialsInterval: 30 * time.Second,
		},
		LogInterval: time.Minute,
	}
}

// maxMaxInFlight bounds max_in_flight: more requests in flight hold more
// of the queue in memory and reorder more.
const maxMaxInFlight = 16

// minMaxSizeMiB keeps room for a few segments of the largest requests the
// exporter builds (max_batch_size_bytes is 3 MB decoded by default).
const minMaxSizeMiB = 4

// Validate reports every bad field, naming it and the bad value.
func (cfg *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	positive := func(field string, d time.Duration) {
		if d <= 0 {
			bad("%s: must be positive, got %s", field, d)
		}
	}
	if cfg.Directory == "" {
		bad("directory: must be set (a directory that survives restarts, e.g. %s on an emptyDir volume)", defaultDirectory)
	}
	if cfg.LockWait < 0 {
		bad("lock_wait: must be 0 (fail at once) or positive, got %s", cfg.LockWait)
	}
	if cfg.MaxSizeMiB < minMaxSizeMiB {
		bad("max_size_mib: must be at least %d, got %d", minMaxSizeMiB, cfg.MaxSizeMiB)
	}
	positive("max_age", cfg.MaxAge)
	if cfg.SyncInterval < 0 {
		bad("sync_interval: must be 0 (sync every request) or positive, got %s", cfg.SyncInterval)
	}
	positive("timeout", cfg.Timeout)
	if cfg.MaxInFlight < 1 || cfg.MaxInFlight > maxMaxInFlight {
		bad("max_in_flight: must be 1 to %d, got %d", maxMaxInFlight, cfg.MaxInFlight)
	}
	positive("retry::initial_interval", cfg.Retry.InitialInterval)
	positive("retry::max_interval", cfg.Retry.MaxInterval)
	positive("retry::credentials_interval", cfg.Retry.CredentialsInterval)
	if cfg.Retry.InitialInterval > cfg.Retry.MaxInterval && cfg.Retry.MaxInterval > 0 {
		bad("retry::initial_interval: %s is longer than retry::max_interval %s", cfg.Retry.InitialInterval, cfg.Retry.MaxInterval)
	}
	positive("log_interval", cfg.LogInterval)
	return errors.Join(errs...)
}

// maxBytes is MaxSizeMiB in bytes.
func (cfg *Config) maxBytes() int64 { return cfg.MaxSizeMiB << 20 }

// segmentBytes is the size of the queue's segment files: a sixteenth of the
// bound, so that dropping the oldest segment when the queue is full drops
// about 6 % of it, within 1 to 64 MiB.
func (cfg *Config) segmentBytes() int64 {
	return min(max(cfg.maxBytes()/16, 1<<20), 64<<20)
}
