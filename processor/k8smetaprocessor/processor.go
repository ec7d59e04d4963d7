package k8smetaprocessor

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/kubemeta"
	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/metadata"
)

// k8smetaProcessor enriches metrics from a kubemeta.Store.
type k8smetaProcessor struct {
	cfg      *Config
	logger   *zap.Logger
	tel      *metadata.TelemetryBuilder
	registry *cacheRegistry

	order       []int // association sources in configured order
	pointPos    int   // position of datapoint_labels in order, len(order) if absent
	nsLabel     string
	podLabel    string
	assocOpts   [numSources][2]metric.AddOption
	needsLookup bool
	// The names written on data points and on resources.
	pointNames, resourceNames *names

	mu       sync.Mutex
	store    kubemeta.Store // nil until start, and with auth_type none
	shared   *sharedCache   // the running cache behind store
	shutdown bool
}

func newK8smetaProcessor(cfg *Config, set component.TelemetrySettings, registry *cacheRegistry) (*k8smetaProcessor, error) {
	tel, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, err
	}
	p := &k8smetaProcessor{
		cfg:           cfg,
		logger:        set.Logger,
		tel:           tel,
		registry:      registry,
		needsLookup:   cfg.AuthType != AuthTypeNone && cfg.extractsFromAPI(),
		pointNames:    newNames(cfg, true),
		resourceNames: newNames(cfg, false),
	}
	p.pointPos = len(cfg.Associations)
	for i, a := range cfg.Associations {
		src := sourceIndex(a.Source)
		p.order = append(p.order, src)
		if src == srcDatapoint {
			p.pointPos = i
			p.nsLabel, p.podLabel = a.NamespaceLabel, a.PodLabel
		}
	}
	for s := range numSources {
		for r, result := range []string{"miss", "hit"} {
			p.assocOpts[s][r] = metric.WithAttributeSet(attribute.NewSet(
				attribute.String("source", sourceNames[s]), attribute.String("result", result)))
		}
	}
	if err := tel.RegisterK8smetaCacheEntriesCallback(p.observeCacheEntries); err != nil {
		return nil, err
	}
	if err := tel.RegisterK8smetaCacheSyncedCallback(p.observeSynced); err != nil {
		return nil, err
	}
	return p, nil
}

// start acquires the shared cache and waits up to wait_for_sync for its
// first lists; after that the pipeline runs and data is enriched as the
// cache fills. Only a client configuration error fails start.
func (p *k8smetaProcessor) start(ctx context.Context, _ component.Host) error {
	if !p.needsLookup {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shared != nil || p.shutdown {
		return nil
	}
	shared, err := p.registry.acquire(p.cfg, p.logger, p.tel.K8smetaAPIErrors)
	if err != nil {
		return err
	}
	p.shared, p.store = shared, shared.cache
	if p.cfg.WaitForSync <= 0 {
		return nil
	}
	t := time.NewTimer(p.cfg.WaitForSync)
	defer t.Stop()
	select {
	case <-shared.cache.Synced():
	case <-t.C:
		p.logger.Warn("kubernetes metadata cache not synced within wait_for_sync; metrics pass through unenriched until it fills",
			zap.Duration("wait_for_sync", p.cfg.WaitForSync))
	case <-ctx.Done():
	}
	return nil
}

// shutdownFunc releases the shared cache; it is safe before start and
// twice.
func (p *k8smetaProcessor) shutdownFunc(context.Context) error {
	p.mu.Lock()
	shared := p.shared
	p.shared = nil
	p.shutdown = true
	p.mu.Unlock()
	if shared != nil {
		p.registry.release(shared)
	}
	p.tel.Shutdown()
	return nil
}

// currentStore returns the store to read (nil: no lookups). After shutdown
// it is still the stopped cache, whose indexes keep what they held.
func (p *k8smetaProcessor) currentStore() kubemeta.Store {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.store
}

func (p *k8smetaProcessor) runningCache() *kubemeta.Cache {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shared == nil {
		return nil
	}
	return p.shared.cache
}

func (p *k8smetaProcessor) observeCacheEntries(_ context.Context, o metric.Int64Observer) error {
	if c := p.runningCache(); c != nil {
		for kind, n := range c.Entries() {
			o.Observe(int64(n), metric.WithAttributes(attribute.String("kind", kind)))
		}
	}
	return nil
}

func (p *k8smetaProcessor) observeSynced(_ context.Context, o metric.Int64Observer) error {
	c := p.runningCache()
	if c == nil {
		return nil
	}
	var v int64
	select {
	case <-c.Synced():
		v = 1
	default:
	}
	o.Observe(v)
	return nil
}

// processMetrics enriches md in place. It never fails and never drops
// data: whatever cannot be associated passes through unchanged.
func (p *k8smetaProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	counts := p.enrich(md)
	for s := range numSources {
		for r := range 2 {
			if n := counts[s][r]; n > 0 {
				p.tel.K8smetaAssociations.Add(ctx, n, p.assocOpts[s][r])
			}
		}
	}
	return md, nil
}

var errBadConfig = errors.New("configuration is not a *k8smetaprocessor.Config")
