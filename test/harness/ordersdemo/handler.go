package ordersdemo

import (
	"encoding/json"
	"net/http"
)

// MetricsPath is where the service exposes its metrics, as the workshop's
// orders service does (annotation prometheus.io/path).
const MetricsPath = "/actuator/prometheus"

// StateResponse is the JSON body of /state, /pause and /resume.
type StateResponse struct {
	State
	// Paused reports whether the load generator is paused; while it is,
	// State does not change.
	Paused bool `json:"paused"`
	// OrdersPerSecond is the generator's configured rate.
	OrdersPerSecond float64 `json:"ordersPerSecond"`
}

// NewHandler serves the demo's HTTP API:
//
//	GET  /actuator/prometheus        metrics (see the package doc)
//	GET  /actuator/health/liveness   {"status":"UP"}
//	GET  /state                      StateResponse
//	POST /pause, POST /resume        pause or resume the generator; StateResponse
//
// A /pause answer holds the final state: no order is placed after it until
// /resume.
func NewHandler(store *Store, gen *Generator) (http.Handler, error) {
	metrics, err := newMetricsHandler(store)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+MetricsPath, metrics)
	mux.HandleFunc("GET /actuator/health/liveness", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]string{"status": "UP"})
	})
	state := func(w http.ResponseWriter) {
		st, paused := gen.Snapshot()
		writeJSON(w, StateResponse{State: st, Paused: paused, OrdersPerSecond: gen.OrdersPerSecond()})
	}
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, _ *http.Request) { state(w) })
	mux.HandleFunc("POST /pause", func(w http.ResponseWriter, _ *http.Request) {
		gen.Pause()
		state(w)
	})
	mux.HandleFunc("POST /resume", func(w http.ResponseWriter, _ *http.Request) {
		gen.Resume()
		state(w)
	})
	return mux, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	// An encoding error here means the client went away; nothing to do.
	_ = json.NewEncoder(w).Encode(v)
}
