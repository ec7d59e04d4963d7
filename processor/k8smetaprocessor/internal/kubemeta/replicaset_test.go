package kubemeta

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/kubemeta/kubemetatest"
)

// replicaSets serves ReplicaSet metadata: legacy-rs owned by Deployment
// legacy, lonely-rs without owner.
func replicaSets() kubemetatest.Objects {
	ctrl := true
	return kubemetatest.Objects{ReplicaSets: []metav1.PartialObjectMetadata{
		{ObjectMeta: metav1.ObjectMeta{Name: "legacy-rs", Namespace: "shop",
			OwnerReferences: []metav1.OwnerReference{{Kind: KindDeployment, Name: "legacy", Controller: &ctrl}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "lonely-rs", Namespace: "shop"}},
	}}
}

// TestOwnersResolvedAfterTheWatch: a pod whose ReplicaSet cannot be
// derived is stored at once with the ReplicaSet as its workload and gets
// the owner when the lookup answers; later pods of that ReplicaSet get it
// from the LRU without a GET.
func TestOwnersResolvedAfterTheWatch(t *testing.T) {
	_, md := kubemetatest.FakeClients(replicaSets())
	clock := &fakeClock{t: time.Now()}
	x := newTestIndex(t, testSettings(), md, clock)

	x.upsertPod(ownedPod("legacy-a", "uid-a", "10.0.0.1", KindReplicaSet, "legacy-rs"))
	x.upsertPod(ownedPod("lonely-a", "uid-b", "10.0.0.2", KindReplicaSet, "lonely-rs"))
	x.upsertPod(ownedPod("gone-a", "uid-c", "10.0.0.3", KindReplicaSet, "gone-rs"))
	held := x.PodByUID("uid-a")
	require.Equal(t, Workload{Kind: KindReplicaSet, Name: "legacy-rs"}, held.Workload, "until resolved")
	require.Empty(t, md.Actions(), "no API call from the watch")

	for resolveNext(t, x) {
	}
	require.Len(t, md.Actions(), 3)
	require.Equal(t, Workload{Kind: KindDeployment, Name: "legacy"}, x.PodByUID("uid-a").Workload)
	require.Equal(t, Workload{Kind: KindDeployment, Name: "legacy"}, x.PodByIP("10.0.0.1").Workload)
	require.Equal(t, Workload{Kind: KindDeployment, Name: "legacy"}, x.PodByName("shop", "legacy-a").Workload)
	require.Equal(t, Workload{Kind: KindReplicaSet, Name: "legacy-rs"}, held.Workload, "a Pod already read is not modified")
	require.Equal(t, Workload{Kind: KindReplicaSet, Name: "lonely-rs"}, x.PodByUID("uid-b").Workload, "no controller")
	require.Equal(t, Workload{Kind: KindReplicaSet, Name: "gone-rs"}, x.PodByUID("uid-c").Workload, "not found")

	x.upsertPod(ownedPod("legacy-b", "uid-d", "10.0.0.4", KindReplicaSet, "legacy-rs"))
	require.Equal(t, Workload{Kind: KindDeployment, Name: "legacy"}, x.PodByUID("uid-d").Workload)
	require.False(t, resolveNext(t, x), "answered from the LRU")
	require.Len(t, md.Actions(), 3)
}

// TestLateAnswerKeepsNewerPods: the answer for a deleted pod's ReplicaSet
// updates that pod, not the new pod that took its name and IP meanwhile.
func TestLateAnswerKeepsNewerPods(t *testing.T) {
	_, md := kubemetatest.FakeClients(replicaSets())
	x := newTestIndex(t, testSettings(), md, &fakeClock{t: time.Now()})
	x.upsertPod(ownedPod("web-0", "uid-a", "10.0.0.1", KindReplicaSet, "legacy-rs"))
	x.deletePod("uid-a")
	x.upsertPod(ownedPod("web-0", "uid-b", "10.0.0.1", KindStatefulSet, "web"))
	require.True(t, resolveNext(t, x))
	require.Equal(t, Workload{Kind: KindDeployment, Name: "legacy"}, x.PodByUID("uid-a").Workload, "the deleted pod, still in its grace period")
	require.Equal(t, "uid-b", x.PodByName("shop", "web-0").UID)
	require.Equal(t, "uid-b", x.PodByIP("10.0.0.1").UID)
	x.sweep(time.Now().Add(2 * time.Hour))
	require.Nil(t, x.PodByUID("uid-a"))
	require.Empty(t, x.lookups)
}

// TestResolvedOwnerOutlivesEviction: a pod updated after its ReplicaSet
// left the LRU keeps its resolved workload instead of falling back to the
// ReplicaSet until another GET.
func TestResolvedOwnerOutlivesEviction(t *testing.T) {
	_, md := kubemetatest.FakeClients(replicaSets())
	s := testSettings()
	s.ReplicaSetCacheSize = 1
	x := newTestIndex(t, s, md, &fakeClock{t: time.Now()})
	pod := ownedPod("legacy-a", "uid-a", "10.0.0.1", KindReplicaSet, "legacy-rs")
	x.upsertPod(pod)
	require.True(t, resolveNext(t, x))
	x.upsertPod(ownedPod("lonely-a", "uid-b", "10.0.0.2", KindReplicaSet, "lonely-rs"))
	require.True(t, resolveNext(t, x)) // evicts legacy-rs
	require.Equal(t, 1, x.owners.known.Len())

	pod.Labels["app"] = "v2"
	x.upsertPod(pod)
	require.Equal(t, Workload{Kind: KindDeployment, Name: "legacy"}, x.PodByUID("uid-a").Workload)
	require.False(t, resolveNext(t, x), "no GET for a pod already resolved")
}

// TestOwnerLookupForbidden: without replicasets/get the pods stay
// attributed to their ReplicaSet, the denial is logged once with the
// missing permission, GETs pause for five minutes and then try again.
func TestOwnerLookupForbidden(t *testing.T) {
	_, md := kubemetatest.FakeClients(replicaSets())
	denied := 0
	md.PrependReactor("get", "replicasets", func(a clienttesting.Action) (bool, runtime.Object, error) {
		denied++
		return true, nil, apierrors.NewForbidden(replicaSetGVR.GroupResource(), a.(clienttesting.GetAction).GetName(), errors.New("RBAC: access denied"))
	})
	core, logs := observer.New(zapcore.WarnLevel)
	clock := &fakeClock{t: time.Now()}
	x := newIndex(testSettings(), clock.now)
	owners, err := newOwnerResolver(md, 16, newAPIErrorReporter(zap.New(core), nil), clock.now)
	require.NoError(t, err)
	owners.resolved = x.setWorkload
	x.owners = owners

	x.upsertPod(ownedPod("legacy-a", "uid-a", "10.0.0.1", KindReplicaSet, "legacy-rs"))
	x.upsertPod(ownedPod("lonely-a", "uid-b", "10.0.0.2", KindReplicaSet, "lonely-rs"))
	require.True(t, resolveNext(t, x))
	require.Equal(t, 1, denied)
	require.False(t, resolveNext(t, x), "GETs paused")
	_, wait, _ := owners.next()
	require.Equal(t, replicaSetDeniedPause, wait)
	require.Equal(t, Workload{Kind: KindReplicaSet, Name: "legacy-rs"}, x.PodByUID("uid-a").Workload)
	require.Equal(t, Workload{Kind: KindReplicaSet, Name: "lonely-rs"}, x.PodByUID("uid-b").Workload)

	clock.t = clock.t.Add(replicaSetDeniedPause - time.Second)
	require.False(t, resolveNext(t, x), "still paused")
	clock.t = clock.t.Add(time.Second)
	require.True(t, resolveNext(t, x), "tried again after the pause")
	require.Equal(t, 2, denied)
	require.False(t, resolveNext(t, x), "paused again")
	require.Len(t, owners.queued, 2, "both ReplicaSets wait for the next try")

	require.Equal(t, 1, logs.Len(), "logged once: %v", logs.All())
	entry := logs.All()[0]
	require.Contains(t, entry.Message, "missing RBAC permission")
	require.Equal(t, `apiGroups: ["apps"], resources: ["replicasets"], verbs: ["get"]`, entry.ContextMap()["permission"])
}

// TestOwnerLookupErrorPausesBriefly: another API error pauses GETs for 30 s
// and the ReplicaSet is looked up again after it.
func TestOwnerLookupErrorPausesBriefly(t *testing.T) {
	_, md := kubemetatest.FakeClients(replicaSets())
	fail := true
	md.PrependReactor("get", "replicasets", func(clienttesting.Action) (bool, runtime.Object, error) {
		if fail {
			return true, nil, apierrors.NewServiceUnavailable("try later")
		}
		return false, nil, nil
	})
	clock := &fakeClock{t: time.Now()}
	x := newTestIndex(t, testSettings(), md, clock)
	x.upsertPod(ownedPod("legacy-a", "uid-a", "10.0.0.1", KindReplicaSet, "legacy-rs"))
	require.True(t, resolveNext(t, x))
	_, wait, ok := x.owners.next()
	require.False(t, ok)
	require.Equal(t, replicaSetErrorPause, wait)
	fail = false
	clock.t = clock.t.Add(replicaSetErrorPause)
	require.True(t, resolveNext(t, x))
	require.Equal(t, Workload{Kind: KindDeployment, Name: "legacy"}, x.PodByUID("uid-a").Workload)
}
