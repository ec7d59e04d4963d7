package k8smetaprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func testPod(name, uid, ip, app string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", UID: types.UID(uid), Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{NodeName: "node-a"},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip},
	}
}

// startTestCache runs a cache over fake clients; the grace period is long
// so that only explicit sweep calls expire deleted pods.
func startTestCache(t *testing.T, objs testObjects) (*cacheRunner, Clients) {
	t.Helper()
	clients, _, _ := fakeClients(objs)
	cfg := createDefaultConfig()
	cfg.DeletedPodGracePeriod = time.Hour
	cfg.Extract.PodLabels = []LabelConfig{{Key: "app"}}
	r, err := startCache(settingsOf(cfg), clients, 16, newAPIErrorReporter(zap.NewNop(), nil))
	require.NoError(t, err)
	t.Cleanup(r.stop)
	select {
	case <-r.cache.syncedCh:
	case <-time.After(time.Minute):
		t.Fatal("cache did not sync")
	}
	return r, clients
}

// eventuallyPod polls until the pod found by lookup satisfies ok.
func eventuallyPod(t *testing.T, c *metaCache, lookup func() *podMeta, ok func(*podMeta) bool, msg string) {
	t.Helper()
	require.Eventually(t, func() bool {
		c.mu.RLock()
		defer c.mu.RUnlock()
		return ok(lookup())
	}, 30*time.Second, 5*time.Millisecond, msg)
}

func TestInformerLifecycle(t *testing.T) {
	r, clients := startTestCache(t, testObjects{})
	c := r.cache
	pods := clients.Kube.CoreV1().Pods("shop")
	ctx := context.Background()

	// Add.
	p1 := testPod("web-0", "uid-1", "10.0.0.1", "web")
	_, err := pods.Create(ctx, p1, metav1.CreateOptions{})
	require.NoError(t, err)
	byName := func() *podMeta { return c.podByName("shop", "web-0") }
	byIP := func() *podMeta { return c.podByIP("10.0.0.1") }
	eventuallyPod(t, c, byName, func(m *podMeta) bool { return m != nil && m.uid == "uid-1" }, "pod added")

	// Update: label change is visible.
	p1.Labels["app"] = "web-v2"
	_, err = pods.Update(ctx, p1, metav1.UpdateOptions{})
	require.NoError(t, err)
	eventuallyPod(t, c, byName, func(m *podMeta) bool { return m != nil && m.labels[0] == "web-v2" }, "labels updated")

	// Delete: still found during the grace period.
	require.NoError(t, pods.Delete(ctx, "web-0", metav1.DeleteOptions{}))
	eventuallyPod(t, c, byName, func(m *podMeta) bool { return m != nil && m.deletedAt != 0 }, "pod marked deleted")
	c.sweep(time.Now())
	eventuallyPod(t, c, byIP, func(m *podMeta) bool { return m != nil && m.uid == "uid-1" }, "kept for the grace period")

	// IP and name reuse by a new pod: the new pod wins at once, and the
	// expiry of the old one must not remove the new entries.
	p2 := testPod("web-0", "uid-2", "10.0.0.1", "web")
	_, err = pods.Create(ctx, p2, metav1.CreateOptions{})
	require.NoError(t, err)
	eventuallyPod(t, c, byIP, func(m *podMeta) bool { return m != nil && m.uid == "uid-2" }, "ip taken by new pod")
	c.sweep(time.Now().Add(2 * time.Hour))
	c.mu.RLock()
	require.Equal(t, "uid-2", c.podByIP("10.0.0.1").uid)
	require.Equal(t, "uid-2", c.podByName("shop", "web-0").uid)
	require.Nil(t, c.podByUID("uid-1"), "old pod expired")
	c.mu.RUnlock()
}

func TestTerminatingPodDoesNotTakeIPBack(t *testing.T) {
	c := newMetaCache(settingsOf(createDefaultConfig()), time.Now)
	old := testPod("a", "uid-old", "10.0.0.9", "x")
	c.upsertPod(old)
	c.upsertPod(testPod("b", "uid-new", "10.0.0.9", "x"))
	now := metav1.Now()
	old.DeletionTimestamp = &now
	c.upsertPod(old)
	require.Equal(t, "uid-new", c.podByIP("10.0.0.9").uid)
	// A finished pod releases its IP.
	done := testPod("b", "uid-new", "10.0.0.9", "x")
	done.Status.Phase = corev1.PodSucceeded
	c.upsertPod(done)
	require.Nil(t, c.podByIP("10.0.0.9"))
}

func TestHostNetworkPodNotIndexedByIP(t *testing.T) {
	c := newMetaCache(settingsOf(createDefaultConfig()), time.Now)
	p := testPod("ne", "uid-ne", "192.168.1.5", "ne")
	p.Spec.HostNetwork = true
	c.upsertPod(p)
	require.Nil(t, c.podByIP("192.168.1.5"))
	require.NotNil(t, c.podByUID("uid-ne"))
}

func TestNodeFilterIgnoresOtherNodes(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.NodeFilter = "node-b"
	c := newMetaCache(settingsOf(cfg), time.Now)
	c.upsertPod(testPod("a", "uid-a", "10.0.0.1", "x")) // on node-a
	require.Nil(t, c.podByUID("uid-a"))
}
