package ordersdemo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// GeneratorConfig configures the load generator.
type GeneratorConfig struct {
	// OrdersPerSecond is the steady rate of orders; 0 places none.
	OrdersPerSecond float64
	// Seed makes the sequence of orders reproducible: two generators with
	// the same seed and catalogue place the same orders in the same order.
	Seed uint64
	// Paused starts the generator paused.
	Paused bool
}

// Generator places orders in a Store at a steady rate. Pause and Resume may
// be called from any goroutine.
type Generator struct {
	store     *Store
	catalogue []Product
	rate      float64

	mu      sync.Mutex
	rnd     *rand.Rand // the orders' items
	latency *rand.Rand // the orders' placement latencies, a stream of its own
	paused  bool
	since   time.Time // start of the current running period
	placed  int64     // orders placed since `since`
}

// NewGenerator returns a generator placing orders for products of catalogue
// into store. Run starts it.
func NewGenerator(store *Store, catalogue []Product, cfg GeneratorConfig) (*Generator, error) {
	if store == nil {
		return nil, errors.New("cannot create generator: nil store")
	}
	if len(catalogue) == 0 {
		return nil, errors.New("cannot create generator: empty catalogue")
	}
	if cfg.OrdersPerSecond < 0 || math.IsNaN(cfg.OrdersPerSecond) || math.IsInf(cfg.OrdersPerSecond, 0) {
		return nil, fmt.Errorf("cannot create generator: invalid orders per second %v", cfg.OrdersPerSecond)
	}
	return &Generator{
		store:     store,
		catalogue: append([]Product(nil), catalogue...),
		rate:      cfg.OrdersPerSecond,
		rnd:       rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		latency:   rand.New(rand.NewPCG(cfg.Seed^0xbf58476d1ce4e5b9, cfg.Seed^0x94d049bb133111eb)),
		paused:    cfg.Paused,
	}, nil
}

// OrdersPerSecond returns the configured rate.
func (g *Generator) OrdersPerSecond() float64 { return g.rate }

// Run places orders until ctx is done. The pace is kept against the wall
// clock, not by counting ticks, so a slow tick does not lower the rate; after
// a stall of more than a second the generator does not catch up in a burst.
func (g *Generator) Run(ctx context.Context) {
	if g.rate == 0 {
		<-ctx.Done()
		return
	}
	period := time.Duration(float64(time.Second) / g.rate)
	period = min(max(period, 10*time.Millisecond), time.Second)
	g.mu.Lock()
	g.since, g.placed = time.Now(), 0
	g.mu.Unlock()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			g.tick(now)
		}
	}
}

// tick places the orders due at now.
func (g *Generator) tick(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused || g.rate == 0 {
		return
	}
	due := int64(now.Sub(g.since).Seconds()*g.rate) - g.placed
	maxBurst := int64(math.Ceil(g.rate))
	if due > maxBurst {
		// Stalled (suspended process, overloaded machine): start a new
		// period rather than flood the store.
		due = maxBurst
		g.since, g.placed = now, -due
	}
	for range due {
		if _, err := g.store.Place(g.nextOrder(), g.nextLatency()); err != nil {
			// Cannot happen with a catalogue the store accepted; the
			// generator never stops the service over it.
			continue
		}
		g.placed++
	}
}

// nextOrder draws an order of 1 to 3 distinct products, 1 to 3 of each.
func (g *Generator) nextOrder() []Item {
	n := 1 + g.rnd.IntN(min(3, len(g.catalogue)))
	perm := g.rnd.Perm(len(g.catalogue))
	items := make([]Item, n)
	for i := range n {
		items[i] = Item{ProductID: g.catalogue[perm[i]].ID, Quantity: 1 + g.rnd.Int64N(3)}
	}
	return items
}

// Placement latencies are log-normal, as service latencies roughly are:
// half the orders take under latencyMedian, 90 % under about 2.8 times
// that (latencySigma), none more than maxLatency.
const (
	latencyMedian = 40 * time.Millisecond
	latencySigma  = 0.8
	maxLatency    = 10 * time.Second
)

// nextLatency draws how long placing the next order takes, in whole
// milliseconds (at least one).
func (g *Generator) nextLatency() time.Duration {
	ms := math.Round(float64(latencyMedian.Milliseconds()) * math.Exp(latencySigma*g.latency.NormFloat64()))
	return time.Duration(min(max(ms, 1), float64(maxLatency.Milliseconds()))) * time.Millisecond
}

// Pause stops placing orders. When Pause returns no order is being placed
// and none will be until Resume, so the store's state is final.
func (g *Generator) Pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.paused = true
}

// Resume starts placing orders again at the configured rate, counting from
// now (the paused time is not made up).
func (g *Generator) Resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused {
		g.paused = false
		g.since, g.placed = time.Now(), 0
	}
}

// Paused reports whether the generator is paused.
func (g *Generator) Paused() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paused
}

// Snapshot returns the store's state together with whether the generator is
// paused, both read at one instant: when paused is true, the state is the
// final one of the pause.
func (g *Generator) Snapshot() (st State, paused bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.store.Snapshot(), g.paused
}
