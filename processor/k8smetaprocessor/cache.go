package k8smetaprocessor

import (
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podMeta is all the cache keeps of a pod: the identity used for lookups
// and the values to write, computed once when the pod is added or
// updated. Entries are replaced, never modified, except deletedAt which is
// only touched with the cache's write lock held.
type podMeta struct {
	uid       string
	namespace string // interned
	name      string
	ip        string // empty for hostNetwork pods: they share the node's IP
	node      string // interned
	workload  workload
	startTime string   // RFC 3339, only when extract.pod_start_time
	labels    []string // values of extract.pod_labels, "" when absent
	deletedAt int64    // unix nanoseconds; 0 while the pod exists
}

// nodeMeta holds what is read from a node's labels.
type nodeMeta struct {
	zone, region, instanceType string
	nodegroup, capacity        string
	nodepool                   string
	karpenterCapacity          bool     // capacity came from karpenter.sh/capacity-type
	labels                     []string // values of extract.node_labels
}

// namespaceMeta holds the values of extract.namespace_labels.
type namespaceMeta struct {
	labels []string
}

// cacheSettings are the settings that shape a cache; processors whose
// settings are equal share one cache.
type cacheSettings struct {
	extract     ExtractConfig
	nodeFilter  string
	gracePeriod time.Duration
	needNodes   bool
	needNSs     bool
}

// metaCache indexes pods by UID, namespace/name and IP, and nodes and
// namespaces by name. Readers hold the read lock for a whole batch; the
// reflector stores take the write lock per event.
type metaCache struct {
	settings cacheSettings
	now      func() time.Time
	// rsOwner resolves ReplicaSets whose Deployment cannot be derived;
	// nil when no API client exists.
	rsOwner replicaSetOwnerFunc

	mu         sync.RWMutex
	byUID      map[string]*podMeta
	byName     map[string]map[string]*podMeta
	byIP       map[string]*podMeta
	nodes      map[string]*nodeMeta
	namespaces map[string]*namespaceMeta
	deleted    []*podMeta        // pods waiting for the grace period, oldest first
	intern     map[string]string // namespace and node names

	pending  atomic.Int32 // stores that have not completed their first list
	syncedCh chan struct{}
}

func newMetaCache(settings cacheSettings, now func() time.Time) *metaCache {
	c := &metaCache{
		settings:   settings,
		now:        now,
		byUID:      map[string]*podMeta{},
		byName:     map[string]map[string]*podMeta{},
		byIP:       map[string]*podMeta{},
		nodes:      map[string]*nodeMeta{},
		namespaces: map[string]*namespaceMeta{},
		intern:     map[string]string{},
		syncedCh:   make(chan struct{}),
	}
	pending := int32(1)
	if settings.needNodes {
		pending++
	}
	if settings.needNSs {
		pending++
	}
	c.pending.Store(pending)
	return c
}

// markSynced records the first complete list of one store.
func (c *metaCache) markSynced() {
	if c.pending.Add(-1) == 0 {
		close(c.syncedCh)
	}
}

// synced reports whether every store has completed its first list.
func (c *metaCache) synced() bool { return c.pending.Load() <= 0 }

func (c *metaCache) internLocked(s string) string {
	if v, ok := c.intern[s]; ok {
		return v
	}
	c.intern[s] = s
	return s
}

// newPodMeta extracts what is kept of pod. It may call the API (ReplicaSet
// owner) and therefore runs without the lock.
func (c *metaCache) newPodMeta(pod *corev1.Pod) *podMeta {
	e := c.settings.extract
	m := &podMeta{
		uid:       string(pod.UID),
		namespace: pod.Namespace,
		name:      pod.Name,
		node:      pod.Spec.NodeName,
	}
	if !pod.Spec.HostNetwork && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		m.ip = pod.Status.PodIP
	}
	if e.Workload {
		m.workload = workloadOf(pod, c.rsOwner)
	}
	if e.PodStartTime && pod.Status.StartTime != nil {
		m.startTime = pod.Status.StartTime.UTC().Format(time.RFC3339)
	}
	if len(e.PodLabels) > 0 {
		m.labels = labelValues(pod.Labels, e.PodLabels)
	}
	return m
}

func labelValues(labels map[string]string, allow []LabelConfig) []string {
	out := make([]string, len(allow))
	for i, l := range allow {
		out[i] = labels[l.Key]
	}
	return out
}

// upsertPod adds or replaces a pod. The newest event wins every index it
// appears in, so a new pod reusing a deleted pod's name or IP takes over.
func (c *metaCache) upsertPod(pod *corev1.Pod) {
	if c.settings.nodeFilter != "" && pod.Spec.NodeName != c.settings.nodeFilter {
		// Node-local mode: the field selector already filters; this also
		// covers clients that ignore it.
		return
	}
	m := c.newPodMeta(pod)
	c.mu.Lock()
	defer c.mu.Unlock()
	m.namespace = c.internLocked(m.namespace)
	m.node = c.internLocked(m.node)
	old := c.byUID[m.uid]
	c.byUID[m.uid] = m
	names := c.byName[m.namespace]
	if names == nil {
		names = map[string]*podMeta{}
		c.byName[m.namespace] = names
	}
	names[m.name] = m
	if old != nil && old.ip != "" && old.ip != m.ip && c.byIP[old.ip] == old {
		delete(c.byIP, old.ip) // IP released (pod finished)
	}
	if m.ip != "" {
		// A terminating pod does not take an IP back from a live pod
		// that reuses it; any other event does (the newest pod wins).
		terminating := pod.DeletionTimestamp != nil
		if cur := c.byIP[m.ip]; cur == nil || cur == old || cur.deletedAt != 0 || !terminating {
			c.byIP[m.ip] = m
		}
	}
}

