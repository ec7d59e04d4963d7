package ordersdemo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a demo orders service.
type Config struct {
	// Listen is the TCP address to serve on; "127.0.0.1:0" picks a free port.
	Listen string
	// Catalogue is the products on sale; DefaultCatalogue() when nil.
	Catalogue []Product
	// Generator configures the built-in load generator.
	Generator GeneratorConfig
}

// Server is a running demo orders service.
type Server struct {
	store *Store
	gen   *Generator
	ln    net.Listener
	srv   *http.Server

	scrapes atomic.Int64

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Start listens on cfg.Listen and serves the demo until Close. The load
// generator runs until Close or until ctx is done.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	catalogue := cfg.Catalogue
	if catalogue == nil {
		catalogue = DefaultCatalogue()
	}
	store, err := NewStore(catalogue)
	if err != nil {
		return nil, err
	}
	gen, err := NewGenerator(store, catalogue, cfg.Generator)
	if err != nil {
		return nil, err
	}
	h, err := NewHandler(store, gen)
	if err != nil {
		return nil, fmt.Errorf("cannot create metrics handler: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %q: %w", cfg.Listen, err)
	}
	genCtx, cancel := context.WithCancel(ctx)
	s := &Server{
		store:  store,
		gen:    gen,
		ln:     ln,
		srv:    &http.Server{ReadHeaderTimeout: 10 * time.Second},
		cancel: cancel,
	}
	s.srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == MetricsPath {
			s.scrapes.Add(1)
		}
		h.ServeHTTP(w, r)
	})
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		gen.Run(genCtx)
	}()
	go func() {
		defer s.wg.Done()
		// Serve returns ErrServerClosed after Shutdown; any other error
		// means the listener broke, which Close reports through Shutdown.
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Addr returns the host:port the service listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL returns the service's base URL, without a trailing slash.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Scrapes returns the number of requests for MetricsPath received so far,
// counted when the request arrives.
func (s *Server) Scrapes() int64 { return s.scrapes.Load() }

// Store returns the service's store.
func (s *Server) Store() *Store { return s.store }

// Generator returns the service's load generator.
func (s *Server) Generator() *Generator { return s.gen }

// Close stops the generator and the HTTP server, waiting up to five seconds
// for requests in flight. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.closeErr = fmt.Errorf("cannot shut down orders demo: %w", err)
			_ = s.srv.Close()
		}
		s.wg.Wait()
	})
	return s.closeErr
}
