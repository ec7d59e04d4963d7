// Package loggingexporter keeps configurations written for the removed
// `logging` exporter loading in otelcol-eks.
//
// Upstream removed the logging exporter in favour of the debug exporter, and
// the collector core now rejects the type `logging` outright unless a factory
// of that type is registered. The EKS workshop's OpenTelemetryCollector
// resource (and many ADOT configurations) still say
// `logging: {loglevel: info}`. This package registers that type, accepts the
// old fields (`loglevel`, `verbosity`, `sampling_initial`,
// `sampling_thereafter`), maps them onto the debug exporter, and logs one
// deprecation warning that names the replacement.
package loggingexporter // import "github.com/otelcol-eks/otelcol-eks/components/loggingexporter"
