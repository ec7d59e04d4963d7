package kubemeta

// Store is what the processor reads of the cluster.
//
// Every method is safe for concurrent use, returns at once (it never calls
// the API server) and returns nil when it knows no such object: not listed
// yet, outside node_filter, or deleted longer ago than the grace period. A
// returned object is never modified afterwards; a change in the cluster
// replaces it, so a caller may keep and read it without a lock, and two
// lookups that return the same pointer saw the same version.
type Store interface {
	// PodByUID returns the pod with this UID.
	PodByUID(uid string) *Pod
	// PodByName returns the pod with this name in this namespace; when a
	// new pod reuses the name of a deleted one still in its grace period,
	// the new pod.
	PodByName(namespace, name string) *Pod
	// PodByIP returns the pod that has this IP. Pods on the host network
	// (they share the node's address) and pods that have finished are
	// never found by IP; when a new pod reuses the IP of a deleted one
	// still in its grace period, the new pod.
	PodByIP(ip string) *Pod
	// Node returns the node with this name; nil unless Settings ask for
	// node topology or node labels.
	Node(name string) *Node
	// Namespace returns the namespace with this name; nil unless Settings
	// ask for namespace labels.
	Namespace(name string) *Namespace
}

// Pod is what is kept of a pod: its identity and the values written for
// it, computed when the pod is added or updated.
type Pod struct {
	// UID, Namespace and Name identify the pod.
	UID, Namespace, Name string
	// IP is empty for host-network and finished pods.
	IP string
	// Node is the name of the node the pod is scheduled on.
	Node string
	// Workload is the pod's owner as users name it; zero unless
	// Settings.Workload.
	Workload Workload
	// StartTime is the pod's start time in RFC 3339, UTC; empty unless
	// Settings.PodStartTime, or before the kubelet reports it.
	StartTime string
	// Labels holds the values of Settings.PodLabels, in that order; ""
	// for a label the pod does not have.
	Labels []string
}

// Workload kinds as written in Workload.Kind (another controller kind is
// written as its owner reference names it).
const (
	KindPod         = "Pod"
	KindDeployment  = "Deployment"
	KindReplicaSet  = "ReplicaSet"
	KindStatefulSet = "StatefulSet"
	KindDaemonSet   = "DaemonSet"
	KindJob         = "Job"
	KindCronJob     = "CronJob"
)

// Workload is the controller a user thinks of as owning a pod.
type Workload struct {
	// Kind is one of the Kind constants or another controller's kind.
	Kind string
	// Name is the workload's name: the Deployment for a pod of a
	// ReplicaSet, the CronJob for a pod of a scheduled Job, the pod itself
	// for a bare or static pod.
	Name string
	// Job is the Job of a CronJob's pod, else empty.
	Job string
}

// Node is what is kept of a node's labels.
type Node struct {
	// Zone, Region and InstanceType come from the well-known topology
	// labels (or their beta forms).
	Zone, Region, InstanceType string
	// Nodegroup is eks.amazonaws.com/nodegroup.
	Nodegroup string
	// CapacityType is eks.amazonaws.com/capacityType or, when absent,
	// karpenter.sh/capacity-type.
	CapacityType string
	// KarpenterCapacity tells that CapacityType is Karpenter's.
	KarpenterCapacity bool
	// Nodepool is karpenter.sh/nodepool.
	Nodepool string
	// Labels holds the values of Settings.NodeLabels, in that order.
	Labels []string
}

// Namespace is what is kept of a namespace.
type Namespace struct {
	// Labels holds the values of Settings.NamespaceLabels, in that order.
	Labels []string
}
