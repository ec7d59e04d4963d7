package kubemeta

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
	// After an RBAC denial, or another API error, GETs pause for this
	// long, so that a missing permission costs one call per period, not
	// one per pod.
	replicaSetDeniedPause = 5 * time.Minute
	replicaSetErrorPause  = 30 * time.Second
)

// replicaSetRef names a ReplicaSet.
type replicaSetRef struct {
	namespace, name string
}

// ownerResolver finds the controller of the ReplicaSets whose Deployment
// cannot be derived from the names, with a metadata-only GET each, on its
// own goroutine: a pod watch never waits for the API. Answers are kept in a
// bounded LRU; there is no cluster-wide ReplicaSet cache (it cost
// gigabytes on big clusters, contrib #44407).
type ownerResolver struct {
	client metadata.Interface
	errs   *apiErrorReporter
	now    func() time.Time
	known  *lru.Cache[replicaSetRef, Workload]
	// resolved is called, without locks held, with every answer.
	resolved func(replicaSetRef, Workload)

	mu          sync.Mutex
	queued      map[replicaSetRef]struct{}
	pausedUntil time.Time
	idle        []func() // called once the queue is empty or GETs pause
	wake        chan struct{}
}

func newOwnerResolver(client metadata.Interface, size int, errs *apiErrorReporter, now func() time.Time) (*ownerResolver, error) {
	known, err := lru.New[replicaSetRef, Workload](size)
	if err != nil {
		return nil, fmt.Errorf("cannot create the replicaset owner cache: %w", err)
	}
	return &ownerResolver{
		client: client, errs: errs, now: now, known: known,
		queued: map[replicaSetRef]struct{}{},
		wake:   make(chan struct{}, 1),
	}, nil
}

// owner returns the workload of rs if an earlier GET found it.
func (r *ownerResolver) owner(rs replicaSetRef) (Workload, bool) {
	return r.known.Get(rs)
}

// enqueue asks for the owner of rs; it never blocks.
func (r *ownerResolver) enqueue(rs replicaSetRef) {
	r.mu.Lock()
	r.queued[rs] = struct{}{}
	r.mu.Unlock()
	r.signal()
}

// whenIdle calls f once every ReplicaSet queued so far has been tried
// (answered, or failed and waiting for the pause to end).
func (r *ownerResolver) whenIdle(f func()) {
	r.mu.Lock()
	r.idle = append(r.idle, f)
	r.mu.Unlock()
	r.signal()
}

func (r *ownerResolver) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// next takes a queued ReplicaSet; ok is false when none is queued or GETs
// are paused, then wait is what is left of the pause.
func (r *ownerResolver) next() (rs replicaSetRef, wait time.Duration, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if wait = r.pausedUntil.Sub(r.now()); wait > 0 {
		return rs, wait, false
	}
	for rs = range r.queued {
		delete(r.queued, rs)
		return rs, 0, true
	}
	return rs, 0, false
}

// run resolves queued ReplicaSets one at a time until ctx ends.
func (r *ownerResolver) run(ctx context.Context) {
	for {
		rs, wait, ok := r.next()
		if ok {
			r.resolve(ctx, rs)
			continue
		}
		r.mu.Lock()
		idle := r.idle
		r.idle = nil
		r.mu.Unlock()
		for _, f := range idle {
			f()
		}
		if !r.sleep(ctx, wait) {
			return
		}
	}
}

// sleep waits for an enqueue, or for wait to pass when it is positive; it
// returns false when ctx ends.
func (r *ownerResolver) sleep(ctx context.Context, wait time.Duration) bool {
	var pauseEnd <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		pauseEnd = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-r.wake:
	case <-pauseEnd:
	}
	return true
}

// resolve GETs rs. A ReplicaSet that is gone or has no controller is its
// own workload. On another error rs is queued again and GETs pause.
func (r *ownerResolver) resolve(ctx context.Context, rs replicaSetRef) {
	ctx, cancel := context.WithTimeout(ctx, replicaSetGetTimeout)
	obj, err := r.client.Resource(replicaSetGVR).Namespace(rs.namespace).Get(ctx, rs.name, metav1.GetOptions{})
	cancel()
	w := Workload{Kind: KindReplicaSet, Name: rs.name}
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		r.errs.report("get", replicaSetGVR.Group, replicaSetGVR.Resource, err)
		pause := replicaSetErrorPause
		if apierrors.IsForbidden(err) {
			pause = replicaSetDeniedPause
		}
		r.mu.Lock()
		r.queued[rs] = struct{}{}
		r.pausedUntil = r.now().Add(pause)
		r.mu.Unlock()
		return
	default:
		if ref := metav1.GetControllerOfNoCopy(obj); ref != nil {
			w = Workload{Kind: ref.Kind, Name: ref.Name}
		}
	}
	r.known.Add(rs, w)
	r.resolved(rs, w)
}
