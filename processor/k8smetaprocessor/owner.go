package k8smetaprocessor

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Workload kinds as written in workload_kind.
const (
	kindPod         = "Pod"
	kindDeployment  = "Deployment"
	kindReplicaSet  = "ReplicaSet"
	kindStatefulSet = "StatefulSet"
	kindDaemonSet   = "DaemonSet"
	kindJob         = "Job"
	kindCronJob     = "CronJob"
)

// podTemplateHashLabel is set by the Deployment controller on every pod and
// ReplicaSet it creates; the ReplicaSet is named <deployment>-<hash>.
const podTemplateHashLabel = "pod-template-hash"

// maxObjectNameLength is the longest object name the API server accepts; a
// ReplicaSet name that long may have been shortened, so it is not trusted
// for derivation.
const maxObjectNameLength = 253

// workload is the owner of a pod as far as users care about it.
type workload struct {
	kind string // one of the kind* constants or another owner kind
	name string
	job  string // the Job of a CronJob pod, else empty
}

// replicaSetOwnerFunc resolves the controller of a ReplicaSet. ok is false
// when it cannot be known (API error, RBAC denial); the pod is then
// attributed to the ReplicaSet itself.
type replicaSetOwnerFunc func(namespace, name string) (kind, ownerName string, ok bool)

// workloadOf returns the workload of pod. The Deployment behind a
// ReplicaSet is derived from the pod's pod-template-hash label when the
// ReplicaSet name is exactly <deployment>-<hash> (the label is the exact
// suffix, unlike a regular expression guess); otherwise rsOwner is asked.
// A Job named <cronjob>-<minutes since epoch> is attributed to its CronJob,
// as the CronJob controller names them.
func workloadOf(pod *corev1.Pod, rsOwner replicaSetOwnerFunc) workload {
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind == "Node" { // bare or static (mirror) pod
		return workload{kind: kindPod, name: pod.Name}
	}
	switch ref.Kind {
	case kindReplicaSet:
		if d, ok := deploymentFromReplicaSet(ref.Name, pod.Labels[podTemplateHashLabel]); ok {
			return workload{kind: kindDeployment, name: d}
		}
		if rsOwner != nil {
			if kind, name, ok := rsOwner(pod.Namespace, ref.Name); ok && kind != "" {
				return workload{kind: kind, name: name}
			}
		}
		return workload{kind: kindReplicaSet, name: ref.Name}
	case kindJob:
		if cj, ok := cronJobFromJob(ref.Name); ok {
			return workload{kind: kindCronJob, name: cj, job: ref.Name}
		}
		return workload{kind: kindJob, name: ref.Name}
	default:
		return workload{kind: ref.Kind, name: ref.Name}
	}
}

// deploymentFromReplicaSet derives the Deployment name when rs ends with
// "-"+hash and is short enough not to have been truncated.
func deploymentFromReplicaSet(rs, hash string) (string, bool) {
	if hash == "" || len(rs) <= len(hash)+1 || len(rs) >= maxObjectNameLength {
		return "", false
	}
	base, ok := strings.CutSuffix(rs, hash)
	if !ok || !strings.HasSuffix(base, "-") {
		return "", false
	}
	return base[:len(base)-1], true
}

// Bounds of a CronJob-scheduled time in minutes since the epoch that are
// accepted as a Job name suffix: 2015-01-01 to 2100-01-01.
const (
	minCronJobMinutes = 23667840
	maxCronJobMinutes = 68374080
)

// cronJobFromJob recognises the Job names the CronJob controller creates,
// <cronjob>-<scheduled time in minutes since the epoch>.
func cronJobFromJob(job string) (string, bool) {
	i := strings.LastIndexByte(job, '-')
	if i <= 0 || i == len(job)-1 {
		return "", false
	}
	minutes, err := strconv.ParseInt(job[i+1:], 10, 64)
	if err != nil || minutes < minCronJobMinutes || minutes > maxCronJobMinutes {
		return "", false
	}
	return job[:i], true
}
