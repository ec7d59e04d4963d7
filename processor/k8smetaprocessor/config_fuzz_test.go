package k8smetaprocessor

import (
	"testing"

	"go.opentelemetry.io/collector/confmap"
	"go.yaml.in/yaml/v3"
)

// FuzzConfig feeds arbitrary YAML to the config loader (unmarshal, then
// Validate): it may reject the input, it must never panic. The seeds run
// with every `go test`; `go test -fuzz FuzzConfig` explores further.
func FuzzConfig(f *testing.F) {
	for _, seed := range []string{
		"auth_type: none\n",
		"auth_type: kubeConfig\ncluster_name: c\nnode_filter: n\nwait_for_sync: 5s\n",
		"associations: [{source: datapoint_labels, namespace_label: ns, pod_label: p}, {source: pod_uid}]\n",
		"extract: {workload: true, node: true, node_topology: true, pod_labels: [{key: app, tag: app}]}\n",
		"extract: {namespace_labels: [{key: 'a/b', tag: '1bad'}], node_labels: [{key: ''}]}\n",
		"wait_for_sync: -1s\nreplicaset_cache_size: -5\n",
		"associations: []\nresource_attributes: false\ndatapoint_labels: false\noverwrite: true\n",
		"auth_type: [1,2]\n",
	} {
		f.Add([]byte(seed))
	}
	factory := NewFactory()
	f.Fuzz(func(t *testing.T, data []byte) {
		var raw map[string]any
		if err := yaml.Unmarshal(data, &raw); err != nil || raw == nil {
			return
		}
		cfg := factory.CreateDefaultConfig()
		if err := confmap.NewFromStringMap(raw).Unmarshal(cfg); err != nil {
			return
		}
		_ = confmap.Validate(cfg)
	})
}
