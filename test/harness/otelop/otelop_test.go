package otelop

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func config(t *testing.T, text string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(text), &m))
	return m
}

const pipelines = `
receivers: {prometheus: {config: {}}}
exporters: {prometheus_remote_write: {endpoint: http://x}}
`

// TestDefaultConfigTelemetry: what ServiceApplyDefaults keeps, completes
// and replaces (internal/otelconfig/config.go).
func TestDefaultConfigTelemetry(t *testing.T) {
	f := func(telemetry string, wantEvent bool, want map[string]any) {
		t.Helper()
		cfg := config(t, pipelines+"service:\n  pipelines: {metrics: {receivers: [prometheus], exporters: [prometheus_remote_write]}}\n"+telemetry)
		out, events, err := DefaultConfig(cfg)
		require.NoError(t, err)
		require.Equal(t, wantEvent, len(events) == 1, "%v", events)
		got, _ := Lookup(out, "service", "telemetry").(map[string]any)
		require.Equal(t, want, got)
	}
	defaultReader := map[string]any{"readers": []any{map[string]any{"pull": map[string]any{"exporter": map[string]any{
		"prometheus": map[string]any{"host": "0.0.0.0", "port": float64(8888)}}}}}}

	// Readable, with a reader: kept as it is.
	f(`  telemetry:
    resource: {service.instance.id: "${env:POD_NAME}"}
    metrics: {readers: [{pull: {exporter: {prometheus: {host: localhost, port: 8888}}}}]}
`, false, map[string]any{
		"resource": map[string]any{"service.instance.id": "${env:POD_NAME}"},
		"metrics": map[string]any{"readers": []any{map[string]any{"pull": map[string]any{"exporter": map[string]any{
			"prometheus": map[string]any{"host": "localhost", "port": float64(8888)}}}}}},
	})
	// Readable, no reader: the default reader added, the rest kept.
	f(`  telemetry:
    resource: {service.instance.id: pod}
    logs: {level: warn}
`, true, map[string]any{"resource": map[string]any{"service.instance.id": "pod"}, "logs": map[string]any{"level": "warn"}, "metrics": defaultReader})
	// Unreadable: the list form of resource.attributes, or a port that is
	// a string. Replaced whole.
	f(`  telemetry:
    resource: {attributes: [{name: service.instance.id, value: pod}]}
    metrics: {readers: [{pull: {exporter: {prometheus: {host: localhost, port: 8888}}}}]}
`, true, map[string]any{"metrics": defaultReader})
	f(`  telemetry:
    resource: {service.instance.id: pod}
    metrics: {readers: [{pull: {exporter: {prometheus: {host: localhost, port: "${env:PORT:-8888}"}}}}]}
`, true, map[string]any{"metrics": defaultReader})
	// None: the default.
	f("", true, map[string]any{"metrics": defaultReader})
}

// TestDefaultConfigComponents: health_check gets its path and a host; a
// component whose treatment is not encoded is an error, not a guess.
func TestDefaultConfigComponents(t *testing.T) {
	cfg := config(t, pipelines+`
extensions: {health_check: {endpoint: ":13133"}, pprof: {}}
service:
  extensions: [health_check, pprof]
  pipelines: {metrics: {receivers: [prometheus], exporters: [prometheus_remote_write]}}
  telemetry: {metrics: {readers: [{pull: {exporter: {prometheus: {host: localhost, port: 8888}}}}]}}
`)
	out, _, err := DefaultConfig(cfg)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"endpoint": "0.0.0.0:13133", "path": "/"}, Lookup(out, "extensions", "health_check"))
	require.Equal(t, map[string]any{}, Lookup(out, "extensions", "pprof"))
	require.Equal(t, ":13133", Lookup(cfg, "extensions", "health_check", "endpoint"), "the input is not changed")

	cfg = config(t, `
receivers: {otlp: {}}
exporters: {prometheus_remote_write: {}}
service: {pipelines: {metrics: {receivers: [otlp], exporters: [prometheus_remote_write]}}}
`)
	_, _, err = DefaultConfig(cfg)
	require.ErrorContains(t, err, `receivers "otlp"`)
}

// TestPodAnnotations: manifestutils/annotations.go's PodAnnotations.
func TestPodAnnotations(t *testing.T) {
	f := func(spec string, want map[string]string) {
		t.Helper()
		r := Resource{Name: "c", Namespace: "n", Spec: config(t, spec)}
		require.Equal(t, want, r.PodAnnotations())
	}
	f(`mode: deployment`, map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "8888",
		"prometheus.io/path": "/metrics", PrometheusAnnotationsAddedKey: "true"})
	f(`podAnnotations: {prometheus.io/scrape: "false"}`, map[string]string{"prometheus.io/scrape": "false",
		"prometheus.io/port": "8888", "prometheus.io/path": "/metrics", PrometheusAnnotationsAddedKey: "true"})
	f(`observability: {metrics: {disablePrometheusAnnotations: true}}`, map[string]string{})
}

// TestEnv: container.go's getContainerEnvVars, the resource's variables
// first and winning.
func TestEnv(t *testing.T) {
	r := Resource{Spec: config(t, `env: [{name: GOMEMLIMIT, value: "1"}, {name: A, value: b}]`)}
	env, err := r.Env()
	require.NoError(t, err)
	var names []string
	for _, e := range env {
		names = append(names, e.Name)
	}
	require.Equal(t, []string{"GOMEMLIMIT", "A", "POD_NAME", "GOMAXPROCS"}, names)
	require.Equal(t, "1", env[0].Value)
	require.Equal(t, "metadata.name", env[2].ValueFrom.FieldRef.FieldPath)
}
