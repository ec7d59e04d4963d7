package kubemeta

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// podTemplateHashLabel is set by the Deployment controller on every pod and
// ReplicaSet it creates; the ReplicaSet is named <deployment>-<hash>.
const podTemplateHashLabel = "pod-template-hash"

// workloadOf returns the workload of pod as far as its own object tells.
// When the pod belongs to a ReplicaSet whose Deployment cannot be derived
// from the names, it returns the ReplicaSet as the workload and its name as
// lookup: only the ReplicaSet's owner reference can tell the rest.
func workloadOf(pod *corev1.Pod) (w Workload, lookup string) {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind == "Node" { // bare or static (mirror) pod
		return Workload{Kind: KindPod, Name: pod.Name}, ""
	}
	switch ref.Kind {
	case KindReplicaSet:
		if d, ok := deploymentFromReplicaSet(ref.Name, pod.Labels[podTemplateHashLabel]); ok {
			return Workload{Kind: KindDeployment, Name: d}, ""
		}
		return Workload{Kind: KindReplicaSet, Name: ref.Name}, ref.Name
	case KindJob:
		if cj, ok := cronJobFromJob(ref.Name); ok {
			return Workload{Kind: KindCronJob, Name: cj, Job: ref.Name}, ""
		}
		return Workload{Kind: KindJob, Name: ref.Name}, ""
	default:
		return Workload{Kind: ref.Kind, Name: ref.Name}, ""
	}
}

// deploymentFromReplicaSet derives the Deployment of ReplicaSet rs from the
// pod-template-hash label of its pods: the Deployment controller names a
// ReplicaSet <deployment>-<hash>, so the label is the exact suffix (unlike
// a regular expression's guess, contrib #12936). A name of the longest
// length the API server accepts may have been shortened by the controller,
// so it is not trusted.
func deploymentFromReplicaSet(rs, hash string) (string, bool) {
	if hash == "" || len(rs) >= validation.DNS1123SubdomainMaxLength {
		return "", false
	}
	base, ok := strings.CutSuffix(rs, hash)
	if !ok {
		return "", false
	}
	base, ok = strings.CutSuffix(base, "-")
	if !ok || base == "" {
		return "", false
	}
	return base, true
}

// Scheduled times, in minutes since the epoch, accepted as the suffix of a
// CronJob's Job name: 2015-01-01 to 2100-01-01.
const (
	minCronJobMinutes = 23667840
	maxCronJobMinutes = 68374080
)

// cronJobFromJob recognises the Job names the CronJob controller creates,
// <cronjob>-<scheduled time in minutes since the epoch>, the number in
// decimal without sign or leading zero. A Job made by hand and named like
// that is attributed to a CronJob too.
func cronJobFromJob(job string) (string, bool) {
	i := strings.LastIndexByte(job, '-')
	if i <= 0 || strings.HasPrefix(job[i+1:], "0") {
		return "", false
	}
	minutes, err := strconv.ParseUint(job[i+1:], 10, 64)
	if err != nil || minutes < minCronJobMinutes || minutes > maxCronJobMinutes {
		return "", false
	}
	return job[:i], true
}
