package ordersdemo

import (
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"
	"unicode/utf8"
)

// Item is one line of an order.
type Item struct {
	ProductID string `json:"productId"`
	Quantity  int64  `json:"quantity"`
}

// State is a consistent snapshot of everything the service exposes.
type State struct {
	// Orders is the number of orders placed: watch_orders_total{productId="*"}.
	Orders int64 `json:"orders"`
	// OrderTotal is the sum of all order totals: watch_orderTotal.
	OrderTotal float64 `json:"orderTotal"`
	// Products maps a product ID to the quantity ordered so far:
	// watch_orders_total{productId=<id>}. A product appears once it has been
	// ordered, as Micrometer registers a tagged counter on first use.
	Products map[string]int64 `json:"products"`
	// LatencyMillis counts the orders by how long placing them took, in
	// whole milliseconds: what watch_order_placement_seconds observed.
	LatencyMillis map[int64]int64 `json:"latencyMillis"`
}

// Store keeps the orders placed so far. It is safe for concurrent use.
type Store struct {
	prices map[string]int64

	mu    sync.Mutex
	state State
}

// NewStore returns an empty store selling the given catalogue. It fails on
// an empty catalogue, a product whose ID is empty, "*" or not UTF-8, a duplicate ID or a negative
// price.
func NewStore(catalogue []Product) (*Store, error) {
	if len(catalogue) == 0 {
		return nil, errors.New("cannot create store: empty catalogue")
	}
	prices := make(map[string]int64, len(catalogue))
	for _, p := range catalogue {
		if p.ID == "" || p.ID == AllProducts || !utf8.ValidString(p.ID) {
			return nil, fmt.Errorf("cannot create store: product %q has invalid ID %q", p.Name, p.ID)
		}
		if p.Price < 0 {
			return nil, fmt.Errorf("cannot create store: product %q has negative price %d", p.ID, p.Price)
		}
		if _, dup := prices[p.ID]; dup {
			return nil, fmt.Errorf("cannot create store: duplicate product ID %q", p.ID)
		}
		prices[p.ID] = p.Price
	}
	return &Store{prices: prices, state: State{Products: map[string]int64{}, LatencyMillis: map[int64]int64{}}}, nil
}

// Place records one order, which took latency to place, atomically: either
// every item and the latency are counted or, on an unknown product, a
// non-positive quantity, an empty order or a latency that is not a positive
// whole number of milliseconds, nothing is. It returns the order's total.
func (s *Store) Place(items []Item, latency time.Duration) (float64, error) {
	if len(items) == 0 {
		return 0, errors.New("cannot place order: no items")
	}
	if latency <= 0 || latency%time.Millisecond != 0 {
		return 0, fmt.Errorf("cannot place order: latency %s is not a positive whole number of milliseconds", latency)
	}
	var total int64
	for _, it := range items {
		price, ok := s.prices[it.ProductID]
		if !ok {
			return 0, fmt.Errorf("cannot place order: unknown product %q", it.ProductID)
		}
		if it.Quantity <= 0 {
			return 0, fmt.Errorf("cannot place order: quantity %d of product %q is not positive", it.Quantity, it.ProductID)
		}
		total += price * it.Quantity
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.Orders++
	s.state.OrderTotal += float64(total)
	for _, it := range items {
		s.state.Products[it.ProductID] += it.Quantity
	}
	s.state.LatencyMillis[latency.Milliseconds()]++
	return float64(total), nil
}

// Snapshot returns a copy of the current state, taken under the lock.
func (s *Store) Snapshot() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state
	st.Products = maps.Clone(s.state.Products)
	st.LatencyMillis = maps.Clone(s.state.LatencyMillis)
	return st
}
