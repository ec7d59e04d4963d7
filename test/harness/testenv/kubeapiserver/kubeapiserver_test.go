//go:build e2ek8s

package kubeapiserver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func TestMissingBinariesSayHowToBuild(t *testing.T) {
	_, err := Start(context.Background(), Options{BinDir: t.TempDir()})
	require.ErrorIs(t, err, ErrNotBuilt)
	require.Contains(t, err.Error(), "make k8s-binaries")
}

// TestControlPlane: the admin is beyond RBAC; a ServiceAccount's
// TokenRequest token is authenticated and held to RBAC (403, counted in
// the audit log, until a binding grants the verb); a pod marked running
// serves its loopback IP; Stop removes everything.
func TestControlPlane(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := StartForTest(t, Options{})
	admin, err := kubernetes.NewForConfig(s.AdminConfig())
	require.NoError(t, err)

	v, err := admin.Discovery().ServerVersion()
	require.NoError(t, err)
	require.Equal(t, KubernetesVersion, v.GitVersion)

	require.NoError(t, EnsureNamespace(ctx, admin, "apps"))
	require.NoError(t, EnsureNamespace(ctx, admin, "apps"), "idempotent")
	_, err = admin.CoreV1().ServiceAccounts("apps").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{})
	require.NoError(t, err)

	path, err := s.ServiceAccountKubeconfig(ctx, "apps", "reader", t.TempDir())
	require.NoError(t, err)
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	require.NoError(t, err)
	reader, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)

	_, err = reader.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	require.True(t, apierrors.IsForbidden(err), "no binding yet: %v", err)
	user := ServiceAccountUser("apps", "reader")
	require.Contains(t, err.Error(), user, "authenticated as the ServiceAccount")
	require.Equal(t, 1, countCodes(t, s, user, 403))

	_, err = admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "pod-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "apps", Name: "reader"}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	pod, err := admin.CoreV1().Pods("apps").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "web", Image: "example.com/web:1"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Equal(t, "default", pod.Spec.ServiceAccountName, "the default ServiceAccount EnsureNamespace made admitted the pod")
	running, err := MarkPodRunning(ctx, admin, pod, "127.0.0.5")
	require.NoError(t, err)
	require.Equal(t, corev1.PodRunning, running.Status.Phase)

	// RBAC bindings reach the authorizer through an informer: poll.
	deadline := time.Now().Add(10 * time.Second)
	for {
		pods, err := reader.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err == nil {
			require.Len(t, pods.Items, 1)
			require.Equal(t, "127.0.0.5", pods.Items[0].Status.PodIP)
			break
		}
		require.True(t, apierrors.IsForbidden(err), "%v", err)
		require.True(t, time.Now().Before(deadline), "the binding did not take effect: %v", err)
		time.Sleep(50 * time.Millisecond)
	}
	require.GreaterOrEqual(t, countCodes(t, s, user, 200), 1)

	dir := s.dir
	require.NoError(t, s.Stop())
	require.NoError(t, s.Stop(), "idempotent")
	_, err = os.Stat(dir)
	require.True(t, os.IsNotExist(err), "temporary directory removed")
	_, err = os.Stat(filepath.Join(dir, "etcd"))
	require.True(t, os.IsNotExist(err))
}

func countCodes(t *testing.T, s *Server, user string, code int) int {
	t.Helper()
	events, err := s.AuditEvents()
	require.NoError(t, err)
	n := 0
	for _, e := range events {
		if e.User.Username == user && e.Code() == code && strings.HasPrefix(e.RequestURI, "/api/v1/pods") {
			n++
		}
	}
	return n
}
