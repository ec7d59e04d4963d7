package k8smetaprocessor

import (
	"fmt"
	"sync"

	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
)

// cacheRegistry shares one running cache between processor instances with
// identical cache settings (contrib #36234: identical instances each kept
// their own caches). Entries are reference counted; the last release stops
// the cache.
type cacheRegistry struct {
	newClients clientsProvider

	mu      sync.Mutex
	entries map[string]*sharedCache
}

type sharedCache struct {
	key    string
	refs   int
	runner *cacheRunner
}

func newCacheRegistry(newClients clientsProvider) *cacheRegistry {
	return &cacheRegistry{newClients: newClients, entries: map[string]*sharedCache{}}
}

// cacheKey identifies the settings that shape a cache.
func cacheKey(cfg *Config) string {
	return fmt.Sprintf("%s|%s|%s|%d|%#v", cfg.AuthType, cfg.NodeFilter, cfg.DeletedPodGracePeriod, cfg.ReplicaSetCacheSize, cfg.Extract)
}

func settingsOf(cfg *Config) cacheSettings {
	return cacheSettings{
		extract:     cfg.Extract,
		nodeFilter:  cfg.NodeFilter,
		gracePeriod: cfg.DeletedPodGracePeriod,
		needNodes:   cfg.needsNodes(),
		needNSs:     cfg.needsNamespaces(),
	}
}

// acquire returns the running cache for cfg, starting it on first use.
// API errors of a shared cache are counted by apiErrors of the instance
// that started it.
func (r *cacheRegistry) acquire(cfg *Config, logger *zap.Logger, apiErrors metric.Int64Counter) (*sharedCache, error) {
	key := cacheKey(cfg)
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.entries[key]; ok {
		e.refs++
		return e, nil
	}
	clients, err := r.newClients(cfg.AuthType)
	if err != nil {
		return nil, err
	}
	runner, err := startCache(settingsOf(cfg), clients, cfg.ReplicaSetCacheSize, newAPIErrorReporter(logger, apiErrors))
	if err != nil {
		return nil, err
	}
	e := &sharedCache{key: key, refs: 1, runner: runner}
	r.entries[key] = e
	return e, nil
}

// release drops one reference and stops the cache with the last one.
func (r *cacheRegistry) release(e *sharedCache) {
	r.mu.Lock()
	e.refs--
	last := e.refs == 0
	if last {
		delete(r.entries, e.key)
	}
	r.mu.Unlock()
	if last {
		e.runner.stop()
	}
}
