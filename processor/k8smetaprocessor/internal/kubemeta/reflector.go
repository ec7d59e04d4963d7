package kubemeta

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
)

// podListWatch lists and watches pods (those matching fieldSelector when
// set).
func podListWatch(client kubernetes.Interface, fieldSelector string, errs *apiErrorReporter) cache.ListerWatcher {
	pods := client.CoreV1().Pods(metav1.NamespaceAll)
	list := func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return pods.List(ctx, o) }
	return reportingListWatch(client, schema.GroupResource{Resource: "pods"}, fieldSelector, errs, list, pods.Watch)
}

// metadataListWatch lists and watches gvr as PartialObjectMetadata (those
// matching fieldSelector when set).
func metadataListWatch(client metadata.Interface, gvr schema.GroupVersionResource, fieldSelector string, errs *apiErrorReporter) cache.ListerWatcher {
	res := client.Resource(gvr)
	list := func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return res.List(ctx, o) }
	return reportingListWatch(client, gvr.GroupResource(), fieldSelector, errs, list, res.Watch)
}

// reportingListWatch lists and watches resource with list and watchFunc of
// client, with fieldSelector, and reports every error.
func reportingListWatch(client any, resource schema.GroupResource, fieldSelector string, errs *apiErrorReporter,
	list cache.ListWithContextFunc, watchFunc cache.WatchFuncWithContext,
) cache.ListerWatcher {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = fieldSelector
			l, err := list(ctx, o)
			errs.report("list", resource.Group, resource.Resource, err)
			return l, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = fieldSelector
			w, err := watchFunc(ctx, o)
			errs.report("watch", resource.Group, resource.Resource, err)
			return w, err
		},
	}
	return cache.ToListWatcherWithWatchListSemantics(lw, client)
}

// podStore receives the pod reflector's events and reduces each pod to a
// Pod at once: the decoded object is garbage right after. It never calls
// the API (ReplicaSet owners are looked up by the resolver's goroutine), so
// the watch never waits.
type podStore struct {
	cache *Cache
	once  sync.Once
}

// Add stores a new pod.
func (s *podStore) Add(obj any) error { return s.Update(obj) }

// Resync does nothing: the reflectors run without resync.
func (s *podStore) Resync() error { return nil }

// Update stores a changed pod.
func (s *podStore) Update(obj any) error {
	if p, ok := obj.(*corev1.Pod); ok {
		s.cache.upsertPod(p)
	}
	return nil
}

// Delete marks a pod deleted.
func (s *podStore) Delete(obj any) error {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if p, ok := obj.(*corev1.Pod); ok {
		s.cache.deletePod(string(p.UID))
	}
	return nil
}

// Replace stores a full list. After the first one the cache counts the
// pods as synced once the owners that list queued have been looked up.
func (s *podStore) Replace(list []any, _ string) error {
	pods := make([]*corev1.Pod, 0, len(list))
	for _, o := range list {
		if p, ok := o.(*corev1.Pod); ok {
			pods = append(pods, p)
		}
	}
	s.cache.replacePods(pods)
	s.once.Do(func() {
		if s.cache.owners != nil {
			s.cache.owners.whenIdle(s.cache.markSynced)
		} else {
			s.cache.markSynced()
		}
	})
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

// Add stores a new object.
func (s *metadataStore) Add(obj any) error { return s.Update(obj) }

// Resync does nothing: the reflectors run without resync.
func (s *metadataStore) Resync() error { return nil }

// Update stores a changed object.
func (s *metadataStore) Update(obj any) error {
	if o, ok := obj.(metav1.Object); ok {
		s.upsert(o)
	}
	return nil
}

// Delete removes an object.
func (s *metadataStore) Delete(obj any) error {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if o, ok := obj.(metav1.Object); ok {
		s.remove(o.GetName())
	}
	return nil
}

// Replace stores a full list.
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
