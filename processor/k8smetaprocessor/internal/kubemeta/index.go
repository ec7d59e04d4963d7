package kubemeta

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Node labels read for node topology.
const (
	labelZone              = "topology.kubernetes.io/zone"
	labelZoneBeta          = "failure-domain.beta.kubernetes.io/zone"
	labelRegion            = "topology.kubernetes.io/region"
	labelRegionBeta        = "failure-domain.beta.kubernetes.io/region"
	labelInstanceType      = "node.kubernetes.io/instance-type"
	labelInstanceTypeBeta  = "beta.kubernetes.io/instance-type"
	labelNodegroup         = "eks.amazonaws.com/nodegroup"
	labelCapacityType      = "eks.amazonaws.com/capacityType"
	labelKarpenterCapacity = "karpenter.sh/capacity-type"
	labelNodepool          = "karpenter.sh/nodepool"
)

// index holds pods by UID, namespace/name and IP, and nodes and namespaces
// by name; it implements Store. The reflectors' stores write to it, one
// event at a time under the write lock; lookups take the read lock.
type index struct {
	settings Settings
	now      func() time.Time
	// owners resolves the ReplicaSets whose owner cannot be derived; nil
	// when there is no metadata client or no workload to derive.
	owners *ownerResolver

	mu      sync.RWMutex
	byUID   map[string]*Pod
	byName  map[string]map[string]*Pod
	byIP    map[string]*Pod
	deleted map[string]time.Time // UID of a deleted pod -> when
	// lookups holds, for the pods whose owner is looked up by the
	// resolver, their ReplicaSet: UID -> ReplicaSet name.
	lookups    map[string]string
	nodes      named[Node]
	namespaces named[Namespace]
	names      map[string]string // namespace and node names, interned
}

func newIndex(settings Settings, now func() time.Time) *index {
	x := &index{
		settings: settings,
		now:      now,
		byUID:    map[string]*Pod{},
		byName:   map[string]map[string]*Pod{},
		byIP:     map[string]*Pod{},
		deleted:  map[string]time.Time{},
		lookups:  map[string]string{},
		names:    map[string]string{},
	}
	x.nodes = named[Node]{x: x, byName: map[string]*Node{}, reduce: x.newNode}
	x.namespaces = named[Namespace]{x: x, byName: map[string]*Namespace{}, reduce: x.newNamespace}
	return x
}

// PodByUID implements Store.
func (x *index) PodByUID(uid string) *Pod {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.byUID[uid]
}

// PodByName implements Store.
func (x *index) PodByName(namespace, name string) *Pod {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.byName[namespace][name]
}

// PodByIP implements Store.
func (x *index) PodByIP(ip string) *Pod {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.byIP[ip]
}

// Node implements Store.
func (x *index) Node(name string) *Node {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.nodes.byName[name]
}

// Namespace implements Store.
func (x *index) Namespace(name string) *Namespace {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.namespaces.byName[name]
}

func (x *index) internLocked(s string) string {
	if v, ok := x.names[s]; ok {
		return v
	}
	x.names[s] = s
	return s
}

// upsertPod adds or replaces a pod. The newest event wins every index it
// appears in, so a new pod reusing a deleted pod's name or IP takes over.
func (x *index) upsertPod(pod *corev1.Pod) {
	if x.settings.NodeFilter != "" && pod.Spec.NodeName != x.settings.NodeFilter {
		// Node-local mode: the field selector already filters; this also
		// covers clients that ignore it.
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.byUID[string(pod.UID)]
	m := x.newPodLocked(pod, old)
	x.byUID[m.UID] = m
	delete(x.deleted, m.UID)
	names := x.byName[m.Namespace]
	if names == nil {
		names = map[string]*Pod{}
		x.byName[m.Namespace] = names
	}
	names[m.Name] = m
	if old != nil && old.IP != "" && old.IP != m.IP && x.byIP[old.IP] == old {
		delete(x.byIP, old.IP) // IP released (pod finished)
	}
	if m.IP != "" {
		// A terminating pod does not take an IP back from a live pod
		// that reuses it; any other event does (the newest pod wins).
		cur := x.byIP[m.IP]
		_, curDeleted := x.deleted[uidOf(cur)]
		if cur == nil || cur == old || curDeleted || pod.DeletionTimestamp == nil {
			x.byIP[m.IP] = m
		}
	}
}

func uidOf(p *Pod) string {
	if p == nil {
		return ""
	}
	return p.UID
}

// newPodLocked extracts what is kept of pod; old is its previous version,
// if any.
func (x *index) newPodLocked(pod *corev1.Pod, old *Pod) *Pod {
	m := &Pod{
		UID:       string(pod.UID),
		Namespace: x.internLocked(pod.Namespace),
		Name:      pod.Name,
		Node:      x.internLocked(pod.Spec.NodeName),
	}
	if !pod.Spec.HostNetwork && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		m.IP = pod.Status.PodIP
	}
	if x.settings.Workload {
		var lookup string
		m.Workload, lookup = workloadOf(pod)
		if lookup != "" && x.owners != nil {
			rs := replicaSetRef{namespace: m.Namespace, name: lookup}
			if w, ok := x.owners.owner(rs); ok {
				m.Workload = w
			} else if old != nil && x.lookups[m.UID] == lookup && old.Workload != m.Workload {
				m.Workload = old.Workload // resolved before, since evicted from the LRU
			} else {
				x.owners.enqueue(rs)
			}
			x.lookups[m.UID] = lookup
		} else {
			delete(x.lookups, m.UID)
		}
	}
	if x.settings.PodStartTime && pod.Status.StartTime != nil {
		m.StartTime = pod.Status.StartTime.UTC().Format(time.RFC3339)
	}
	if len(x.settings.PodLabels) > 0 {
		m.Labels = labelValues(pod.Labels, x.settings.PodLabels)
	}
	return m
}

