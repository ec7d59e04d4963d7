package kubemeta

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
)

// Settings shape a cache: which objects are watched and what is kept of
// them. Caches with equal settings hold the same data.
type Settings struct {
	// NodeFilter, when set, keeps only the pods scheduled on this node,
	// and this node (field selectors spec.nodeName and metadata.name).
	NodeFilter string
	// DeletedPodGracePeriod is how long a deleted pod stays findable, so
	// that late data still matches it; 0 removes it at once.
	DeletedPodGracePeriod time.Duration
	// Workload derives every pod's Workload; ReplicaSets whose owner
	// cannot be derived are then looked up with a metadata GET.
	Workload bool
	// ReplicaSetCacheSize bounds the LRU of ReplicaSet owners found by GET.
	ReplicaSetCacheSize int
	// PodStartTime keeps Pod.StartTime.
	PodStartTime bool
	// NodeTopology keeps the zone, region, instance type, node group,
	// capacity type and node pool of nodes; it watches nodes.
	NodeTopology bool
	// PodLabels, NodeLabels and NamespaceLabels are the label keys whose
	// values are kept. Node labels watch nodes; namespace labels watch
	// namespaces.
	PodLabels, NodeLabels, NamespaceLabels []string
}

func (s Settings) watchesNodes() bool      { return s.NodeTopology || len(s.NodeLabels) > 0 }
func (s Settings) watchesNamespaces() bool { return len(s.NamespaceLabels) > 0 }

var (
	nodesGVR      = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	namespacesGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
)

// Cache is a running Store: one reflector per watched resource writing
// into the indexes, the resolver of ReplicaSet owners, and the sweeper of
// deleted pods. No full object stays in memory: every event is reduced to
// the fields Settings keep as it arrives.
type Cache struct {
	*index
	cancel context.CancelFunc
	wg     sync.WaitGroup

	pending atomic.Int32 // resources whose first list is not stored yet
	synced  chan struct{}
}

// Start lists and watches what settings need through clients, in the
// background; API errors are counted in apiErrors (which may be nil) and
// each cause is logged once. It fails only when a needed client is
// missing. Stop ends it.
func Start(settings Settings, clients Clients, logger *zap.Logger, apiErrors metric.Int64Counter) (*Cache, error) {
	if clients.Kube == nil {
		return nil, errors.New("cannot start the pod cache: no kubernetes client")
	}
	if (settings.watchesNodes() || settings.watchesNamespaces()) && clients.Metadata == nil {
		return nil, errors.New("cannot start the node and namespace caches: no metadata client")
	}
	errs := newAPIErrorReporter(logger, apiErrors)
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cache{index: newIndex(settings, time.Now), cancel: cancel, synced: make(chan struct{})}
	c.pending.Store(1)
	if settings.Workload && clients.Metadata != nil {
		owners, err := newOwnerResolver(clients.Metadata, settings.ReplicaSetCacheSize, errs, time.Now)
		if err != nil {
			cancel()
			return nil, err
		}
		owners.resolved = c.setWorkload
		c.owners = owners
		c.goRun(func() { owners.run(ctx) })
	}

	// Nodes and namespaces start first so that pods never wait for them
	// (a pod is joined with its node and namespace at lookup time anyway).
	if settings.watchesNodes() {
		c.pending.Add(1)
		var selector string
		if settings.NodeFilter != "" {
			selector = fields.OneTermEqualSelector("metadata.name", settings.NodeFilter).String()
		}
		c.reflect(ctx, "nodes", metadataListWatch(clients.Metadata, nodesGVR, selector, errs), &metav1.PartialObjectMetadata{},
			&metadataStore{upsert: c.nodes.upsert, remove: c.nodes.remove, replace: c.nodes.replace, synced: c.markSynced})
	}
	if settings.watchesNamespaces() {
		c.pending.Add(1)
		c.reflect(ctx, "namespaces", metadataListWatch(clients.Metadata, namespacesGVR, "", errs), &metav1.PartialObjectMetadata{},
			&metadataStore{upsert: c.namespaces.upsert, remove: c.namespaces.remove, replace: c.namespaces.replace, synced: c.markSynced})
	}
	var podSelector string
	if settings.NodeFilter != "" {
		podSelector = fields.OneTermEqualSelector("spec.nodeName", settings.NodeFilter).String()
	}
	c.reflect(ctx, "pods", podListWatch(clients.Kube, podSelector, errs), &corev1.Pod{}, &podStore{cache: c})

	if grace := settings.DeletedPodGracePeriod; grace > 0 {
		c.goRun(func() {
			wait.UntilWithContext(ctx, func(context.Context) { c.sweep(time.Now()) }, sweepInterval(grace))
		})
	}
	return c, nil
}

// reconnectBackoff paces a reflector's list/watch retries after the API
// server failed. client-go's default (0.8 s doubling to 30 s, plus up to
// 100 % jitter, reset only after 2 minutes) left metadata stale for 7–45 s
// after an API outage ended (test/chaos TestKubeAPIUnreachable). This caps
// the wait at 8 s (16 s with jitter); the jitter still spreads the
// reconnects of a DaemonSet's collectors across the API server.
var reconnectBackoff = wait.Backoff{
	Duration: 500 * time.Millisecond,
	Factor:   2,
	Jitter:   1,
	Steps:    16,
	Cap:      8 * time.Second,
}

// sweepInterval is a quarter of the grace period, between 1 s and 30 s.
func sweepInterval(grace time.Duration) time.Duration {
	return min(max(grace/4, time.Second), 30*time.Second)
}

func (c *Cache) goRun(f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

func (c *Cache) reflect(ctx context.Context, name string, lw cache.ListerWatcher, example any, store cache.ReflectorStore) {
	// No resync: periodic resyncs caused CPU spikes on large clusters
	// (contrib #48110) and these stores do not need them.
	backoff := reconnectBackoff
	refl := cache.NewReflectorWithOptions(lw, example, store, cache.ReflectorOptions{Name: "k8smeta/" + name, Backoff: &backoff})
	c.goRun(func() { refl.RunWithContext(ctx) })
}

// Stop ends every goroutine of the cache and waits for them; the indexes
// keep what they hold. It must be called once.
func (c *Cache) Stop() {
	c.cancel()
	c.wg.Wait()
}

// markSynced records that one resource's first list is stored.
func (c *Cache) markSynced() {
	if c.pending.Add(-1) == 0 {
		close(c.synced)
	}
}

// Synced is closed once the first list of every watched resource is stored
// and the ReplicaSet owners that list needed have been looked up (or the
// lookups failed).
func (c *Cache) Synced() <-chan struct{} { return c.synced }

// Entries returns the number of objects held, by kind: pod, and node,
// namespace and replicaset for the kinds this cache keeps.
func (c *Cache) Entries() map[string]int {
	pods, nodes, namespaces := c.sizes()
	out := map[string]int{"pod": pods}
	if c.settings.watchesNodes() {
		out["node"] = nodes
	}
	if c.settings.watchesNamespaces() {
		out["namespace"] = namespaces
	}
	if c.owners != nil {
		out["replicaset"] = c.owners.known.Len()
	}
	return out
}
