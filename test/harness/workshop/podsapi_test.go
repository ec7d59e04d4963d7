package workshop

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func testPod(namespace, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: "node-a"},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1"},
	}
}

// TestPodsAPIServesClientGoInformers: a client-go informer, as k8smeta
// runs one, lists the pods there before it starts and sees every later
// add, change and delete.
func TestPodsAPIServesClientGoInformers(t *testing.T) {
	api, err := StartPodsAPI()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, api.Close()) })
	api.Add(testPod("orders", "orders-a"))

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, api.WriteKubeconfig(kubeconfig))
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	require.NoError(t, err)
	client, err := kubernetes.NewForConfig(rc)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	factory := informers.NewSharedInformerFactory(client, 0)
	pods := factory.Core().V1().Pods()
	informer := pods.Informer()
	factory.Start(ctx.Done())
	t.Cleanup(factory.Shutdown)
	t.Cleanup(cancel)
	for typ, synced := range factory.WaitForCacheSync(ctx.Done()) {
		require.True(t, synced, "%v informer never synced", typ)
	}

	names := func() []string {
		var out []string
		for _, o := range informer.GetStore().List() {
			out = append(out, o.(*corev1.Pod).Namespace+"/"+o.(*corev1.Pod).Name)
		}
		slices.Sort(out)
		return out
	}
	waitNames := func(want ...string) {
		t.Helper()
		require.Eventually(t, func() bool { return slices.Equal(names(), want) }, 10*time.Second, 20*time.Millisecond,
			"informer holds %v, want %v", names(), want)
	}
	waitNames("orders/orders-a")

	api.Add(testPod("catalog", "catalog-b"))
	waitNames("catalog/catalog-b", "orders/orders-a")
	changed := testPod("orders", "orders-a")
	changed.Spec.NodeName = "node-b"
	api.Add(changed)
	require.Eventually(t, func() bool {
		p, err := pods.Lister().Pods("orders").Get("orders-a")
		return err == nil && p.Spec.NodeName == "node-b"
	}, 10*time.Second, 20*time.Millisecond)
	require.True(t, api.Delete("orders", "orders-a"))
	require.False(t, api.Delete("orders", "orders-a"))
	waitNames("catalog/catalog-b")

	resp, err := http.Get(api.URL() + "/api/v1/nodes")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestPodsAPIListThenWatch: the plain list-then-watch protocol, as the
// reflector falls back to: a watch from the list's resource version gets
// exactly the changes after it.
func TestPodsAPIListThenWatch(t *testing.T) {
	api, err := StartPodsAPI()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, api.Close()) })
	api.Add(testPod("orders", "orders-a"))
	rc, err := clientcmd.BuildConfigFromFlags(api.URL(), "")
	require.NoError(t, err)
	client, err := kubernetes.NewForConfig(rc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	list, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, list.Items, 1)
	require.Equal(t, "orders-a", list.Items[0].Name)
	api.Add(testPod("orders", "orders-b"))
	w, err := client.CoreV1().Pods("").Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	require.NoError(t, err)
	defer w.Stop()
	require.True(t, api.Delete("orders", "orders-a"))
	for _, want := range []struct {
		typ  watch.EventType
		name string
	}{{watch.Added, "orders-b"}, {watch.Deleted, "orders-a"}} {
		select {
		case e := <-w.ResultChan():
			require.Equal(t, want.typ, e.Type)
			require.Equal(t, want.name, e.Object.(*corev1.Pod).Name)
		case <-ctx.Done():
			t.Fatalf("no %s event for %s", want.typ, want.name)
		}
	}
}