func labelValues(labels map[string]string, keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = labels[k]
	}
	return out
}

// setWorkload gives every pod of rs the workload w, found by a GET after
// the pods were stored. The pods are replaced, not modified.
func (x *index) setWorkload(rs replicaSetRef, w Workload) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for uid, name := range x.lookups {
		old := x.byUID[uid]
		if name != rs.name || old == nil || old.Namespace != rs.namespace || old.Workload == w {
			continue
		}
		m := *old
		m.Workload = w
		x.byUID[uid] = &m
		if names := x.byName[m.Namespace]; names[m.Name] == old {
			names[m.Name] = &m
		}
		if m.IP != "" && x.byIP[m.IP] == old {
			x.byIP[m.IP] = &m
		}
	}
}

// deletePod marks a pod deleted; it stays findable for the grace period.
func (x *index) deletePod(uid string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.deletePodLocked(uid)
}

func (x *index) deletePodLocked(uid string) {
	m := x.byUID[uid]
	if m == nil {
		return
	}
	if x.settings.DeletedPodGracePeriod <= 0 {
		x.removePodLocked(m)
		return
	}
	if _, ok := x.deleted[uid]; !ok {
		x.deleted[uid] = x.now()
	}
}

// removePodLocked drops m from every index that still points to m: another
// pod may have taken its name or IP meanwhile.
func (x *index) removePodLocked(m *Pod) {
	delete(x.deleted, m.UID)
	if x.byUID[m.UID] == m {
		delete(x.byUID, m.UID)
		delete(x.lookups, m.UID)
	}
	if names := x.byName[m.Namespace]; names[m.Name] == m {
		delete(names, m.Name)
		if len(names) == 0 {
			delete(x.byName, m.Namespace)
		}
	}
	if m.IP != "" && x.byIP[m.IP] == m {
		delete(x.byIP, m.IP)
	}
}

// sweep removes the deleted pods whose grace period has passed at now.
func (x *index) sweep(now time.Time) {
	limit := now.Add(-x.settings.DeletedPodGracePeriod)
	x.mu.Lock()
	defer x.mu.Unlock()
	for uid, at := range x.deleted {
		if m := x.byUID[uid]; m != nil && !at.After(limit) {
			x.removePodLocked(m)
		}
	}
}

// replacePods applies a full list: pods absent from it are deleted.
func (x *index) replacePods(pods []*corev1.Pod) {
	seen := make(map[string]struct{}, len(pods))
	for _, p := range pods {
		x.upsertPod(p)
		seen[string(p.UID)] = struct{}{}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for uid := range x.byUID {
		if _, ok := seen[uid]; !ok {
			x.deletePodLocked(uid)
		}
	}
}

// newNode returns what is kept of a node; nil for a node other than
// Settings.NodeFilter.
func (x *index) newNode(obj metav1.Object) *Node {
	if x.settings.NodeFilter != "" && obj.GetName() != x.settings.NodeFilter {
		return nil
	}
	l := obj.GetLabels()
	n := &Node{}
	if x.settings.NodeTopology {
		n.Zone = firstLabel(l, labelZone, labelZoneBeta)
		n.Region = firstLabel(l, labelRegion, labelRegionBeta)
		n.InstanceType = firstLabel(l, labelInstanceType, labelInstanceTypeBeta)
		n.Nodegroup = l[labelNodegroup]
		n.Nodepool = l[labelNodepool]
		n.CapacityType = l[labelCapacityType]
		if n.CapacityType == "" {
			n.CapacityType = l[labelKarpenterCapacity]
			n.KarpenterCapacity = n.CapacityType != ""
		}
	}
	if len(x.settings.NodeLabels) > 0 {
		n.Labels = labelValues(l, x.settings.NodeLabels)
	}
	return n
}

func firstLabel(l map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := l[k]; v != "" {
			return v
		}
	}
	return ""
}

func (x *index) newNamespace(obj metav1.Object) *Namespace {
	return &Namespace{Labels: labelValues(obj.GetLabels(), x.settings.NamespaceLabels)}
}

// named holds the nodes, or the namespaces, of an index by name, each
// reduced to what is kept of it. The metadata reflector of its kind writes
// it; the index's lock guards it.
type named[T any] struct {
	x      *index
	byName map[string]*T
	reduce func(metav1.Object) *T // nil: not kept
}

func (n *named[T]) upsert(obj metav1.Object) {
	v := n.reduce(obj)
	if v == nil {
		return
	}
	n.x.mu.Lock()
	defer n.x.mu.Unlock()
	n.byName[n.x.internLocked(obj.GetName())] = v
}

func (n *named[T]) remove(name string) {
	n.x.mu.Lock()
	defer n.x.mu.Unlock()
	delete(n.byName, name)
}

// replace applies a full list: objects absent from it are removed.
func (n *named[T]) replace(objs []metav1.Object) {
	n.x.mu.Lock()
	defer n.x.mu.Unlock()
	n.byName = make(map[string]*T, len(objs))
	for _, o := range objs {
		if v := n.reduce(o); v != nil {
			n.byName[n.x.internLocked(o.GetName())] = v
		}
	}
}

// sizes returns the number of pods, nodes and namespaces held.
func (x *index) sizes() (pods, nodes, namespaces int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.byUID), len(x.nodes.byName), len(x.namespaces.byName)
}
