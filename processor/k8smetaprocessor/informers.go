package k8smetaprocessor

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
)

// Clients are the Kubernetes API clients of the processor. Tests pass
// client-go fakes (k8s.io/client-go/kubernetes/fake,
// k8s.io/client-go/metadata/fake).
type Clients struct {
	// Kube lists and watches pods.
	Kube kubernetes.Interface
	// Metadata lists and watches nodes and namespaces as
	// PartialObjectMetadata, and GETs ReplicaSets; it may be nil, then
	// nothing is read from nodes, namespaces or ReplicaSets.
	Metadata metadata.Interface
}

var (
	nodesGVR      = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	namespacesGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
)

// cacheRunner owns a metaCache and the goroutines that fill it: one
// reflector per resource (pods always; nodes and namespaces only when
// configured) and the sweeper of deleted pods. The reflectors write
// straight into the cache, which keeps only the fields it uses, so no
// full objects stay in memory.
type cacheRunner struct {
	cache  *metaCache
	rs     *replicaSetResolver // nil without a metadata client
	errs   *apiErrorReporter
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startCache(settings cacheSettings, clients Clients, rsCacheSize int, errs *apiErrorReporter) (*cacheRunner, error) {
	if clients.Kube == nil {
		return nil, fmt.Errorf("cannot start the pod cache: no kubernetes client")
	}
	if (settings.needNodes || settings.needNSs) && clients.Metadata == nil {
		return nil, fmt.Errorf("cannot start the node and namespace caches: no metadata client")
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &cacheRunner{cache: newMetaCache(settings, time.Now), errs: errs, cancel: cancel}
	if clients.Metadata != nil && settings.extract.Workload {
		rs, err := newReplicaSetResolver(ctx, clients.Metadata, rsCacheSize, errs, time.Now)
		if err != nil {
			cancel()
			return nil, err
		}
		r.rs = rs
		r.cache.rsOwner = rs.owner
	}

	// Nodes and namespaces start first so that pods never wait for them
	// (a pod is joined with its node at lookup time anyway).
	if settings.needNodes {
		var tweak func(*metav1.ListOptions)
		if settings.nodeFilter != "" {
			tweak = func(o *metav1.ListOptions) {
				o.FieldSelector = fields.OneTermEqualSelector("metadata.name", settings.nodeFilter).String()
			}
		}
		r.run(ctx, "nodes", r.metadataListWatch(clients.Metadata, nodesGVR, tweak), &metav1.PartialObjectMetadata{},
			&metadataStore{upsert: r.cache.upsertNode, remove: r.cache.deleteNode, replace: r.cache.replaceNodes, synced: r.cache.markSynced})
	}
	if settings.needNSs {
		r.run(ctx, "namespaces", r.metadataListWatch(clients.Metadata, namespacesGVR, nil), &metav1.PartialObjectMetadata{},
			&metadataStore{upsert: r.cache.upsertNamespace, remove: r.cache.deleteNamespace, replace: r.cache.replaceNamespaces, synced: r.cache.markSynced})
	}
	r.run(ctx, "pods", r.podListWatch(clients.Kube, settings.nodeFilter), &corev1.Pod{}, &podStore{cache: r.cache})

	if settings.gracePeriod > 0 {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			t := time.NewTicker(sweepInterval(settings.gracePeriod))
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case now := <-t.C:
					r.cache.sweep(now)
				}
			}
		}()
	}
	return r, nil
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

func (r *cacheRunner) run(ctx context.Context, name string, lw cache.ListerWatcher, example runtime.Object, store cache.ReflectorStore) {
	// No resync: periodic resyncs caused CPU spikes on large clusters
	// (contrib #48110) and our stores do not need them.
	backoff := reconnectBackoff
	refl := cache.NewReflectorWithOptions(lw, example, store, cache.ReflectorOptions{Name: "k8smeta/" + name, Backoff: &backoff})
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		refl.RunWithContext(ctx)
	}()
}

// stop ends every goroutine of the runner and waits for them.
func (r *cacheRunner) stop() {
	r.cancel()
	r.wg.Wait()
}

func (r *cacheRunner) podListWatch(client kubernetes.Interface, nodeFilter string) cache.ListerWatcher {
	tweak := func(o *metav1.ListOptions) {
		if nodeFilter != "" {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", nodeFilter).String()
		}
	}
	pods := client.CoreV1().Pods(metav1.NamespaceAll)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			tweak(&o)
			l, err := pods.List(ctx, o)
			r.errs.report("list", "", "pods", err)
			return l, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			tweak(&o)
			w, err := pods.Watch(ctx, o)
			r.errs.report("watch", "", "pods", err)
			return w, err
		},
	}
	return cache.ToListWatcherWithWatchListSemantics(lw, client)
}

func (r *cacheRunner) metadataListWatch(client metadata.Interface, gvr schema.GroupVersionResource, tweak func(*metav1.ListOptions)) cache.ListerWatcher {
	res := client.Resource(gvr)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			if tweak != nil {
				tweak(&o)
			}
			l, err := res.List(ctx, o)
			r.errs.report("list", gvr.Group, gvr.Resource, err)
			return l, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			if tweak != nil {
				tweak(&o)
			}
			w, err := res.Watch(ctx, o)
			r.errs.report("watch", gvr.Group, gvr.Resource, err)
			return w, err
		},
	}
	return cache.ToListWatcherWithWatchListSemantics(lw, client)
}

// podStore receives the pod reflector's events and turns each pod into a
// podMeta at once: the decoded Pod is garbage right after.
type podStore struct {
	cache *metaCache
	once  sync.Once
}

func (s *podStore) Add(obj any) error { return s.Update(obj) }
func (s *podStore) Resync() error     { return nil }
func (s *podStore) Update(obj any) error {
	if p, ok := obj.(*corev1.Pod); ok {
		s.cache.upsertPod(p)
	}
	return nil
}

func (s *podStore) Delete(obj any) error {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if p, ok := obj.(*corev1.Pod); ok {
		s.cache.deletePod(string(p.UID))
	}
	return nil
}

func (s *podStore) Replace(list []any, _ string) error {
	pods := make([]*corev1.Pod, 0, len(list))
	for _, o := range list {
		if p, ok := o.(*corev1.Pod); ok {
			pods = append(pods, p)
		}
	}
	s.cache.replacePods(pods)
	s.once.Do(s.cache.markSynced)
	return nil
}

// metadataStore receives PartialObjectMetadata events for nodes or
// namespaces.
type metadataStore struct {
	upsert  func(metav1.Object)
	remove  func(name string)
	replace func([]metav1.Object)
	synced  func()
	once    sync.Once
}

func (s *metadataStore) Add(obj any) error { return s.Update(obj) }
func (s *metadataStore) Resync() error     { return nil }
func (s *metadataStore) Update(obj any) error {
	if o, ok := obj.(metav1.Object); ok {
		s.upsert(o)
	}
	return nil
}

func (s *metadataStore) Delete(obj any) error {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if o, ok := obj.(metav1.Object); ok {
		s.remove(o.GetName())
	}
	return nil
}

func (s *metadataStore) Replace(list []any, _ string) error {
	objs := make([]metav1.Object, 0, len(list))
	for _, o := range list {
		if m, ok := o.(metav1.Object); ok {
			objs = append(objs, m)
		}
	}
	s.replace(objs)
	s.once.Do(s.synced)
	return nil
}
