package rwanswerpolicyextension

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Config configures the remote_write_answers extension.
type Config struct {
	// PermanentStatuses are the HTTP statuses that reject a request for
	// good: such a request is counted, logged once per cause per
	// LogInterval, and reported to the exporter as delivered so that
	// neither the exporter nor its write-ahead log sends it again. Only 4xx
	// statuses other than 408 and 429 are allowed (those, and 5xx, are
	// retried by the exporter). Default: 400, 403, 413. An empty list
	// drops nothing (answers are still counted).
	PermanentStatuses []int `mapstructure:"permanent_statuses"`
	// LogInterval is the shortest time between two log lines for the same
	// cause (status and reason); the requests dropped in between are
	// counted in the next line and in the metrics. Default: 1m.
	LogInterval time.Duration `mapstructure:"log_interval"`

	// prevent unkeyed literal initialization
	_ struct{}
}

func createDefaultConfig() *Config {
	return &Config{
		PermanentStatuses: []int{http.StatusBadRequest, http.StatusForbidden, http.StatusRequestEntityTooLarge},
		LogInterval:       time.Minute,
	}
}

// Validate reports the first bad field, naming it and the bad value.
func (cfg *Config) Validate() error {
	if cfg.LogInterval <= 0 {
		return fmt.Errorf("log_interval: must be positive, got %s", cfg.LogInterval)
	}
	seen := make(map[int]bool, len(cfg.PermanentStatuses))
	for _, code := range cfg.PermanentStatuses {
		switch {
		case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
			return fmt.Errorf("permanent_statuses: %d is retried by the exporter and must not be dropped", code)
		case code < 400 || code > 499:
			return fmt.Errorf("permanent_statuses: %d is not a 4xx status", code)
		case seen[code]:
			return fmt.Errorf("permanent_statuses: %d is listed twice", code)
		}
		seen[code] = true
	}
	return nil
}

var errNoNext = errors.New("cannot wrap a nil round tripper")
