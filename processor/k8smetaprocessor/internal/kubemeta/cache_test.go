package kubemeta

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/kubemeta/kubemetatest"
)

// startTestCache runs a cache over fake clients serving objs, stopped by
// the test's cleanup, and waits until it is synced.
func startTestCache(t *testing.T, settings Settings, clients Clients) *Cache {
	t.Helper()
	c, err := Start(settings, clients, zap.NewNop(), nil)
	require.NoError(t, err)
	t.Cleanup(c.Stop)
	select {
	case <-c.Synced():
	case <-time.After(time.Minute):
		t.Fatal("cache did not sync")
	}
	return c
}

func fakeClients(objs kubemetatest.Objects) Clients {
	kube, md := kubemetatest.FakeClients(objs)
	return Clients{Kube: kube, Metadata: md}
}

// eventually polls until lookup returns a pod satisfying ok.
func eventually(t *testing.T, lookup func() *Pod, ok func(*Pod) bool, msg string) {
	t.Helper()
	require.Eventually(t, func() bool { return ok(lookup()) }, 30*time.Second, 5*time.Millisecond, msg)
}

func TestCacheFollowsWatch(t *testing.T) {
	clients := fakeClients(kubemetatest.Objects{})
	c := startTestCache(t, testSettings(), clients)
	pods := clients.Kube.CoreV1().Pods("shop")
	ctx := t.Context()

	// Add.
	p1 := testPod("web-0", "uid-1", "10.0.0.1", "web")
	_, err := pods.Create(ctx, p1, metav1.CreateOptions{})
	require.NoError(t, err)
	byName := func() *Pod { return c.PodByName("shop", "web-0") }
	byIP := func() *Pod { return c.PodByIP("10.0.0.1") }
	eventually(t, byName, func(m *Pod) bool { return m != nil && m.UID == "uid-1" }, "pod added")

	// Update: a label change is visible.
	p1.Labels["app"] = "web-v2"
	_, err = pods.Update(ctx, p1, metav1.UpdateOptions{})
	require.NoError(t, err)
	eventually(t, byName, func(m *Pod) bool { return m != nil && m.Labels[0] == "web-v2" }, "labels updated")

	// Delete: still found during the grace period.
	require.NoError(t, pods.Delete(ctx, "web-0", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool {
		c.mu.RLock()
		defer c.mu.RUnlock()
		_, deleted := c.deleted["uid-1"]
		return deleted
	}, 30*time.Second, 5*time.Millisecond, "pod marked deleted")
	c.sweep(time.Now())
	require.Equal(t, "uid-1", byIP().UID, "kept for the grace period")

	// IP and name reuse by a new pod: the new pod wins at once, and the
	// expiry of the old one must not remove the new entries.
	_, err = pods.Create(ctx, testPod("web-0", "uid-2", "10.0.0.1", "web"), metav1.CreateOptions{})
	require.NoError(t, err)
	eventually(t, byIP, func(m *Pod) bool { return m != nil && m.UID == "uid-2" }, "ip taken by new pod")
	c.sweep(time.Now().Add(2 * time.Hour))
	require.Equal(t, "uid-2", byIP().UID)
	require.Equal(t, "uid-2", byName().UID)
	require.Nil(t, c.PodByUID("uid-1"), "old pod expired")
	require.Equal(t, map[string]int{"pod": 1, "replicaset": 0}, c.Entries())
}

func TestCacheNodesAndNamespaces(t *testing.T) {
	objs := kubemetatest.Objects{
		Nodes:      []corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "node-a", Labels: map[string]string{labelZone: "eu-west-1a"}}}},
		Namespaces: []corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"team": "checkout"}}}},
	}
	s := testSettings()
	s.NodeTopology = true
	s.NamespaceLabels = []string{"team"}
	c := startTestCache(t, s, fakeClients(objs))
	require.Equal(t, "eu-west-1a", c.Node("node-a").Zone)
	require.Equal(t, []string{"checkout"}, c.Namespace("shop").Labels)
	require.Equal(t, map[string]int{"pod": 0, "node": 1, "namespace": 1, "replicaset": 0}, c.Entries())
}

// TestSyncedAfterOwnerLookups: Synced waits for the owners the first list
// needs, so that data enriched right after Start does not name a
// ReplicaSet where a Deployment is due.
func TestSyncedAfterOwnerLookups(t *testing.T) {
	objs := replicaSets()
	objs.Pods = []corev1.Pod{*ownedPod("legacy-a", "uid-a", "10.0.0.1", KindReplicaSet, "legacy-rs")}
	c := startTestCache(t, testSettings(), fakeClients(objs))
	require.Equal(t, Workload{Kind: KindDeployment, Name: "legacy"}, c.PodByUID("uid-a").Workload)
	require.Equal(t, 1, c.Entries()["replicaset"])
}

// TestSyncedWhenOwnerLookupsDenied: a denied lookup does not hold Synced
// back; the pods keep their ReplicaSet.
func TestSyncedWhenOwnerLookupsDenied(t *testing.T) {
	objs := replicaSets()
	objs.Pods = []corev1.Pod{*ownedPod("legacy-a", "uid-a", "10.0.0.1", KindReplicaSet, "legacy-rs")}
	kube, md := kubemetatest.FakeClients(objs)
	md.PrependReactor("get", "replicasets", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(replicaSetGVR.GroupResource(), "legacy-rs", errors.New("denied"))
	})
	c := startTestCache(t, testSettings(), Clients{Kube: kube, Metadata: md})
	require.Equal(t, Workload{Kind: KindReplicaSet, Name: "legacy-rs"}, c.PodByUID("uid-a").Workload)
}

// TestWatchDoesNotWaitForOwnerLookups: while a ReplicaSet GET hangs, the
// pod watch goes on; the owner arrives when the GET answers.
func TestWatchDoesNotWaitForOwnerLookups(t *testing.T) {
	kube, md := kubemetatest.FakeClients(replicaSets())
	release := make(chan struct{})
	md.PrependReactor("get", "replicasets", func(clienttesting.Action) (bool, runtime.Object, error) {
		<-release
		return false, nil, nil // on to the fake's object tracker
	})
	c := startTestCache(t, testSettings(), Clients{Kube: kube, Metadata: md})
	unblock := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock) // before Stop, should the test fail
	pods := kube.CoreV1().Pods("shop")
	_, err := pods.Create(t.Context(), ownedPod("legacy-a", "uid-a", "10.0.0.1", KindReplicaSet, "legacy-rs"), metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = pods.Create(t.Context(), testPod("web-0", "uid-b", "10.0.0.2", "web"), metav1.CreateOptions{})
	require.NoError(t, err)

	eventually(t, func() *Pod { return c.PodByUID("uid-b") }, func(p *Pod) bool { return p != nil }, "the watch goes on during the GET")
	require.Equal(t, Workload{Kind: KindReplicaSet, Name: "legacy-rs"}, c.PodByUID("uid-a").Workload, "until resolved")
	unblock()
	eventually(t, func() *Pod { return c.PodByUID("uid-a") },
		func(p *Pod) bool { return p.Workload == Workload{Kind: KindDeployment, Name: "legacy"} }, "resolved")
}

func TestStartNeedsClients(t *testing.T) {
	_, err := Start(testSettings(), Clients{}, zap.NewNop(), nil)
	require.ErrorContains(t, err, "no kubernetes client")
	kube, _ := kubemetatest.FakeClients(kubemetatest.Objects{})
	s := testSettings()
	s.NodeTopology = true
	_, err = Start(s, Clients{Kube: kube}, zap.NewNop(), nil)
	require.ErrorContains(t, err, "no metadata client")
}
