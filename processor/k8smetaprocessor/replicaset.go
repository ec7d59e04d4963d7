package k8smetaprocessor

import (
	"context"
	"fmt"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
)

var replicaSetGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}

const (
	replicaSetGetTimeout = 5 * time.Second
	// replicaSetDeniedBackoff is how long GETs pause after an RBAC denial
	// or another API error, so a missing permission costs one call per
	// period, not one per pod.
	replicaSetDeniedBackoff = 5 * time.Minute
	replicaSetErrorBackoff  = 30 * time.Second
)

type replicaSetOwner struct {
	kind, name string
}

// replicaSetResolver finds the controller of a ReplicaSet with a
// metadata-only GET, remembering answers in a bounded LRU: there is no
// cluster-wide ReplicaSet cache (those cost gigabytes on big clusters).
type replicaSetResolver struct {
	client  metadata.Interface
	errs    *apiErrorReporter
	now     func() time.Time
	ctx     context.Context // cancelled when the cache stops
	entries *lru.Cache[string, replicaSetOwner]

	mu          sync.Mutex
	pausedUntil time.Time
}

func newReplicaSetResolver(ctx context.Context, client metadata.Interface, size int, errs *apiErrorReporter, now func() time.Time) (*replicaSetResolver, error) {
	entries, err := lru.New[string, replicaSetOwner](size)
	if err != nil {
		return nil, fmt.Errorf("cannot create replicaset cache: %w", err)
	}
	return &replicaSetResolver{client: client, errs: errs, now: now, ctx: ctx, entries: entries}, nil
}

// owner implements replicaSetOwnerFunc. A ReplicaSet without a controller
// is its own workload.
func (r *replicaSetResolver) owner(namespace, name string) (string, string, bool) {
	key := namespace + "/" + name
	if o, ok := r.entries.Get(key); ok {
		return o.kind, o.name, true
	}
	r.mu.Lock()
	paused := r.now().Before(r.pausedUntil)
	r.mu.Unlock()
	if paused {
		return "", "", false
	}
	ctx, cancel := context.WithTimeout(r.ctx, replicaSetGetTimeout)
	defer cancel()
	rs, err := r.client.Resource(replicaSetGVR).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			o := replicaSetOwner{kind: kindReplicaSet, name: name}
			r.entries.Add(key, o)
			return o.kind, o.name, true
		}
		r.errs.report("get", "apps", "replicasets", err)
		backoff := replicaSetErrorBackoff
		if apierrors.IsForbidden(err) {
			backoff = replicaSetDeniedBackoff
		}
		r.mu.Lock()
		r.pausedUntil = r.now().Add(backoff)
		r.mu.Unlock()
		return "", "", false
	}
	o := replicaSetOwner{kind: kindReplicaSet, name: name}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		o = replicaSetOwner{kind: ref.Kind, name: ref.Name}
	}
	r.entries.Add(key, o)
	return o.kind, o.name, true
}

func (r *replicaSetResolver) len() int { return r.entries.Len() }
