package kubemeta

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
)

// testPod is a running pod in namespace shop on node-a with label app.
func testPod(name, uid, ip, app string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", UID: types.UID(uid), Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{NodeName: "node-a"},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip},
	}
}

// ownedPod is testPod controlled by an object of kind.
func ownedPod(name, uid, ip, kind, owner string) *corev1.Pod {
	p := testPod(name, uid, ip, name)
	ctrl := true
	p.OwnerReferences = []metav1.OwnerReference{{Kind: kind, Name: owner, Controller: &ctrl}}
	return p
}

// testSettings keeps workloads and the app pod label; deleted pods stay for
// an hour, so only explicit sweeps expire them.
func testSettings() Settings {
	return Settings{
		DeletedPodGracePeriod: time.Hour,
		Workload:              true,
		ReplicaSetCacheSize:   16,
		PodLabels:             []string{"app"},
	}
}

// fakeClock is a settable now.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// newTestIndex returns an index whose ReplicaSet owners are looked up
// through client (nil: none), with a resolver that runs only when the test
// calls resolveNext.
func newTestIndex(t *testing.T, settings Settings, client metadata.Interface, clock *fakeClock) *index {
	t.Helper()
	x := newIndex(settings, clock.now)
	if client != nil {
		owners, err := newOwnerResolver(client, settings.ReplicaSetCacheSize, newAPIErrorReporter(zap.NewNop(), nil), clock.now)
		require.NoError(t, err)
		owners.resolved = x.setWorkload
		x.owners = owners
	}
	return x
}

// resolveNext does what the resolver's goroutine does once: it looks up the
// next queued ReplicaSet, unless none is queued or GETs are paused.
func resolveNext(t *testing.T, x *index) bool {
	t.Helper()
	rs, _, ok := x.owners.next()
	if ok {
		x.owners.resolve(t.Context(), rs)
	}
	return ok
}
