package loggingexporter // import "github.com/otelcol-eks/otelcol-eks/components/loggingexporter"

import (
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/config/configtelemetry"
	"go.opentelemetry.io/collector/confmap"
)

// Config accepts the fields of the removed logging exporter.
type Config struct {
	// LogLevel is the old `loglevel` field: debug, info, warn or error. It
	// selects the debug exporter's verbosity the way the logging exporter
	// did: debug → detailed, info → normal, warn and error → basic.
	// Mutually exclusive with Verbosity.
	LogLevel string `mapstructure:"loglevel"`

	// Verbosity is passed to the debug exporter as is: basic, normal or
	// detailed. Defaults to basic, as in the logging exporter.
	Verbosity configtelemetry.Level `mapstructure:"verbosity"`

	// SamplingInitial is how many messages are logged each second before
	// sampling starts. Defaults to 2.
	SamplingInitial int `mapstructure:"sampling_initial"`

	// SamplingThereafter keeps one message in this many after the initial
	// ones, each second. Defaults to 500, as in the logging exporter.
	SamplingThereafter int `mapstructure:"sampling_thereafter"`

	// verbositySet records whether the configuration named `verbosity`
	// itself, so that Validate can refuse it beside `loglevel`.
	verbositySet bool
}

// logLevelVerbosity is the logging exporter's own mapping from `loglevel`
// to the verbosity of what it printed.
var logLevelVerbosity = map[string]configtelemetry.Level{
	"debug": configtelemetry.LevelDetailed,
	"info":  configtelemetry.LevelNormal,
	"warn":  configtelemetry.LevelBasic,
	"error": configtelemetry.LevelBasic,
}

// Unmarshal notes which of `loglevel` and `verbosity` the user wrote before
// decoding, because the defaults make both look set afterwards.
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	if err := conf.Unmarshal(cfg); err != nil {
		return err
	}
	cfg.verbositySet = conf.IsSet("verbosity")
	return nil
}

// Validate checks the fields the way the logging exporter did, naming the
// field and the bad value.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.LogLevel != "" {
		if _, ok := logLevelVerbosity[strings.ToLower(cfg.LogLevel)]; !ok {
			errs = append(errs, fmt.Errorf("loglevel: unsupported value %q (use debug, info, warn or error)", cfg.LogLevel))
		}
		if cfg.verbositySet {
			errs = append(errs, errors.New("loglevel and verbosity are mutually exclusive: keep verbosity"))
		}
	}
	switch cfg.Verbosity {
	case configtelemetry.LevelBasic, configtelemetry.LevelNormal, configtelemetry.LevelDetailed:
	default:
		errs = append(errs, fmt.Errorf("verbosity: unsupported value %q (use basic, normal or detailed)", cfg.Verbosity))
	}
	if cfg.SamplingInitial < 0 {
		errs = append(errs, fmt.Errorf("sampling_initial: must not be negative, got %d", cfg.SamplingInitial))
	}
	if cfg.SamplingThereafter < 0 {
		errs = append(errs, fmt.Errorf("sampling_thereafter: must not be negative, got %d", cfg.SamplingThereafter))
	}
	return errors.Join(errs...)
}

// effectiveVerbosity is the debug exporter verbosity this configuration asks
// for: `loglevel` when given, else `verbosity`.
func (cfg *Config) effectiveVerbosity() configtelemetry.Level {
	if level, ok := logLevelVerbosity[strings.ToLower(cfg.LogLevel)]; ok {
		return level
	}
	return cfg.Verbosity
}
