package k8smetaprocessor

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	full := createDefaultConfig()
	full.AuthType = AuthTypeKubeConfig
	full.ClusterName = "workshop"
	full.NodeFilter = "node-a"
	full.WaitForSync = 30 * time.Second
	full.DeletedPodGracePeriod = 5 * time.Minute
	full.Associations = []AssociationConfig{
		{Source: SourcePodUID},
		{Source: SourceDatapointLabels, NamespaceLabel: "exported_namespace", PodLabel: "exported_pod"},
	}
	full.Extract = ExtractConfig{
		Workload: true, Node: true, NodeTopology: true, PodUID: true, PodStartTime: true,
		PodLabels:       []LabelConfig{{Key: "app.kubernetes.io/name", Tag: "app"}},
		NamespaceLabels: []LabelConfig{{Key: "team"}},
		NodeLabels:      []LabelConfig{{Key: "karpenter.sh/nodepool", Tag: "pool"}},
	}
	full.ResourceAttributes = false
	full.DatapointLabelsExclude = []string{"workload", "workload_kind", "pool"}
	full.Overwrite = true
	full.ReplicaSetCacheSize = 64

	tests := []struct {
		id      string
		want    *Config
		wantErr string
	}{
		{id: "", want: createDefaultConfig()},
		{id: "full", want: full},
		{id: "bad_auth", wantErr: `auth_type: "token" is not one of serviceAccount, kubeConfig, none`},
		{id: "bad_source", wantErr: `associations[0].source: "connection" is not one of`},
		{id: "bad_tag", wantErr: `extract.pod_labels[0].tag: "my-app" is not a Prometheus label name`},
		{id: "labels_without_output", wantErr: "associations[0]: source datapoint_labels needs datapoint_labels: true"},
		// zone is written only with extract.node_topology.
		{id: "bad_exclude", wantErr: `datapoint_labels_exclude[1]: "zone" is not a data point label this configuration writes (cronjob, daemonset, deployment, job_name, node, replicaset, statefulset, workload, workload_kind)`},
		{id: "negative_wait", wantErr: "wait_for_sync: -1s must not be negative"},
	}
	for _, tt := range tests {
		t.Run("k8smeta/"+tt.id, func(t *testing.T) {
			id := component.NewID(metadata.Type)
			if tt.id != "" {
				id = component.NewIDWithName(metadata.Type, tt.id)
			}
			sub, err := cm.Sub(id.String())
			require.NoError(t, err)
			cfg := NewFactory().CreateDefaultConfig()
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg)
		})
	}
}

func TestConfigStruct(t *testing.T) {
	require.NoError(t, componenttest.CheckConfigStruct(NewFactory().CreateDefaultConfig()))
}

// TestValidateNamesField checks that every kind of bad value is rejected
// with an error naming the field.
func TestValidateNamesField(t *testing.T) {
	f := func(mutate func(*Config), field string) {
		t.Helper()
		cfg := createDefaultConfig()
		mutate(cfg)
		err := cfg.Validate()
		require.Error(t, err)
		require.Contains(t, err.Error(), field)
	}
	f(func(c *Config) { c.DeletedPodGracePeriod = -time.Second }, "deleted_pod_grace_period: -1s")
	f(func(c *Config) { c.ReplicaSetCacheSize = 0 }, "replicaset_cache_size: 0")
	f(func(c *Config) { c.ResourceAttributes, c.DatapointLabels = false, false }, "resource_attributes, datapoint_labels")
	f(func(c *Config) { c.Associations = nil }, "associations:")
	f(func(c *Config) { c.Associations = append(c.Associations, AssociationConfig{Source: SourcePodUID}) }, `associations[4].source: "pod_uid" is listed twice`)
	f(func(c *Config) { c.Associations[1].PodLabel = "pod" }, "associations[1]: namespace_label/pod_label")
	f(func(c *Config) { c.Associations[0].PodLabel = "" }, `associations[0]: namespace_label "namespace" and pod_label ""`)
	f(func(c *Config) { c.Extract.NodeLabels = []LabelConfig{{Key: "bad key"}} }, `extract.node_labels[0].key: "bad key" is not a Kubernetes label key: name part must consist of`)
	f(func(c *Config) { c.Extract.PodLabels = []LabelConfig{{Key: strings.Repeat("a", 64)}} }, "name part must be no more than 63 bytes")
	f(func(c *Config) { c.Extract.PodLabels = []LabelConfig{{Key: "Example.com/app"}} }, `extract.pod_labels[0].key: "Example.com/app" is not a Kubernetes label key: prefix part`)
	f(func(c *Config) { c.Extract.NamespaceLabels = []LabelConfig{{Key: "team", Tag: "9x"}} }, `extract.namespace_labels[0].tag: "9x"`)
	f(func(c *Config) { c.DatapointLabelsExclude = []string{"cluster"} }, `datapoint_labels_exclude[0]: "cluster" is not a data point label`)
	f(func(c *Config) {
		c.DatapointLabels, c.Associations, c.DatapointLabelsExclude = false, c.Associations[1:], []string{"node"}
	}, "datapoint_labels_exclude: set, but datapoint_labels is false")
}

// TestDefaultTags: a label's default tag is the key sanitised as the
// remote-write exporter sanitises label names.
func TestDefaultTags(t *testing.T) {
	f := func(key, want string) {
		t.Helper()
		cfg := createDefaultConfig()
		cfg.Extract.PodLabels = []LabelConfig{{Key: key}}
		require.NoError(t, cfg.Validate())
		require.Equal(t, []string{want}, newNames(cfg, true).podLabels)
		require.Equal(t, []string{"k8s.pod.label." + key}, newNames(cfg, false).podLabels)
	}
	f("app", "app")
	f("app.kubernetes.io/name", "app_kubernetes_io_name")
	f("example.com/a_-b", "example_com_a__b")
	f("1password.com/vault", "key_1password_com_vault")
}
