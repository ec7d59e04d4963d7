package main

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/modfile"
)

// builderConfig is the part of builder-config.yaml these tests read.
type builderConfig struct {
	Receivers  []builderModule `yaml:"receivers"`
	Processors []builderModule `yaml:"processors"`
	Exporters  []builderModule `yaml:"exporters"`
	Extensions []builderModule `yaml:"extensions"`
	Providers  []builderModule `yaml:"providers"`
	Converters []builderModule `yaml:"converters"`
}

type builderModule struct {
	GoMod  string `yaml:"gomod"`
	Import string `yaml:"import"`
	Path   string `yaml:"path"`
}

func readBuilderConfig(t *testing.T) builderConfig {
	t.Helper()
	data, err := os.ReadFile("../../builder-config.yaml")
	require.NoError(t, err)
	var cfg builderConfig
	require.NoError(t, yaml.Unmarshal(data, &cfg))
	return cfg
}

func (c builderConfig) all() []builderModule {
	var all []builderModule
	for _, list := range [][]builderModule{c.Receivers, c.Processors, c.Exporters, c.Extensions, c.Providers, c.Converters} {
		all = append(all, list...)
	}
	return all
}

// releaseLine is the one release every upstream module must be on.
var releaseLine = []struct {
	prefix  string
	allowed []string
}{
	{"go.opentelemetry.io/collector/", []string{"v0.165.0", "v1.71.0"}},
	{"github.com/open-telemetry/opentelemetry-collector-contrib/", []string{"v0.165.1"}},
}

// TestReleaseLine enforces one release line: every component in
// builder-config.yaml is required in go.mod at the version it names, and
// every collector core and contrib module in the build (direct or not) is
// on core v0.165.0 / v1.71.0 or contrib v0.165.1. It also pins ocb itself.
func TestReleaseLine(t *testing.T) {
	data, err := os.ReadFile("../../go.mod")
	require.NoError(t, err)
	gomod, err := modfile.Parse("go.mod", data, nil)
	require.NoError(t, err)
	required := map[string]string{}
	for _, r := range gomod.Require {
		required[r.Mod.Path] = r.Mod.Version
	}

	for _, m := range readBuilderConfig(t).all() {
		path, version, ok := strings.Cut(m.GoMod, " ")
		require.True(t, ok, "gomod %q names no version", m.GoMod)
		if path == gomod.Module.Mod.Path {
			assert.Equal(t, "./", m.Path, "our own component %s must be built from this module's source", m.Import)
			continue
		}
		assert.Equal(t, version, required[path], "builder-config.yaml and go.mod disagree on %s", path)
	}

	for path, version := range required {
		for _, line := range releaseLine {
			if strings.HasPrefix(path, line.prefix) {
				assert.Contains(t, line.allowed, version, "%s is off the release line", path)
			}
		}
	}

	makefile, err := os.ReadFile("../../Makefile")
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`(?m)^OCB_VERSION := v0\.165\.0$`), string(makefile), "ocb must be the release line's")
}

// TestFactoriesMatchBuilderConfig checks that the generated components()
// registers exactly the modules of builder-config.yaml, under the type names
// users write, and that the deprecated names still resolve.
func TestFactoriesMatchBuilderConfig(t *testing.T) {
	factories, err := components()
	require.NoError(t, err)
	cfg := readBuilderConfig(t)

	f := func(kind string, modules map[component.Type]string, declared []builderModule, wantTypes ...string) {
		t.Helper()
		var gotTypes, gotModules, wantModules []string
		seen := map[string]bool{}
		for typ, module := range modules {
			gotTypes = append(gotTypes, typ.String())
			if !seen[module] {
				seen[module] = true
				gotModules = append(gotModules, module)
			}
		}
		for _, m := range declared {
			if !contains(wantModules, m.GoMod) {
				wantModules = append(wantModules, m.GoMod)
			}
		}
		sort.Strings(gotTypes)
		sort.Strings(wantTypes)
		sort.Strings(gotModules)
		sort.Strings(wantModules)
		assert.Equal(t, wantTypes, gotTypes, "%s types", kind)
		assert.Equal(t, wantModules, gotModules, "%s modules", kind)
	}
	f("receivers", factories.ReceiverModules, cfg.Receivers, "otlp", "prometheus")
	f("processors", factories.ProcessorModules, cfg.Processors, "batch", "k8smeta", "memory_limiter")
	f("exporters", factories.ExporterModules, cfg.Exporters,
		"debug", "logging", "prometheus_remote_write", "prometheusremotewrite")
	f("extensions", factories.ExtensionModules, cfg.Extensions,
		"file_storage", "health_check", "pprof", "remote_write_delivery", "sigv4auth", "zpages")
	assert.Empty(t, factories.Connectors)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestTestdataWorkshopIsUnchanged keeps the project's copy of the workshop's
// OpenTelemetryCollector resource identical to the reference beside the
// repository, when that reference is there (it is in CI and on developer
// machines of this project; a bare clone elsewhere has only the copy).
func TestTestdataWorkshopIsUnchanged(t *testing.T) {
	copyData, err := os.ReadFile(filepath.Join(sharedTestdata, "workshop", "opentelemetrycollector.yaml"))
	require.NoError(t, err)
	require.Contains(t, string(copyData), "loglevel: info", "the copy must keep the workshop's logging exporter")
	require.Contains(t, string(copyData), "$${1}", "the copy must keep the workshop's $$ escapes")
	reference, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "workshop", "adot", "opentelemetrycollector.yaml"))
	if os.IsNotExist(err) {
		t.Log("no ../shared/workshop beside the repository: compared nothing")
		return
	}
	require.NoError(t, err)
	require.Equal(t, string(reference), string(copyData))
}
