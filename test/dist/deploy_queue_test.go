//go:build e2e

package dist

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/otelcol-eks/otelcol-eks/test/harness/otelop"
)

// TestDeployQueueVolume: where each mode keeps the remote_write_delivery
// queue, in the pod the operator makes: the volume is mounted at the
// directory the configuration resolves to; in deployment mode an emptyDir
// (container restarts), in daemonset mode a directory of the node per
// collector resource, handed to the collector's user by an init container
// (root with CAP_CHOWN only, run here twice as a node's first and next
// pod would) while the collector stays non-root, and a rollout that never
// starts a second pod on the node beside the first; in statefulset mode a
// volume claim per replica, writable through fsGroup. Every volume holds
// the queue's bound with room to spare.
func TestDeployQueueVolume(t *testing.T) {
	uid, gid := imageUser(t)
	for file, r := range deployCollectors(t) {
		t.Run(file, func(t *testing.T) {
			resolved := resolveInPod(t, r, operatorConfig(t, r), false)
			// Every remote_write_delivery queue of the collector, in one
			// directory; the volume holds their bounds with a quarter to spare.
			var queueDir string
			var bound int64
			for id, ext := range lookup(resolved, "extensions").(map[string]any) {
				if componentType := strings.SplitN(id, "/", 2)[0]; componentType != "remote_write_delivery" {
					continue
				}
				delivery := ext.(map[string]any)
				require.True(t, queueDir == "" || queueDir == delivery["directory"], "the queues share one directory")
				queueDir = delivery["directory"].(string)
				q := resource.MustParse(fmt.Sprintf("%vMi", delivery["max_size_mib"]))
				bound += q.Value()
			}
			require.NotEmpty(t, queueDir)
			roomy := func(size resource.Quantity) {
				t.Helper()
				require.GreaterOrEqual(t, size.Value(), bound*5/4, "the queue's volume must hold its queues' max_size_mib (%d MiB) and a quarter", bound>>20)
			}

			pod, err := r.Pod(testPodName, testNodeName)
			require.NoError(t, err)
			collector := pod.Spec.Containers[0]
			storage := mountAt(t, collector, queueDir)
			sc := collector.SecurityContext
			require.NotNil(t, sc, "the collector's securityContext")
			require.Equal(t, true, *sc.RunAsNonRoot)
			require.Equal(t, uid, *sc.RunAsUser, "the image's user")
			require.Equal(t, gid, *sc.RunAsGroup, "the image's group")
			require.Equal(t, false, *sc.AllowPrivilegeEscalation)

			switch r.Mode() {
			case "deployment":
				v := volume(t, pod, storage)
				require.NotNil(t, v.EmptyDir, "deployment mode keeps the queue in an emptyDir")
				roomy(*v.EmptyDir.SizeLimit)
			case "daemonset":
				v := volume(t, pod, storage)
				require.NotNil(t, v.HostPath, "daemonset mode keeps the queue on the node")
				require.Equal(t, corev1.HostPathDirectoryOrCreate, *v.HostPath.Type)
				require.True(t, strings.HasSuffix(v.HostPath.Path, "/"+r.Namespace+"/"+r.Name),
					"one directory per collector resource: %s", v.HostPath.Path)
				require.Len(t, pod.Spec.InitContainers, 1)
				init := pod.Spec.InitContainers[0]
				initDir := mountOf(t, init, storage)
				isc := init.SecurityContext
				require.Equal(t, int64(0), *isc.RunAsUser, "chown needs root")
				require.Equal(t, []corev1.Capability{"ALL"}, isc.Capabilities.Drop)
				require.Equal(t, []corev1.Capability{"CHOWN"}, isc.Capabilities.Add, "and nothing but CAP_CHOWN")
				requireHandsOverEachTime(t, init, initDir, uid, gid)
				require.Equal(t, false, *isc.AllowPrivilegeEscalation)
				require.Nil(t, pod.Spec.SecurityContext, "no pod-level user that would make the init container non-root")
				// The queue's lock refuses a second process on the directory:
				// a surge would start the next pod beside the old one.
				require.Equal(t, "RollingUpdate", lookup(r.Spec, "daemonSetUpdateStrategy", "type"))
				require.Equal(t, 0, lookup(r.Spec, "daemonSetUpdateStrategy", "rollingUpdate", "maxSurge"))
			case "statefulset":
				v := volume(t, pod, storage)
				require.NotNil(t, v.PersistentVolumeClaim, "statefulset mode keeps the queue on a volume per replica")
				require.Equal(t, storage+"-"+testPodName, v.PersistentVolumeClaim.ClaimName)
				var claims []corev1.PersistentVolumeClaim
				require.NoError(t, otelop.DecodeField(r.Spec, "volumeClaimTemplates", &claims))
				require.Len(t, claims, 1)
				require.Equal(t, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, claims[0].Spec.AccessModes)
				roomy(claims[0].Spec.Resources.Requests[corev1.ResourceStorage])
				require.Equal(t, gid, *pod.Spec.SecurityContext.FSGroup, "a new volume is root's: fsGroup makes it the collector's group's")
			default:
				t.Fatalf("mode %s: where does it keep the queue?", r.Mode())
			}
		})
	}
}

