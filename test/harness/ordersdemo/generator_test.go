package ordersdemo

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func newTestGenerator(t *testing.T, cfg GeneratorConfig) *Generator {
	t.Helper()
	cat := DefaultCatalogue()
	s, err := NewStore(cat)
	require.NoError(t, err)
	g, err := NewGenerator(s, cat, cfg)
	require.NoError(t, err)
	return g
}

// replay returns the state after the first n orders of a generator seeded
// with seed: what any generator with that seed must have after n orders.
func replay(t *testing.T, seed uint64, n int64) State {
	t.Helper()
	g := newTestGenerator(t, GeneratorConfig{Seed: seed})
	for range n {
		_, err := g.store.Place(g.nextOrder(), g.nextLatency())
		require.NoError(t, err)
	}
	return g.store.Snapshot()
}

func TestNewGeneratorRejectsBadRate(t *testing.T) {
	cat := DefaultCatalogue()
	s, err := NewStore(cat)
	require.NoError(t, err)
	for _, rate := range []float64{-1, math.NaN(), math.Inf(1)} {
		_, err := NewGenerator(s, cat, GeneratorConfig{OrdersPerSecond: rate})
		require.Error(t, err, "rate %v", rate)
	}
}

func TestGeneratorKeepsRateAgainstClock(t *testing.T) {
	g := newTestGenerator(t, GeneratorConfig{OrdersPerSecond: 4, Seed: 7})
	t0 := time.Unix(1_000_000, 0)
	g.since = t0
	g.tick(t0.Add(250 * time.Millisecond))
	require.Equal(t, int64(1), g.store.Snapshot().Orders)
	g.tick(t0.Add(900 * time.Millisecond)) // 3.6 orders due: 3 in all
	require.Equal(t, int64(3), g.store.Snapshot().Orders)
	g.tick(t0.Add(1250 * time.Millisecond))
	require.Equal(t, int64(5), g.store.Snapshot().Orders)
	require.Equal(t, replay(t, 7, 5), g.store.Snapshot())
}

func TestGeneratorDoesNotBurstAfterStall(t *testing.T) {
	g := newTestGenerator(t, GeneratorConfig{OrdersPerSecond: 3, Seed: 1})
	t0 := time.Unix(1_000_000, 0)
	g.since = t0
	g.tick(t0.Add(time.Hour))
	require.Equal(t, int64(3), g.store.Snapshot().Orders)
	// The pace restarts from the stall: one second later, three more.
	g.tick(t0.Add(time.Hour + time.Second))
	require.Equal(t, int64(6), g.store.Snapshot().Orders)
}

func TestGeneratorPauseResume(t *testing.T) {
	g := newTestGenerator(t, GeneratorConfig{OrdersPerSecond: 10, Seed: 3, Paused: true})
	t0 := time.Unix(1_000_000, 0)
	g.since = t0
	g.tick(t0.Add(time.Second))
	st, paused := g.Snapshot()
	require.True(t, paused)
	require.Zero(t, st.Orders)

	g.Resume()
	require.False(t, g.Paused())
	g.tick(g.since.Add(time.Second))
	require.Equal(t, int64(10), g.store.Snapshot().Orders)

	g.Pause()
	g.tick(g.since.Add(10 * time.Second))
	st, paused = g.Snapshot()
	require.True(t, paused)
	require.Equal(t, replay(t, 3, 10), st)
}

func TestGeneratorIsDeterministic(t *testing.T) {
	a, b := replay(t, 42, 50), replay(t, 42, 50)
	require.Equal(t, a, b)
	require.NotEqual(t, a, replay(t, 43, 50), "a different seed should give different orders")
	// Every product of the catalogue gets ordered over 50 orders.
	require.Len(t, a.Products, len(DefaultCatalogue()))
	var qty int64
	for _, q := range a.Products {
		qty += q
	}
	require.GreaterOrEqual(t, qty, a.Orders)
	require.LessOrEqual(t, qty, 9*a.Orders, "at most 3 products of quantity at most 3 per order")
}
