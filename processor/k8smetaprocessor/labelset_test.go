package k8smetaprocessor

import (
	"fmt"
	"testing"
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
