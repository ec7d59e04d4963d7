package k8smetaprocessor

import (
	"slices"

	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.42.0"

	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/kubemeta"
)

// keyPair names one piece of metadata on resources (a semantic-convention
// attribute) and on data points (a Prometheus label). An empty name means
// "not written there".
type keyPair struct {
	resource string
	label    string
}

// Fixed key pairs. Data point labels avoid Prometheus' reserved "job"
// (the scrape job), hence job_name.
var (
	keyCluster      = keyPair{string(semconv.K8SClusterNameKey), "cluster"}
	keyWorkloadKind = keyPair{"", "workload_kind"}
	keyWorkload     = keyPair{"", "workload"}
	keyNode         = keyPair{string(semconv.K8SNodeNameKey), "node"}
	keyPodUID       = keyPair{string(semconv.K8SPodUIDKey), "pod_uid"}
	keyPodStartTime = keyPair{string(semconv.K8SPodStartTimeKey), "pod_start_time"}
	keyJobOfCronJob = keyPair{string(semconv.K8SJobNameKey), "job_name"}
	keyZone         = keyPair{string(semconv.CloudAvailabilityZoneKey), "zone"}
	keyRegion       = keyPair{string(semconv.CloudRegionKey), "region"}
	keyInstanceType = keyPair{string(semconv.HostTypeKey), "instance_type"}
	keyNodegroup    = nodeLabelPair("eks.amazonaws.com/nodegroup", "nodegroup")
	keyCapacityEKS  = nodeLabelPair("eks.amazonaws.com/capacityType", "capacity_type")
	keyCapacityKarp = nodeLabelPair("karpenter.sh/capacity-type", "capacity_type")
	keyNodepool     = nodeLabelPair("karpenter.sh/nodepool", "nodepool")
)

// workloadKeys maps a workload kind to its kind-specific name.
var workloadKeys = map[string]keyPair{
	kubemeta.KindDeployment:  {string(semconv.K8SDeploymentNameKey), "deployment"},
	kubemeta.KindReplicaSet:  {string(semconv.K8SReplicaSetNameKey), "replicaset"},
	kubemeta.KindStatefulSet: {string(semconv.K8SStatefulSetNameKey), "statefulset"},
	kubemeta.KindDaemonSet:   {string(semconv.K8SDaemonSetNameKey), "daemonset"},
	kubemeta.KindJob:         {string(semconv.K8SJobNameKey), "job_name"},
	kubemeta.KindCronJob:     {string(semconv.K8SCronJobNameKey), "cronjob"},
}

func nodeLabelPair(key, label string) keyPair {
	return keyPair{string(semconv.K8SNodeLabel(key, "").Key), label}
}

// labelNamer turns a Kubernetes label key into a Prometheus label name as
// the remote-write exporter sanitises names (external labels): every
// character outside [a-zA-Z0-9_] becomes "_", and a name that would start
// with a digit gets "key_" in front.
var labelNamer = otlptranslator.LabelNamer{PreserveMultipleUnderscores: true}

// labelKeys returns the key pairs of an allow-list of Kubernetes labels:
// k8s.<kind>.label.<key> on resources, the tag (by default the sanitised
// key) on data points. resourceName is one of semconv's K8S*Label
// functions.
func labelKeys(labels []LabelConfig, resourceName func(key, val string) attribute.KeyValue) []keyPair {
	out := make([]keyPair, len(labels))
	for i, l := range labels {
		tag := l.Tag
		if tag == "" {
			// Validate has checked that the key is a Kubernetes label key,
			// which always has a valid name.
			tag, _ = labelNamer.Build(l.Key)
		}
		out[i] = keyPair{resource: string(resourceName(l.Key, "").Key), label: tag}
	}
	return out
}

// names are the attribute names the processor writes in one place, on
// resources or on data points; "" means not written there (no such
// attribute in that place, or excluded by datapoint_labels_exclude).
// Names may repeat (capacity_type on EKS and Karpenter nodes, job_name, a
// tag equal to a built-in label).
type names struct {
	cluster, workloadKind, workload, jobOfCronJob, node, podUID, podStartTime  string
	zone, region, instanceType, nodegroup, capacityEKS, capacityKarp, nodepool string
	workloadByKind                                                             map[string]string
	podLabels, nodeLabels, namespaceLabels                                     []string
}

