package main

// version is the distribution's version, printed by `otelcol-eks --version`
// and reported in its own telemetry. `make build` stamps it from git at link
// time (-X main.version=...); builder-config.yaml's dist.version splices it
// into the generated main.go.
var version = "0.0.0-dev"
