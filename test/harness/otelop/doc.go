// Package otelop is what the OpenTelemetry Operator (the 0.158 line, its
// webhooks on) does to an OpenTelemetryCollector resource, as far as
// deploy/ depends on it: the defaulting that rewrites spec.config, the
// target allocator's rewrite of the prometheus receiver, and the pod it
// makes (annotations, environment, ports, containers, volumes).
//
// CI cannot run the operator (its Go module is not on the module proxy),
// so these functions follow its source, each naming the file it follows
// (github.com/open-telemetry/opentelemetry-operator at v0.158.0), and work
// on the resource as YAML maps, as the API server hands it over.
// test/dist checks deploy/'s resources with them; test/e2ek8s runs
// collectors with the configuration and the pods they produce.
//
// When the operator changes what deploy/ relies on, change it here: the
// tests that depend on it then say what breaks.
package otelop
