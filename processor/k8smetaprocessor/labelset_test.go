package k8smetaprocessor

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestKeyIndex(t *testing.T) {
	var x keyIndex
	if got := x.slot("zone"); got != -1 {
		t.Fatalf("empty index: slot(zone) = %d, want -1", got)
	}
	// Enough names to grow the table twice, with pairs that share length,
	// first, middle and last byte (only a full comparison tells them apart).
	var names []string
	for i := range 70 {
		names = append(names, fmt.Sprintf("label_%02d_x", i))
	}
	names = append(names, "capacity_type", "instance_type", "zone", "node", "")
	for i, k := range names {
		got := x.add(k)
		want := i
		if k == "" {
			want = -1
		}
		if got != want {
			t.Fatalf("add(%q) = %d, want %d", k, got, want)
		}
	}
	for i, k := range names[:len(names)-1] {
		if got := x.slot(k); got != i {
			t.Fatalf("slot(%q) = %d, want %d", k, got, i)
		}
		if got := x.add(k); got != i {
			t.Fatalf("add(%q) again = %d, want its slot %d", k, got, i)
		}
	}
	for _, k := range []string{"", "label_70_x", "label_0x_x", "nodz", "capacity_typf", "namespace", "pod"} {
		if got := x.slot(k); got != -1 {
			t.Fatalf("slot(%q) = %d, want -1 (not indexed)", k, got)
		}
	}
}

// TestEnrichmentFollowsCache checks that what is written follows every
// change of what it is built from, between batches of one processor: the
// pod, its node and its namespace.
func TestEnrichmentFollowsCache(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Extract.NodeTopology = true
	cfg.Extract.PodLabels = []LabelConfig{{Key: "app"}}
	cfg.Extract.NamespaceLabels = []LabelConfig{{Key: "team"}}
	pod := deploymentPod("shop", "orders", "uid-1", "10.0.0.1")
	p := newTestProcessor(t, cfg, pod)
	c := p.cache.Load()
	c.upsertNamespace(&metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"team": "a"}})

	// f applies change to the cache, enriches a fresh point of the pod and
	// compares the labels named in want ("" means absent).
	f := func(change func(), want map[string]string) {
		t.Helper()
		change()
		md := pmetric.NewMetrics()
		attrs := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().
			SetEmptyGauge().DataPoints().AppendEmpty().Attributes()
		attrs.PutStr("namespace", "shop")
		attrs.PutStr("pod", pod.Name)
		p.enrich(md)
		for k, v := range want {
			got, ok := attrs.Get(k)
			if v == "" {
				if ok {
					t.Fatalf("%s should be absent, is %q", k, got.AsString())
				}
				continue
			}
			require.True(t, ok, "%s missing", k)
			require.Equal(t, v, got.Str(), k)
		}
	}
	f(func() {}, map[string]string{"zone": "eu-west-1a", "app": "orders", "team": "a", "deployment": "orders"})
	f(func() {
		c.upsertNode(&metav1.ObjectMeta{Name: "node-a", Labels: map[string]string{labelZone: "eu-west-1b"}})
	}, map[string]string{"zone": "eu-west-1b", "region": ""})
	f(func() {
		c.upsertNamespace(&metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"team": "b"}})
	}, map[string]string{"team": "b", "zone": "eu-west-1b"})
	relabelled := pod.DeepCopy()
	relabelled.Labels["app"] = "orders-v2"
	f(func() { c.upsertPod(relabelled) }, map[string]string{"app": "orders-v2", "team": "b"})

	f(func() { c.deleteNode("node-a") }, map[string]string{"zone": "", "app": "orders-v2"})
	f(func() { c.deleteNamespace("shop") }, map[string]string{"team": "", "app": "orders-v2"})
}
