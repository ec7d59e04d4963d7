package k8smetaprocessor

import (
	"fmt"
	"sync"

	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/kubemeta"
)

// cacheRegistry shares one running cache between processor instances with
// equal cache settings (contrib #36234: identical instances each kept
// their own caches). Entries are reference counted; the last release stops
// the cache.
type cacheRegistry struct {
	newClients clientsProvider

	mu      sync.Mutex
	entries map[string]*sharedCache
}

type sharedCache struct {
	key   string
	refs  int
	cache *kubemeta.Cache
}

func newCacheRegistry(newClients clientsProvider) *cacheRegistry {
	return &cacheRegistry{newClients: newClients, entries: map[string]*sharedCache{}}
}

// cacheSettings returns what shapes the cache cfg needs.
func cacheSettings(cfg *Config) kubemeta.Settings {
	keys := func(labels []LabelConfig) []string {
		var out []string
		for _, l := range labels {
			out = append(out, l.Key)
		}
		return out
	}
	e := cfg.Extract
	return kubemeta.Settings{
		NodeFilter:            cfg.NodeFilter,
		DeletedPodGracePeriod: cfg.DeletedPodGracePeriod,
		Workload:              e.Workload,
		ReplicaSetCacheSize:   cfg.ReplicaSetCacheSize,
		PodStartTime:          e.PodStartTime,
		NodeTopology:          e.NodeTopology,
		PodLabels:             keys(e.PodLabels),
		NodeLabels:            keys(e.NodeLabels),
		NamespaceLabels:       keys(e.NamespaceLabels),
	}
}

// acquire returns the running cache for cfg, starting it on first use.
// API errors of a shared cache are counted by apiErrors of the instance
// that started it.
func (r *cacheRegistry) acquire(cfg *Config, logger *zap.Logger, apiErrors metric.Int64Counter) (*sharedCache, error) {
	settings := cacheSettings(cfg)
	key := fmt.Sprintf("%s|%#v", cfg.AuthType, settings)
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
	c, err := kubemeta.Start(settings, clients, logger, apiErrors)
	if err != nil {
		return nil, err
	}
	e := &sharedCache{key: key, refs: 1, cache: c}
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
		e.cache.Stop()
	}
}