// deletePod marks a pod deleted; it stays findable for the grace period.
func (c *metaCache) deletePod(uid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deletePodLocked(uid)
}

func (c *metaCache) deletePodLocked(uid string) {
	m := c.byUID[uid]
	if m == nil || m.deletedAt != 0 {
		return
	}
	if c.settings.gracePeriod <= 0 {
		c.removePodLocked(m)
		return
	}
	m.deletedAt = c.now().UnixNano()
	c.deleted = append(c.deleted, m)
}

// removePodLocked drops m from every index that still points to m: another
// pod may have taken its name or IP meanwhile.
func (c *metaCache) removePodLocked(m *podMeta) {
	if c.byUID[m.uid] == m {
		delete(c.byUID, m.uid)
	}
	if names := c.byName[m.namespace]; names != nil && names[m.name] == m {
		delete(names, m.name)
		if len(names) == 0 {
			delete(c.byName, m.namespace)
		}
	}
	if m.ip != "" && c.byIP[m.ip] == m {
		delete(c.byIP, m.ip)
	}
}

// sweep removes deleted pods whose grace period has passed at now.
func (c *metaCache) sweep(now time.Time) {
	limit := now.Add(-c.settings.gracePeriod).UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	for ; i < len(c.deleted) && c.deleted[i].deletedAt <= limit; i++ {
		c.removePodLocked(c.deleted[i])
		c.deleted[i] = nil
	}
	c.deleted = c.deleted[i:]
}

// replacePods applies a full list: pods absent from it are deleted.
func (c *metaCache) replacePods(pods []*corev1.Pod) {
	seen := make(map[string]struct{}, len(pods))
	for _, p := range pods {
		c.upsertPod(p)
		seen[string(p.UID)] = struct{}{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for uid := range c.byUID {
		if _, ok := seen[uid]; !ok {
			c.deletePodLocked(uid)
		}
	}
}

func (c *metaCache) newNodeMeta(obj metav1.Object) *nodeMeta {
	l := obj.GetLabels()
	n := &nodeMeta{}
	if c.settings.extract.NodeTopology {
		n.zone = firstLabel(l, labelZone, labelZoneLegacy)
		n.region = firstLabel(l, labelRegion, labelRegionLegacy)
		n.instanceType = firstLabel(l, labelInstanceType, labelInstanceLegacy)
		n.nodegroup = l[labelNodegroup]
		n.nodepool = l[labelNodepool]
		n.capacity = l[labelCapacityType]
		if n.capacity == "" {
			n.capacity = l[labelKarpenterCapacity]
			n.karpenterCapacity = n.capacity != ""
		}
	}
	if len(c.settings.extract.NodeLabels) > 0 {
		n.labels = labelValues(l, c.settings.extract.NodeLabels)
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

func (c *metaCache) upsertNode(obj metav1.Object) {
	if c.settings.nodeFilter != "" && obj.GetName() != c.settings.nodeFilter {
		return
	}
	n := c.newNodeMeta(obj)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes[c.internLocked(obj.GetName())] = n
}

func (c *metaCache) deleteNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.nodes, name)
}

func (c *metaCache) replaceNodes(objs []metav1.Object) {
	fresh := make(map[string]*nodeMeta, len(objs))
	for _, o := range objs {
		if c.settings.nodeFilter == "" || o.GetName() == c.settings.nodeFilter {
			fresh[o.GetName()] = c.newNodeMeta(o)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes = make(map[string]*nodeMeta, len(fresh))
	for name, n := range fresh {
		c.nodes[c.internLocked(name)] = n
	}
}

func (c *metaCache) upsertNamespace(obj metav1.Object) {
	n := &namespaceMeta{labels: labelValues(obj.GetLabels(), c.settings.extract.NamespaceLabels)}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.namespaces[c.internLocked(obj.GetName())] = n
}

func (c *metaCache) deleteNamespace(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.namespaces, name)
}

func (c *metaCache) replaceNamespaces(objs []metav1.Object) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.namespaces = make(map[string]*namespaceMeta, len(objs))
	for _, o := range objs {
		c.namespaces[c.internLocked(o.GetName())] = &namespaceMeta{labels: labelValues(o.GetLabels(), c.settings.extract.NamespaceLabels)}
	}
}

// Lookups; the caller holds c.mu for reading.

func (c *metaCache) podByUID(uid string) *podMeta { return c.byUID[uid] }

func (c *metaCache) podByName(namespace, name string) *podMeta {
	return c.byName[namespace][name]
}

func (c *metaCache) podByIP(ip string) *podMeta { return c.byIP[ip] }

// sizes returns the number of cached pods, nodes and namespaces.
func (c *metaCache) sizes() (pods, nodes, namespaces int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byUID), len(c.nodes), len(c.namespaces)
}