// newNames resolves the names cfg writes on data points (labels) or on
// resources.
func newNames(cfg *Config, labels bool) *names {
	name := func(k keyPair) string {
		if !labels {
			return k.resource
		}
		if slices.Contains(cfg.DatapointLabelsExclude, k.label) {
			return ""
		}
		return k.label
	}
	all := func(keys []keyPair) []string {
		out := make([]string, len(keys))
		for i, k := range keys {
			out[i] = name(k)
		}
		return out
	}
	e := cfg.Extract
	n := &names{
		cluster:         name(keyCluster),
		workloadKind:    name(keyWorkloadKind),
		workload:        name(keyWorkload),
		jobOfCronJob:    name(keyJobOfCronJob),
		node:            name(keyNode),
		podUID:          name(keyPodUID),
		podStartTime:    name(keyPodStartTime),
		zone:            name(keyZone),
		region:          name(keyRegion),
		instanceType:    name(keyInstanceType),
		nodegroup:       name(keyNodegroup),
		capacityEKS:     name(keyCapacityEKS),
		capacityKarp:    name(keyCapacityKarp),
		nodepool:        name(keyNodepool),
		workloadByKind:  make(map[string]string, len(workloadKeys)),
		podLabels:       all(labelKeys(e.PodLabels, semconv.K8SPodLabel)),
		nodeLabels:      all(labelKeys(e.NodeLabels, semconv.K8SNodeLabel)),
		namespaceLabels: all(labelKeys(e.NamespaceLabels, semconv.K8SNamespaceLabel)),
	}
	for kind, k := range workloadKeys {
		n.workloadByKind[kind] = name(k)
	}
	return n
}

// keyValue is one attribute to write.
type keyValue struct {
	name, value string
}

// attributeSet collects the attributes one pod contributes to a map, in the
// order they are written, each name once.
//
// Writing k=v1 and then k=v2 into a map leaves, without overwrite, the
// first non-empty value (the second write finds a non-empty value and
// keeps it) and, with overwrite, the last; in both cases at the position
// the first write gave it. The set resolves such repeats once per pod, so
// that writing it is a sequence of independent writes.
type attributeSet struct {
	list      []keyValue
	overwrite bool
}

func (s *attributeSet) add(name, value string) {
	if name == "" || value == "" {
		return // not written
	}
	for i := range s.list {
		if s.list[i].name == name {
			if s.overwrite {
				s.list[i].value = value
			}
			return
		}
	}
	s.list = append(s.list, keyValue{name, value})
}

// podAttributes returns what pod (nil: no pod, only the cluster name)
// contributes to one place, named by n, in the order the attributes have
// always been written: cluster name, workload, node, pod identity, pod
// labels, node topology, node labels, namespace labels. It appends to
// buf[:0]. store is only read when pod is not nil.
func (p *k8smetaProcessor) podAttributes(buf []keyValue, n *names, store kubemeta.Store, pod *kubemeta.Pod) []keyValue {
	s := attributeSet{list: buf[:0], overwrite: p.cfg.Overwrite}
	s.add(n.cluster, p.cfg.ClusterName)
	if pod == nil {
		return s.list
	}
	e := &p.cfg.Extract
	if e.Workload && pod.Workload.Kind != "" {
		s.add(n.workloadKind, pod.Workload.Kind)
		s.add(n.workload, pod.Workload.Name)
		s.add(n.workloadByKind[pod.Workload.Kind], pod.Workload.Name)
		s.add(n.jobOfCronJob, pod.Workload.Job)
	}
	if e.Node {
		s.add(n.node, pod.Node)
	}
	if e.PodUID {
		s.add(n.podUID, pod.UID)
	}
	if e.PodStartTime {
		s.add(n.podStartTime, pod.StartTime)
	}
	for i, name := range n.podLabels {
		s.add(name, pod.Labels[i])
	}
	if node := store.Node(pod.Node); node != nil {
		if e.NodeTopology {
			s.add(n.zone, node.Zone)
			s.add(n.region, node.Region)
			s.add(n.instanceType, node.InstanceType)
			s.add(n.nodegroup, node.Nodegroup)
			capacity := n.capacityEKS
			if node.KarpenterCapacity {
				capacity = n.capacityKarp
			}
			s.add(capacity, node.CapacityType)
			s.add(n.nodepool, node.Nodepool)
		}
		for i, name := range n.nodeLabels {
			s.add(name, node.Labels[i])
		}
	}
	if ns := store.Namespace(pod.Namespace); ns != nil {
		for i, name := range n.namespaceLabels {
			s.add(name, ns.Labels[i])
		}
	}
	return s.list
}
