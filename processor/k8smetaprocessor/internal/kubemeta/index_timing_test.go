package kubemeta

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// decodedPod returns pod i as the pod reflector hands it over: every
// string its own allocation, as decoding makes them; a Deployment's pod
// with a few labels, of which Settings keep at most app.
func decodedPod(i int) *corev1.Pod {
	ctrl := true
	deployment := fmt.Sprintf("svc%04d", i/3)
	hash := fmt.Sprintf("%09x", i/3)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: fmt.Sprintf("team%02d", i%50),
			Name:      fmt.Sprintf("%s-%s-%05x", deployment, hash, i),
			UID:       types.UID(fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)),
			Labels: map[string]string{
				"app": fmt.Sprint(deployment), podTemplateHashLabel: fmt.Sprint(hash),
				"app.kubernetes.io/version": "1.2.3",
			},
			OwnerReferences: []metav1.OwnerReference{{Kind: KindReplicaSet, Name: fmt.Sprintf("%s-%s", deployment, hash), Controller: &ctrl}},
		},
		Spec:   corev1.PodSpec{NodeName: fmt.Sprintf("ip-10-0-%d-%d.eu-west-1.compute.internal", i%100/10, i%10)},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.%d.%d.%d", 1+i>>16&255, i>>8&255, i&255), StartTime: &metav1.Time{Time: time.Unix(1_800_000_000, 0)}},
	}
}

// heldBytes returns the heap that fill leaves reachable through what it
// returns, garbage collected before and after.
func heldBytes(fill func() any) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	kept := fill()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(kept)
	return float64(after.HeapAlloc) - float64(before.HeapAlloc)
}

// clusterSettings are the shipped configurations' (workload, node
// topology) plus one pod, node and namespace label each.
func clusterSettings() Settings {
	return Settings{
		DeletedPodGracePeriod: 2 * time.Minute,
		Workload:              true,
		ReplicaSetCacheSize:   1024,
		NodeTopology:          true,
		PodLabels:             []string{"app"},
		NodeLabels:            []string{"karpenter.sh/nodepool"},
		NamespaceLabels:       []string{"team"},
	}
}

// BenchmarkPodMemory reports the heap held per cached pod: the Pod, its
// entries in the three indexes and the strings it keeps of the decoded
// object (which is garbage after the event), for 5000 pods. It fails above
// the budget of 512 B per pod.
func BenchmarkPodMemory(b *testing.B) {
	const n = 5000
	for range b.N {
		held := heldBytes(func() any {
			x := newIndex(clusterSettings(), time.Now)
			for i := range n {
				x.upsertPod(decodedPod(i))
			}
			return x
		})
		b.ReportMetric(held/n, "B/pod")
		if held/n > 512 {
			b.Fatalf("%.0f B per cached pod, over 512", held/n)
		}
	}
}

// BenchmarkCluster5000 reports the heap held by the cache of a 5000-pod
// cluster: the pods, 100 nodes, 50 namespaces and a full ReplicaSet owner
// LRU (1024 entries, the default size). It fails at 10 MB.
func BenchmarkCluster5000(b *testing.B) {
	for range b.N {
		held := heldBytes(func() any {
			x := newIndex(clusterSettings(), time.Now)
			owners, err := newOwnerResolver(nil, 1024, nil, time.Now)
			if err != nil {
				b.Fatal(err)
			}
			x.owners = owners
			for i := range 100 {
				x.nodes.upsert(&metav1.ObjectMeta{Name: fmt.Sprintf("ip-10-0-%d-%d.eu-west-1.compute.internal", i/10, i%10), Labels: map[string]string{
					labelZone: "eu-west-1a", labelRegion: "eu-west-1", labelInstanceType: "m7g.xlarge",
					labelNodegroup: "general", labelCapacityType: "ON_DEMAND", "kubernetes.io/hostname": fmt.Sprint(i),
				}})
			}
			for i := range 50 {
				x.namespaces.upsert(&metav1.ObjectMeta{Name: fmt.Sprintf("team%02d", i), Labels: map[string]string{"team": fmt.Sprint("t", i)}})
			}
			for i := range 1024 {
				owners.known.Add(replicaSetRef{namespace: fmt.Sprintf("team%02d", i%50), name: fmt.Sprintf("rollout%04d-%09x", i, i)},
					Workload{Kind: "Rollout", Name: fmt.Sprintf("rollout%04d", i)})
			}
			for i := range 5000 {
				x.upsertPod(decodedPod(i))
			}
			return x
		})
		b.ReportMetric(held, "B/cluster")
		if held >= 10<<20 {
			b.Fatalf("a 5000-pod cluster holds %.0f B, over 10 MB", held)
		}
	}
}