// requireHandsOverEachTime runs the init container's command on a directory
// of this machine standing in for the node's, as the container runs it:
// root with nothing but the capabilities it adds (setpriv). It runs twice,
// as for a node's first collector pod and for the next one, which finds the
// directory the collector's already (chmod then needs CAP_FOWNER, which the
// container does not have): both must succeed and leave the directory the
// collector's user's, mode 0700.
func requireHandsOverEachTime(t *testing.T, init corev1.Container, initDir string, uid, gid int64) {
	t.Helper()
	require.Zero(t, os.Geteuid(), "the init container's command is run as root with only its capabilities (setpriv): run the tests as root, as CI does")
	require.Len(t, init.Command, 3, "sh -c '<script>'")
	dir := filepath.Join(t.TempDir(), "queue")
	require.NoError(t, os.Mkdir(dir, 0o755), "the kubelet creates the hostPath directory: root's, 0755")
	script := strings.ReplaceAll(init.Command[2], initDir, dir)
	require.NotEqual(t, init.Command[2], script, "the script names the directory it mounts, %s", initDir)
	caps := "-all"
	for _, c := range init.SecurityContext.Capabilities.Add {
		caps += ",+" + strings.ToLower(string(c))
	}
	for _, pod := range []string{"a node's first pod", "the next pod on the node"} {
		out, err := exec.Command("setpriv", "--bounding-set="+caps, "--inh-caps="+caps, "--",
			init.Command[0], init.Command[1], script).CombinedOutput()
		require.NoError(t, err, "the init container of %s fails: %s", pod, out)
		info, err := os.Stat(dir)
		require.NoError(t, err)
		owner := info.Sys().(*syscall.Stat_t)
		require.Equal(t, []int64{uid, gid}, []int64{int64(owner.Uid), int64(owner.Gid)}, "after %s: the directory's owner", pod)
		require.Equal(t, os.FileMode(0o700), info.Mode().Perm(), "after %s: the directory's mode", pod)
	}
}

// imageUser is the Dockerfile's USER uid:gid.
func imageUser(t *testing.T) (uid, gid int64) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^USER (\d+):(\d+)$`).FindStringSubmatch(string(data))
	require.NotNil(t, m, "Dockerfile: USER uid:gid")
	_, err = fmt.Sscan(m[1], &uid)
	require.NoError(t, err)
	_, err = fmt.Sscan(m[2], &gid)
	require.NoError(t, err)
	return uid, gid
}

// mountAt is the name of the volume c mounts at dir.
func mountAt(t *testing.T, c corev1.Container, dir string) string {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if m.MountPath == dir {
			return m.Name
		}
	}
	t.Fatalf("container %s mounts nothing at the queue directory %s: %+v", c.Name, dir, c.VolumeMounts)
	return ""
}

// mountOf is where c mounts the volume name.
func mountOf(t *testing.T, c corev1.Container, name string) string {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if m.Name == name {
			return m.MountPath
		}
	}
	t.Fatalf("container %s does not mount %s", c.Name, name)
	return ""
}

func volume(t *testing.T, pod *corev1.Pod, name string) corev1.Volume {
	t.Helper()
	for _, v := range pod.Spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("the pod has no volume %s", name)
	return corev1.Volume{}
}
