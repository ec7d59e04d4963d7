package workshop

import (
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv"
)

// ReadConfig decodes the collector configuration in the YAML file at path,
// for a test that runs a shipped configuration with a few settings of its
// own (ConfigMap, WriteConfig), failing t when it cannot.
func ReadConfig(t testenv.TB, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("cannot read collector config: %v", err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("cannot decode collector config %s: %v", path, err)
	}
	return cfg
}

// ConfigMap returns the map at keys in a decoded configuration (changes
// to it change cfg), failing t when there is none.
func ConfigMap(t testenv.TB, cfg map[string]any, keys ...string) map[string]any {
	t.Helper()
	m := cfg
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			t.Fatalf("config has no map at %s", strings.Join(keys, "."))
		}
		m = next
	}
	return m
}

// WriteConfig writes cfg as YAML to collector.yaml in dir and returns its
// path, failing t when it cannot.
func WriteConfig(t testenv.TB, dir string, cfg map[string]any) string {
	t.Helper()
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatalf("cannot encode collector config: %v", err)
	}
	path := filepath.Join(dir, "collector.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatalf("cannot write collector config: %v", err)
	}
	return path
}
