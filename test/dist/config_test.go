//go:build e2e

package dist

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// TestWorkshopResourceValidates is the drop-in promise: the EKS workshop's
// OpenTelemetryCollector spec.config, unchanged ($$ escapes, the removed
// `logging` exporter, the deprecated `prometheusremotewrite` name), passes
// `otelcol-eks validate` with the workshop's environment in a pod.
func TestWorkshopResourceValidates(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata", "workshop", "opentelemetrycollector.yaml"))
	require.NoError(t, err)
	var resource struct {
		Kind string `yaml:"kind"`
		Spec struct {
			Config yaml.Node `yaml:"config"`
		} `yaml:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(data, &resource))
	require.Equal(t, "OpenTelemetryCollector", resource.Kind)
	config, err := yaml.Marshal(&resource.Spec.Config)
	require.NoError(t, err)
	require.Contains(t, string(config), "replacement: /api/v1/nodes/$${1}/proxy/metrics/cadvisor", "escapes kept as written")

	path := filepath.Join(t.TempDir(), "collector.yaml")
	require.NoError(t, os.WriteFile(path, config, 0o600))
	res := runCollectorInPod(t, "validate", "--config", path)
	require.Equal(t, 0, res.exitCode, "the workshop's spec.config must validate unchanged:\n%s", res.out)
}

// TestShippedConfigsValidate validates every file under configs/ in a pod.
func TestShippedConfigsValidate(t *testing.T) {
	configs, err := filepath.Glob(filepath.Join(repoRoot(t), "configs", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, configs)
	for _, path := range configs {
		t.Run(filepath.Base(path), func(t *testing.T) {
			res := runCollectorInPod(t, "validate", "--config", path)
			require.Equal(t, 0, res.exitCode, res.out)
		})
	}
}

// TestInvalidConfigsFail: the binary exits non-zero and names the component
// and the field, for the invalid configurations the in-process tests use.
func TestInvalidConfigsFail(t *testing.T) {
	f := func(file string, wantParts ...string) {
		t.Helper()
		res := runCollector(t, "validate", "--config", filepath.Join("testdata", "validate", file))
		require.NotEqual(t, 0, res.exitCode, "%s must fail validation:\n%s", file, res.out)
		for _, part := range wantParts {
			require.Contains(t, res.out, part, file)
		}
	}
	f("unknown_component.yaml", "prometheus_remote_writ", "unknown type")
	f("bad_endpoint.yaml", "exporters::prometheus_remote_write/amp", "endpoint")
	f("missing_region.yaml", "extensions::sigv4auth", "region: must be set")
	f("bad_loglevel.yaml", "exporters::logging", "loglevel")
}

// TestSetAndFeatureGates: the standard CLI flags work on the distribution.
func TestSetAndFeatureGates(t *testing.T) {
	config := filepath.Join("testdata", "validate", "bad_endpoint.yaml")

	res := runCollector(t, "validate", "--config", config,
		"--set=exporters::prometheus_remote_write/amp::endpoint=http://127.0.0.1:9091/api/v1/remote_write")
	require.Equal(t, 0, res.exitCode, "--set fixes the endpoint:\n%s", res.out)

	res = runCollector(t, "validate", "--config", config, "--feature-gates=no.such.gate")
	require.NotEqual(t, 0, res.exitCode)
	require.Contains(t, res.out, "no.such.gate")

	res = runCollector(t, "featuregate")
	require.Equal(t, 0, res.exitCode, res.out)
	gate := "receiver.prometheus.UseTargetUrlForServerAddress"
	require.Contains(t, res.out, gate, "the Prometheus receiver's gates are listed")
	res = runCollector(t, "validate", "--config", config,
		"--set=exporters::prometheus_remote_write/amp::endpoint=http://127.0.0.1:9091/api/v1/remote_write",
		"--feature-gates=+"+gate)
	require.Equal(t, 0, res.exitCode, res.out)

	// The distribution turns on RetryOn429 (AMP throttles with 429); a user
	// can still turn it off.
	retry429 := "exporter.prometheusremotewritexporter.RetryOn429"
	res = runCollector(t, "featuregate", retry429)
	require.Equal(t, 0, res.exitCode, res.out)
	require.Contains(t, res.out, "Enabled: true")
	res = runCollector(t, "validate", "--config", config,
		"--set=exporters::prometheus_remote_write/amp::endpoint=http://127.0.0.1:9091/api/v1/remote_write",
		"--feature-gates=-"+retry429)
	require.Equal(t, 0, res.exitCode, res.out)
}

// TestComponentsAreBuilderConfig: `otelcol-eks components` lists exactly the
// modules of builder-config.yaml, kind by kind.
func TestComponentsAreBuilderConfig(t *testing.T) {
	res := runCollector(t, "components")
	require.Equal(t, 0, res.exitCode, res.out)
	type entry struct {
		Name   string `yaml:"name"`
		Module string `yaml:"module"`
		Scheme string `yaml:"scheme"`
	}
	var output struct {
		Receivers  []entry `yaml:"receivers"`
		Processors []entry `yaml:"processors"`
		Exporters  []entry `yaml:"exporters"`
		Extensions []entry `yaml:"extensions"`
		Connectors []entry `yaml:"connectors"`
		Providers  []entry `yaml:"providers"`
		Converters []entry `yaml:"converters"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(res.out), &output), res.out)
	listed := map[string][]entry{
		"receivers": output.Receivers, "processors": output.Processors, "exporters": output.Exporters,
		"extensions": output.Extensions, "connectors": output.Connectors, "providers": output.Providers,
		"converters": output.Converters,
	}

	data, err := os.ReadFile(filepath.Join(repoRoot(t), "builder-config.yaml"))
	require.NoError(t, err)
	var builder map[string]any
	require.NoError(t, yaml.Unmarshal(data, &builder))

	for _, kind := range []string{"receivers", "processors", "exporters", "extensions", "connectors", "providers", "converters"} {
		var want, got []string
		if declared, ok := builder[kind].([]any); ok {
			for _, m := range declared {
				want = appendUnique(want, m.(map[string]any)["gomod"].(string))
			}
		}
		for _, e := range listed[kind] {
			got = appendUnique(got, e.Module)
		}
		sort.Strings(want)
		sort.Strings(got)
		require.Equal(t, want, got, "%s: `components` and builder-config.yaml differ", kind)
	}
	var names []string
	for _, e := range listed["processors"] {
		names = append(names, e.Name)
	}
	require.Contains(t, strings.Join(names, ","), "k8smeta")
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
