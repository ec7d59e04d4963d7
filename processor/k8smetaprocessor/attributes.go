package k8smetaprocessor

import "strings"

// Resource attribute names (semantic conventions, stable since v1.42; the
// k8s.<kind>.label.<key> form is used where no dedicated name exists).
const (
	attrClusterName     = "k8s.cluster.name"
	attrNamespaceName   = "k8s.namespace.name"
	attrPodName         = "k8s.pod.name"
	attrPodUID          = "k8s.pod.uid"
	attrPodIP           = "k8s.pod.ip"
	attrPodStartTime    = "k8s.pod.start_time"
	attrNodeName        = "k8s.node.name"
	attrDeploymentName  = "k8s.deployment.name"
	attrReplicaSetName  = "k8s.replicaset.name"
	attrStatefulSetName = "k8s.statefulset.name"
	attrDaemonSetName   = "k8s.daemonset.name"
	attrJobName         = "k8s.job.name"
	attrCronJobName     = "k8s.cronjob.name"
	attrZone            = "cloud.availability_zone"
	attrRegion          = "cloud.region"
	attrHostType        = "host.type"
	attrServerAddress   = "server.address"
	podLabelPrefix      = "k8s.pod.label."
	nodeLabelPrefix     = "k8s.node.label."
	namespaceLabelPref  = "k8s.namespace.label."
)

// Node labels read for node_topology.
const (
	labelZone              = "topology.kubernetes.io/zone"
	labelZoneLegacy        = "failure-domain.beta.kubernetes.io/zone"
	labelRegion            = "topology.kubernetes.io/region"
	labelRegionLegacy      = "failure-domain.beta.kubernetes.io/region"
	labelInstanceType      = "node.kubernetes.io/instance-type"
	labelInstanceLegacy    = "beta.kubernetes.io/instance-type"
	labelNodegroup         = "eks.amazonaws.com/nodegroup"
	labelCapacityType      = "eks.amazonaws.com/capacityType"
	labelKarpenterCapacity = "karpenter.sh/capacity-type"
	labelNodepool          = "karpenter.sh/nodepool"
)

// keyPair names one piece of metadata on resources and on data points. An
// empty name means "not written there".
type keyPair struct {
	resource string
	label    string
}

// Fixed key pairs. Data point labels avoid Prometheus' reserved "job"
// (the scrape job), hence job_name.
var (
	keyCluster      = keyPair{attrClusterName, "cluster"}
	keyWorkloadKind = keyPair{"", "workload_kind"}
	keyWorkload     = keyPair{"", "workload"}
	keyNode         = keyPair{attrNodeName, "node"}
	keyPodUID       = keyPair{attrPodUID, "pod_uid"}
	keyPodStart     = keyPair{attrPodStartTime, "pod_start_time"}
	keyJobOfCronJob = keyPair{attrJobName, "job_name"}
	keyZone         = keyPair{attrZone, "zone"}
	keyRegion       = keyPair{attrRegion, "region"}
	keyInstanceType = keyPair{attrHostType, "instance_type"}
	keyNodegroup    = keyPair{nodeLabelPrefix + labelNodegroup, "nodegroup"}
	keyCapacityEKS  = keyPair{nodeLabelPrefix + labelCapacityType, "capacity_type"}
	keyCapacityKarp = keyPair{nodeLabelPrefix + labelKarpenterCapacity, "capacity_type"}
	keyNodepool     = keyPair{nodeLabelPrefix + labelNodepool, "nodepool"}
)

// workloadKeys maps a workload kind to its kind-specific name keys.
var workloadKeys = map[string]keyPair{
	kindDeployment:  {attrDeploymentName, "deployment"},
	kindReplicaSet:  {attrReplicaSetName, "replicaset"},
	kindStatefulSet: {attrStatefulSetName, "statefulset"},
	kindDaemonSet:   {attrDaemonSetName, "daemonset"},
	kindJob:         {attrJobName, "job_name"},
	kindCronJob:     {attrCronJobName, "cronjob"},
}

// labelKeys builds the key pairs of an allow-list of Kubernetes labels.
func labelKeys(prefix string, labels []LabelConfig) []keyPair {
	out := make([]keyPair, len(labels))
	for i, l := range labels {
		tag := l.Tag
		if tag == "" {
			tag = sanitizeLabelName(l.Key)
		}
		out[i] = keyPair{resource: prefix + l.Key, label: tag}
	}
	return out
}

// sanitizeLabelName turns a Kubernetes label key into a Prometheus label
// name: every character outside [a-zA-Z0-9_] becomes "_", and a leading
// digit gets a "_" prefix.
func sanitizeLabelName(key string) string {
	var b strings.Builder
	for i, r := range key {
		switch {
		case r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
