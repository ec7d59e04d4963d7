package k8smetaprocessor

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	semconv "go.opentelemetry.io/otel/semconv/v1.42.0"
	"k8s.io/apimachinery/pkg/util/validation"
)

// AuthType selects how the processor reaches the Kubernetes API.
type AuthType string

const (
	// AuthTypeServiceAccount uses the pod's service account (in cluster).
	AuthTypeServiceAccount AuthType = "serviceAccount"
	// AuthTypeKubeConfig uses $KUBECONFIG or ~/.kube/config.
	AuthTypeKubeConfig AuthType = "kubeConfig"
	// AuthTypeNone creates no API client: only static attributes such as
	// cluster_name are added.
	AuthTypeNone AuthType = "none"
)

// Association sources: what identifies the pod of a resource or a point.
const (
	// SourcePodUID reads the resource's k8s.pod.uid.
	SourcePodUID = "pod_uid"
	// SourcePodName reads the resource's k8s.pod.name and
	// k8s.namespace.name.
	SourcePodName = "pod_name"
	// SourcePodIP reads the resource's k8s.pod.ip, else server.address.
	SourcePodIP = "pod_ip"
	// SourceDatapointLabels reads each data point's namespace and pod
	// labels (AssociationConfig.NamespaceLabel, PodLabel).
	SourceDatapointLabels = "datapoint_labels"
)

