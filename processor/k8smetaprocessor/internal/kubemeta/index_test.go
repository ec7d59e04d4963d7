package kubemeta

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTerminatingPodDoesNotTakeIPBack(t *testing.T) {
	x := newIndex(testSettings(), time.Now)
	old := testPod("a", "uid-old", "10.0.0.9", "x")
	x.upsertPod(old)
	x.upsertPod(testPod("b", "uid-new", "10.0.0.9", "x"))
	now := metav1.Now()
	old.DeletionTimestamp = &now
	x.upsertPod(old)
	require.Equal(t, "uid-new", x.PodByIP("10.0.0.9").UID)
	// A finished pod releases its IP.
	done := testPod("b", "uid-new", "10.0.0.9", "x")
	done.Status.Phase = corev1.PodSucceeded
	x.upsertPod(done)
	require.Nil(t, x.PodByIP("10.0.0.9"))
}

func TestHostNetworkPodNotIndexedByIP(t *testing.T) {
	x := newIndex(testSettings(), time.Now)
	p := testPod("ne", "uid-ne", "192.168.1.5", "ne")
	p.Spec.HostNetwork = true
	x.upsertPod(p)
	require.Nil(t, x.PodByIP("192.168.1.5"))
	require.NotNil(t, x.PodByUID("uid-ne"))
}

func TestNodeFilterIgnoresOtherNodes(t *testing.T) {
	s := testSettings()
	s.NodeFilter = "node-b"
	s.NodeTopology = true
	x := newIndex(s, time.Now)
	x.upsertPod(testPod("a", "uid-a", "10.0.0.1", "x")) // on node-a
	require.Nil(t, x.PodByUID("uid-a"))
	x.nodes.upsert(&metav1.ObjectMeta{Name: "node-a"})
	x.nodes.upsert(&metav1.ObjectMeta{Name: "node-b"})
	require.Nil(t, x.Node("node-a"))
	require.NotNil(t, x.Node("node-b"))
}

// TestDeletedPodGracePeriod: a deleted pod is found until its grace period
// has passed, and a new pod that took its name and IP meanwhile keeps them
// when it expires.
func TestDeletedPodGracePeriod(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	x := newIndex(testSettings(), clock.now)
	x.upsertPod(testPod("web-0", "uid-1", "10.0.0.1", "web"))
	x.upsertPod(testPod("web-1", "uid-2", "10.0.0.2", "web"))
	x.deletePod("uid-1")
	x.deletePod("uid-2")

	x.sweep(clock.t.Add(time.Hour - time.Second))
	require.Equal(t, "uid-1", x.PodByName("shop", "web-0").UID, "kept for the grace period")
	require.Equal(t, "uid-1", x.PodByIP("10.0.0.1").UID)

	x.upsertPod(testPod("web-0", "uid-3", "10.0.0.1", "web")) // takes name and IP
	require.Equal(t, "uid-3", x.PodByName("shop", "web-0").UID)
	require.Equal(t, "uid-3", x.PodByIP("10.0.0.1").UID)

	x.sweep(clock.t.Add(time.Hour))
	require.Nil(t, x.PodByUID("uid-1"), "expired")
	require.Nil(t, x.PodByUID("uid-2"), "expired")
	require.Nil(t, x.PodByName("shop", "web-1"))
	require.Nil(t, x.PodByIP("10.0.0.2"))
	require.Equal(t, "uid-3", x.PodByName("shop", "web-0").UID, "the new pod keeps the name")
	require.Equal(t, "uid-3", x.PodByIP("10.0.0.1").UID, "and the IP")
	pods, _, _ := x.sizes()
	require.Equal(t, 1, pods)
	require.Empty(t, x.deleted)
}

func TestReplacePodsDeletesAbsent(t *testing.T) {
	s := testSettings()
	s.DeletedPodGracePeriod = 0
	x := newIndex(s, time.Now)
	x.upsertPod(testPod("a", "uid-a", "10.0.0.1", "x"))
	x.replacePods([]*corev1.Pod{testPod("b", "uid-b", "10.0.0.2", "y")})
	require.Nil(t, x.PodByUID("uid-a"))
	require.Nil(t, x.PodByIP("10.0.0.1"))
	require.Equal(t, []string{"y"}, x.PodByUID("uid-b").Labels)
}

// TestPodsAreNotModified: an update replaces the Pod a reader may hold.
func TestPodsAreNotModified(t *testing.T) {
	x := newIndex(testSettings(), time.Now)
	p := testPod("a", "uid-a", "10.0.0.1", "v1")
	x.upsertPod(p)
	held := x.PodByUID("uid-a")
	p.Labels["app"] = "v2"
	x.upsertPod(p)
	require.Equal(t, []string{"v1"}, held.Labels)
	require.Equal(t, []string{"v2"}, x.PodByUID("uid-a").Labels)
}

func TestNodeTopology(t *testing.T) {
	s := testSettings()
	s.NodeTopology = true
	s.NodeLabels = []string{"team"}
	x := newIndex(s, time.Now)
	x.nodes.upsert(&metav1.ObjectMeta{Name: "eks", Labels: map[string]string{
		labelZone: "eu-west-1a", labelRegion: "eu-west-1", labelInstanceType: "m7g.large",
		labelNodegroup: "general", labelCapacityType: "ON_DEMAND", labelKarpenterCapacity: "spot", "team": "infra",
	}})
	x.nodes.upsert(&metav1.ObjectMeta{Name: "karpenter", Labels: map[string]string{
		labelZoneBeta: "eu-west-1b", labelRegionBeta: "eu-west-1", labelInstanceTypeBeta: "c7g.large",
		labelKarpenterCapacity: "spot", labelNodepool: "burst",
	}})
	require.Equal(t, &Node{Zone: "eu-west-1a", Region: "eu-west-1", InstanceType: "m7g.large", Nodegroup: "general",
		CapacityType: "ON_DEMAND", Labels: []string{"infra"}}, x.Node("eks"))
	require.Equal(t, &Node{Zone: "eu-west-1b", Region: "eu-west-1", InstanceType: "c7g.large", CapacityType: "spot",
		KarpenterCapacity: true, Nodepool: "burst", Labels: []string{""}}, x.Node("karpenter"))
	x.nodes.replace([]metav1.Object{&metav1.ObjectMeta{Name: "eks"}})
	require.Nil(t, x.Node("karpenter"))
	x.nodes.remove("eks")
	require.Nil(t, x.Node("eks"))
}
