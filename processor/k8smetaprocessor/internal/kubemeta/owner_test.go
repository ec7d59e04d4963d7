package kubemeta

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDeploymentFromReplicaSet(t *testing.T) {
	f := func(rs, hash, want string) {
		t.Helper()
		got, ok := deploymentFromReplicaSet(rs, hash)
		if ok != (want != "") || got != want {
			t.Fatalf("deploymentFromReplicaSet(%q, %q) = %q, %v; want %q", rs, hash, got, ok, want)
		}
	}
	f("orders-7d4b9c8f6", "7d4b9c8f6", "orders")
	f("my-app-v2-5f7c9d", "5f7c9d", "my-app-v2")
	f("a-1", "1", "a")
	// Hash mismatch: a ReplicaSet not named by the Deployment controller.
	f("legacy-rs", "7d4b9c8f6", "")
	f("orders-7d4b9c8f7", "7d4b9c8f6", "")
	f("orders7d4b9c8f6", "7d4b9c8f6", "") // no dash before the hash
	// No hash label: not a Deployment's pod.
	f("orders-7d4b9c8f6", "", "")
	// Nothing before the dash.
	f("-7d4b9c8f6", "7d4b9c8f6", "")
	f("7d4b9c8f6", "7d4b9c8f6", "")
	// Names of the longest accepted length may have been truncated by the
	// controller: not trusted; one shorter is.
	long := strings.Repeat("d", 252-len("-abc"))
	f(long+"-abc", "abc", long)
	f(long+"x-abc", "abc", "")
}

func TestCronJobFromJob(t *testing.T) {
	f := func(job, want string) {
		t.Helper()
		got, ok := cronJobFromJob(job)
		if ok != (want != "") || got != want {
			t.Fatalf("cronJobFromJob(%q) = %q, %v; want %q", job, got, ok, want)
		}
	}
	f("report-29408160", "report")
	f("nightly-backup-29408160", "nightly-backup")
	// Minute bounds: 2015-01-01 and 2100-01-01 included, outside not.
	f("report-23667840", "report")
	f("report-68374080", "report")
	f("report-23667839", "")
	f("report-68374081", "")
	// Not a scheduled time.
	f("report", "")
	f("report-", "")
	f("-29408160", "")
	f("report-2940816x", "")
	f("report-+29408160", "")
	f("report-029408160", "")
	f("migrate-1", "")
	f("report-99999999999999999999999", "")
}

func TestWorkloadOf(t *testing.T) {
	ctrl := true
	pod := func(kind, owner string, labels map[string]string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p-1", Namespace: "shop", Labels: labels}}
		if kind != "" {
			p.OwnerReferences = []metav1.OwnerReference{{Kind: kind, Name: owner, Controller: &ctrl}}
		}
		return p
	}
	hash := map[string]string{podTemplateHashLabel: "7d4b9c8f6"}
	f := func(p *corev1.Pod, want Workload, wantLookup string) {
		t.Helper()
		got, lookup := workloadOf(p)
		if got != want || lookup != wantLookup {
			t.Fatalf("workloadOf(%v) = %+v, %q; want %+v, %q", p.OwnerReferences, got, lookup, want, wantLookup)
		}
	}
	f(pod(KindReplicaSet, "orders-7d4b9c8f6", hash), Workload{Kind: KindDeployment, Name: "orders"}, "")
	f(pod(KindReplicaSet, "legacy-rs", hash), Workload{Kind: KindReplicaSet, Name: "legacy-rs"}, "legacy-rs")
	f(pod(KindReplicaSet, "orders-7d4b9c8f6", nil), Workload{Kind: KindReplicaSet, Name: "orders-7d4b9c8f6"}, "orders-7d4b9c8f6")
	f(pod(KindJob, "report-29408160", nil), Workload{Kind: KindCronJob, Name: "report", Job: "report-29408160"}, "")
	f(pod(KindJob, "migrate", nil), Workload{Kind: KindJob, Name: "migrate"}, "")
	f(pod(KindStatefulSet, "db", nil), Workload{Kind: KindStatefulSet, Name: "db"}, "")
	f(pod(KindDaemonSet, "agent", nil), Workload{Kind: KindDaemonSet, Name: "agent"}, "")
	f(pod("Rollout", "canary", nil), Workload{Kind: "Rollout", Name: "canary"}, "")
	// Bare pods and static (mirror) pods, owned by their Node, are their
	// own workload.
	f(pod("", "", nil), Workload{Kind: KindPod, Name: "p-1"}, "")
	f(pod("Node", "ip-10-0-0-1", nil), Workload{Kind: KindPod, Name: "p-1"}, "")
	// An owner that is not the controller does not count.
	notCtrl := pod("", "", nil)
	notCtrl.OwnerReferences = []metav1.OwnerReference{{Kind: KindStatefulSet, Name: "db"}}
	f(notCtrl, Workload{Kind: KindPod, Name: "p-1"}, "")
}