// Config is the configuration of the k8smeta processor.
type Config struct {
	// AuthType is how to reach the API server: serviceAccount (default),
	// kubeConfig or none.
	AuthType AuthType `mapstructure:"auth_type"`
	// ClusterName, when set, is written as k8s.cluster.name on resources
	// and as the "cluster" label on data points. The EKS cluster name is not
	// exposed by the Kubernetes API, so it comes from configuration.
	ClusterName string `mapstructure:"cluster_name"`
	// NodeFilter, when set, restricts the pod cache to pods scheduled on
	// this node (field selector spec.nodeName) and the node cache to this
	// node: memory then follows the pods per node, for DaemonSet
	// deployments. Usually ${env:K8S_NODE_NAME}.
	NodeFilter string `mapstructure:"node_filter"`
	// WaitForSync is how long Start waits for the initial lists; after it
	// the pipeline goes on and data is enriched as the caches fill.
	WaitForSync time.Duration `mapstructure:"wait_for_sync"`
	// DeletedPodGracePeriod is how long a deleted pod stays in the cache so
	// that late scrapes still match it.
	DeletedPodGracePeriod time.Duration `mapstructure:"deleted_pod_grace_period"`
	// Associations are the identity sources, tried in order. The first
	// one that finds a pod wins for a data point.
	Associations []AssociationConfig `mapstructure:"associations"`
	// Extract selects what is added.
	Extract ExtractConfig `mapstructure:"extract"`
	// ResourceAttributes writes semantic-convention attributes
	// (k8s.deployment.name, cloud.availability_zone, …) on resources that
	// a resource-level source associated.
	ResourceAttributes bool `mapstructure:"resource_attributes"`
	// DatapointLabels writes Prometheus-friendly labels (workload,
	// workload_kind, node, zone, …) on data points, so that
	// `sum by (workload)` works without joining target_info.
	DatapointLabels bool `mapstructure:"datapoint_labels"`
	// DatapointLabelsExclude names data point labels not to write although
	// their extract option is on; the resource attributes are still
	// written. Every label costs CPU and bytes for every sample downstream
	// (translation, compression, storage), so a lean pipeline keeps on its
	// series only the labels its queries group by: the shipped
	// configurations keep workload and workload_kind and exclude the
	// kind-specific workload labels (deployment, statefulset, …), which
	// repeat them.
	DatapointLabelsExclude []string `mapstructure:"datapoint_labels_exclude"`
	// Overwrite allows replacing a non-empty value already present. By
	// default existing values are kept.
	Overwrite bool `mapstructure:"overwrite"`
	// ReplicaSetCacheSize bounds the LRU of ReplicaSet owners looked up,
	// off the pod watch, with a metadata GET when the Deployment cannot be
	// derived from the pod's pod-template-hash label.
	ReplicaSetCacheSize int `mapstructure:"replicaset_cache_size"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// AssociationConfig is one identity source.
type AssociationConfig struct {
	// Source is pod_uid, pod_name, pod_ip or datapoint_labels.
	Source string `mapstructure:"source"`
	// NamespaceLabel is the data point label holding the namespace
	// (datapoint_labels only; default "namespace").
	NamespaceLabel string `mapstructure:"namespace_label"`
	// PodLabel is the data point label holding the pod name
	// (datapoint_labels only; default "pod").
	PodLabel string `mapstructure:"pod_label"`
}

// ExtractConfig selects the metadata to add.
type ExtractConfig struct {
	// Workload adds the owning workload: kind and name, and the
	// kind-specific name (Deployment via ReplicaSet, StatefulSet,
	// DaemonSet, Job, CronJob via Job; a bare pod is its own workload).
	Workload bool `mapstructure:"workload"`
	// Node adds the node name from the pod spec.
	Node bool `mapstructure:"node"`
	// NodeTopology adds zone, region, instance type, EKS node group,
	// capacity type and Karpenter node pool from the node's labels. It
	// needs the node informer (list/watch nodes).
	NodeTopology bool `mapstructure:"node_topology"`
	// PodUID adds k8s.pod.uid / pod_uid.
	PodUID bool `mapstructure:"pod_uid"`
	// PodStartTime adds k8s.pod.start_time / pod_start_time (RFC 3339).
	PodStartTime bool `mapstructure:"pod_start_time"`
	// PodLabels is an allow-list of pod labels.
	PodLabels []LabelConfig `mapstructure:"pod_labels"`
	// NamespaceLabels is an allow-list of namespace labels; it needs the
	// namespace informer (list/watch namespaces).
	NamespaceLabels []LabelConfig `mapstructure:"namespace_labels"`
	// NodeLabels is an allow-list of node labels; it needs the node
	// informer (list/watch nodes).
	NodeLabels []LabelConfig `mapstructure:"node_labels"`
}

// LabelConfig names one Kubernetes label to copy.
type LabelConfig struct {
	// Key is the Kubernetes label key, e.g. app.kubernetes.io/name.
	Key string `mapstructure:"key"`
	// Tag is the data point label name; by default the key sanitised as
	// the remote-write exporter sanitises names: every character outside
	// [a-zA-Z0-9_] replaced by "_", and "key_" in front of a leading
	// digit. The resource attribute is always k8s.<kind>.label.<key>.
	Tag string `mapstructure:"tag"`
}

func createDefaultConfig() *Config {
	return &Config{
		AuthType:              AuthTypeServiceAccount,
		WaitForSync:           10 * time.Second,
		DeletedPodGracePeriod: 2 * time.Minute,
		Associations: []AssociationConfig{
			// Per data point first: on kube-state-metrics the resource is
			// the exporter's own pod while each series describes another.
			{Source: SourceDatapointLabels, NamespaceLabel: "namespace", PodLabel: "pod"},
			{Source: SourcePodUID},
			{Source: SourcePodName},
			{Source: SourcePodIP},
		},
		Extract: ExtractConfig{
			Workload: true,
			Node:     true,
		},
		ResourceAttributes:  true,
		DatapointLabels:     true,
		ReplicaSetCacheSize: 1024,
	}
}

var errNoAssociate = errors.New("at least one association is needed when metadata is extracted")

// Validate checks the configuration; every error names the field and the
// bad value.
func (cfg *Config) Validate() error {
	var errs []error
	switch cfg.AuthType {
	case AuthTypeServiceAccount, AuthTypeKubeConfig, AuthTypeNone:
	default:
		errs = append(errs, fmt.Errorf("auth_type: %q is not one of serviceAccount, kubeConfig, none", cfg.AuthType))
	}
	if cfg.WaitForSync < 0 {
		errs = append(errs, fmt.Errorf("wait_for_sync: %s must not be negative", cfg.WaitForSync))
	}
	if cfg.DeletedPodGracePeriod < 0 {
		errs = append(errs, fmt.Errorf("deleted_pod_grace_period: %s must not be negative", cfg.DeletedPodGracePeriod))
	}
	if cfg.ReplicaSetCacheSize < 1 {
		errs = append(errs, fmt.Errorf("replicaset_cache_size: %d must be at least 1", cfg.ReplicaSetCacheSize))
	}
	if !cfg.ResourceAttributes && !cfg.DatapointLabels {
		errs = append(errs, errors.New("resource_attributes, datapoint_labels: both false, nothing would be written"))
	}
	if cfg.extractsFromAPI() && len(cfg.Associations) == 0 {
		errs = append(errs, fmt.Errorf("associations: %w", errNoAssociate))
	}
	seen := map[string]bool{}
	for i, a := range cfg.Associations {
		field := fmt.Sprintf("associations[%d]", i)
		switch a.Source {
		case SourcePodUID, SourcePodName, SourcePodIP:
			if a.NamespaceLabel != "" || a.PodLabel != "" {
				errs = append(errs, fmt.Errorf("%s: namespace_label/pod_label are only valid with source %s, not %q", field, SourceDatapointLabels, a.Source))
			}
		case SourceDatapointLabels:
			if !cfg.DatapointLabels {
				errs = append(errs, fmt.Errorf("%s: source %s needs datapoint_labels: true", field, a.Source))
			}
			if a.NamespaceLabel == "" || a.PodLabel == "" {
				errs = append(errs, fmt.Errorf("%s: namespace_label %q and pod_label %q must both be set", field, a.NamespaceLabel, a.PodLabel))
			}
		default:
			errs = append(errs, fmt.Errorf("%s.source: %q is not one of %s, %s, %s, %s", field, a.Source, SourcePodUID, SourcePodName, SourcePodIP, SourceDatapointLabels))
			continue
		}
		if seen[a.Source] {
			errs = append(errs, fmt.Errorf("%s.source: %q is listed twice", field, a.Source))
		}
		seen[a.Source] = true
	}
	errs = append(errs, cfg.validateExclude()...)
	errs = append(errs, validateLabels("extract.pod_labels", cfg.Extract.PodLabels)...)
	errs = append(errs, validateLabels("extract.namespace_labels", cfg.Extract.NamespaceLabels)...)
	errs = append(errs, validateLabels("extract.node_labels", cfg.Extract.NodeLabels)...)
	return errors.Join(errs...)
}

// validateExclude requires every excluded name to be a data point label
// this configuration writes: a misspelt name would otherwise exclude
// nothing, silently.
func (cfg *Config) validateExclude() []error {
	if len(cfg.DatapointLabelsExclude) == 0 {
		return nil
	}
	if !cfg.DatapointLabels {
		return []error{errors.New("datapoint_labels_exclude: set, but datapoint_labels is false: no data point label is written")}
	}
	written := cfg.datapointLabelNames()
	var errs []error
	for i, name := range cfg.DatapointLabelsExclude {
		if !slices.Contains(written, name) {
			errs = append(errs, fmt.Errorf("datapoint_labels_exclude[%d]: %q is not a data point label this configuration writes (%s)",
				i, name, strings.Join(written, ", ")))
		}
	}
	return errs
}

// datapointLabelNames lists, sorted, every data point label the
// configuration may write, exclusions not applied.
func (cfg *Config) datapointLabelNames() []string {
	var pairs []keyPair
	if cfg.ClusterName != "" {
		pairs = append(pairs, keyCluster)
	}
	e := cfg.Extract
	if e.Workload {
		pairs = append(pairs, keyWorkloadKind, keyWorkload, keyJobOfCronJob)
		for _, k := range workloadKeys {
			pairs = append(pairs, k)
		}
	}
	if e.Node {
		pairs = append(pairs, keyNode)
	}
	if e.NodeTopology {
		pairs = append(pairs, keyZone, keyRegion, keyInstanceType, keyNodegroup, keyCapacityEKS, keyNodepool)
	}
	if e.PodUID {
		pairs = append(pairs, keyPodUID)
	}
	if e.PodStartTime {
		pairs = append(pairs, keyPodStartTime)
	}
	pairs = append(pairs, labelKeys(e.PodLabels, semconv.K8SPodLabel)...)
	pairs = append(pairs, labelKeys(e.NodeLabels, semconv.K8SNodeLabel)...)
	pairs = append(pairs, labelKeys(e.NamespaceLabels, semconv.K8SNamespaceLabel)...)
	names := make([]string, 0, len(pairs))
	for _, k := range pairs {
		if k.label != "" {
			names = append(names, k.label)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func validateLabels(field string, labels []LabelConfig) []error {
	var errs []error
	for i, l := range labels {
		if msgs := validation.IsQualifiedName(l.Key); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("%s[%d].key: %q is not a Kubernetes label key: %s", field, i, l.Key, strings.Join(msgs, "; ")))
		}
		if l.Tag != "" && !model.LegacyValidation.IsValidLabelName(l.Tag) {
			errs = append(errs, fmt.Errorf("%s[%d].tag: %q is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)", field, i, l.Tag))
		}
	}
	return errs
}

// extractsFromAPI reports whether anything beyond static attributes is
// configured.
func (cfg *Config) extractsFromAPI() bool {
	e := cfg.Extract
	return e.Workload || e.Node || e.NodeTopology || e.PodUID || e.PodStartTime ||
		len(e.PodLabels) > 0 || len(e.NamespaceLabels) > 0 || len(e.NodeLabels) > 0
}
