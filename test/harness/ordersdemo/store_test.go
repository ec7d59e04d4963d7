package ordersdemo

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewStoreRejectsBadCatalogue(t *testing.T) {
	f := func(name string, catalogue []Product) {
		t.Helper()
		_, err := NewStore(catalogue)
		require.Error(t, err, name)
	}
	f("empty", nil)
	f("no id", []Product{{Name: "x", Price: 1}})
	f("star id", []Product{{ID: "*", Price: 1}})
	f("invalid utf-8", []Product{{ID: "a\xff", Price: 1}})
	f("negative price", []Product{{ID: "a", Price: -1}})
	f("duplicate", []Product{{ID: "a", Price: 1}, {ID: "a", Price: 2}})
}

func TestStorePlace(t *testing.T) {
	cat := DefaultCatalogue()
	s, err := NewStore(cat)
	require.NoError(t, err)

	total, err := s.Place([]Item{{ProductID: cat[0].ID, Quantity: 2}, {ProductID: cat[1].ID, Quantity: 1}}, 40*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, float64(2*cat[0].Price+cat[1].Price), total)
	_, err = s.Place([]Item{{ProductID: cat[0].ID, Quantity: 1}}, time.Second)
	require.NoError(t, err)

	want := State{
		Orders:        2,
		OrderTotal:    float64(3*cat[0].Price + cat[1].Price),
		Products:      map[string]int64{cat[0].ID: 3, cat[1].ID: 1},
		LatencyMillis: map[int64]int64{40: 1, 1000: 1},
	}
	require.Equal(t, want, s.Snapshot())

	// A rejected order changes nothing, even when some items were valid.
	f := func(name string, items []Item, latency time.Duration) {
		t.Helper()
		_, err := s.Place(items, latency)
		require.Error(t, err, name)
		require.Equal(t, want, s.Snapshot(), name)
	}
	one := []Item{{ProductID: cat[0].ID, Quantity: 1}}
	f("empty", nil, time.Millisecond)
	f("unknown product", []Item{{ProductID: cat[0].ID, Quantity: 1}, {ProductID: "nope", Quantity: 1}}, time.Millisecond)
	f("zero quantity", []Item{{ProductID: cat[0].ID, Quantity: 1}, {ProductID: cat[1].ID, Quantity: 0}}, time.Millisecond)
	f("negative quantity", []Item{{ProductID: cat[1].ID, Quantity: -4}}, time.Millisecond)
	f("zero latency", one, 0)
	f("negative latency", one, -time.Millisecond)
	f("latency below a millisecond", one, 1500*time.Microsecond)
}

func TestSnapshotIsACopy(t *testing.T) {
	cat := DefaultCatalogue()
	s, err := NewStore(cat)
	require.NoError(t, err)
	_, err = s.Place([]Item{{ProductID: cat[0].ID, Quantity: 1}}, 7*time.Millisecond)
	require.NoError(t, err)
	snap := s.Snapshot()
	snap.Products[cat[0].ID] = 100
	snap.LatencyMillis[7] = 100
	require.Equal(t, int64(1), s.Snapshot().Products[cat[0].ID])
	require.Equal(t, int64(1), s.Snapshot().LatencyMillis[7])
}
