package k8smetaprocessor

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/metadata"
)

// k8smetaProcessor enriches metrics from a shared metaCache.
type k8smetaProcessor struct {
	cfg      *Config
	logger   *zap.Logger
	tel      *metadata.TelemetryBuilder
	registry *cacheRegistry

	order       []int // association sources in configured order
	pointPos    int   // position of datapoint_labels in order, len(order) if absent
	nsLabel     string
	podLabel    string
	podLabels   []keyPair
	nodeLabels  []keyPair
	nsLabels    []keyPair
	assocOpts   [numSources][2]metric.AddOption
	needsLookup bool

	// Names written on data points and on resources, resolved once;
	// states holds reusable *batchState.
	pointNames    *keyNames
	resourceNames *keyNames
	states        sync.Pool

	cache    atomic.Pointer[metaCache]
	mu       sync.Mutex
	shared   *sharedCache
	shutdown bool
}

func newK8smetaProcessor(cfg *Config, set component.TelemetrySettings, registry *cacheRegistry) (*k8smetaProcessor, error) {
	tel, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, err
	}
	p := &k8smetaProcessor{
		cfg:         cfg,
		logger:      set.Logger,
		tel:         tel,
		registry:    registry,
		podLabels:   labelKeys(podLabelPrefix, cfg.Extract.PodLabels),
		nodeLabels:  labelKeys(nodeLabelPrefix, cfg.Extract.NodeLabels),
		nsLabels:    labelKeys(namespaceLabelPref, cfg.Extract.NamespaceLabels),
		needsLookup: cfg.AuthType != AuthTypeNone && cfg.extractsFromAPI(),
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
	p.pointNames, p.resourceNames = newKeyNames(p, true), newKeyNames(p, false)
	p.states.New = func() any { return newBatchState(p) }
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
	p.shared = shared
	c := shared.runner.cache
	p.cache.Store(c)
	if p.cfg.WaitForSync <= 0 {
		return nil
	}
	t := time.NewTimer(p.cfg.WaitForSync)
	defer t.Stop()
	select {
	case <-c.syncedCh:
	case <-t.C:
		p.logger.Warn("kubernetes metadata cache not synced within wait_for_sync; metrics pass through unenriched until it fills",
			zap.Duration("wait_for_sync", p.cfg.WaitForSync))
	case <-ctx.Done():
	}
	return nil
}

// shutdown releases the shared cache; it is safe before start and twice.
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

func (p *k8smetaProcessor) observeCacheEntries(_ context.Context, o metric.Int64Observer) error {
	c := p.cache.Load()
	if c == nil {
		return nil
	}
	pods, nodes, nss := c.sizes()
	o.Observe(int64(pods), metric.WithAttributes(attribute.String("kind", "pod")))
	if c.settings.needNodes {
		o.Observe(int64(nodes), metric.WithAttributes(attribute.String("kind", "node")))
	}
	if c.settings.needNSs {
		o.Observe(int64(nss), metric.WithAttributes(attribute.String("kind", "namespace")))
	}
	p.mu.Lock()
	shared := p.shared
	p.mu.Unlock()
	if shared != nil && shared.runner.rs != nil {
		o.Observe(int64(shared.runner.rs.len()), metric.WithAttributes(attribute.String("kind", "replicaset")))
	}
	return nil
}

func (p *k8smetaProcessor) observeSynced(_ context.Context, o metric.Int64Observer) error {
	c := p.cache.Load()
	if c == nil {
		return nil
	}
	var v int64
	if c.synced() {
		v = 1
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

// enrich enriches md in place under the cache's read lock and returns the
// association attempts.
func (p *k8smetaProcessor) enrich(md pmetric.Metrics) assocCounts {
	var counts assocCounts
	s := p.states.Get().(*batchState)
	s.c = p.cache.Load()
	if s.c != nil {
		s.c.mu.RLock()
	}
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		p.enrichResource(s, rms.At(i), &counts)
	}
	if s.c != nil {
		s.c.mu.RUnlock()
	}
	s.reset()
	p.states.Put(s)
	return counts
}

func (p *k8smetaProcessor) enrichResource(s *batchState, rm pmetric.ResourceMetrics, counts *assocCounts) {
	c := s.c
	res := rm.Resource().Attributes()
	var (
		pod *podMeta
		pos = len(p.order)
	)
	if c != nil {
		pod, pos = p.associateResource(c, res, counts)
	}
	if p.cfg.ResourceAttributes {
		if set := s.resourceSet(pod); len(set) > 0 {
			s.scan(res, p.resourceNames.idx, false)
			s.apply(res, p.resourceNames.idx, set)
		}
	}
	if !p.cfg.DatapointLabels {
		return
	}
	perPoint := c != nil && p.pointPos < pos
	if pod == nil && !perPoint && p.cfg.ClusterName == "" {
		return
	}
	sms := rm.ScopeMetrics()
	for j := range sms.Len() {
		ms := sms.At(j).Metrics()
		for k := range ms.Len() {
			p.enrichMetric(s, ms.At(k), pod, perPoint, counts)
		}
	}
}

func (p *k8smetaProcessor) enrichMetric(s *batchState, m pmetric.Metric, resPod *podMeta, perPoint bool, counts *assocCounts) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		dps := m.Gauge().DataPoints()
		for i := range dps.Len() {
			p.enrichPoint(s, dps.At(i).Attributes(), resPod, perPoint, counts)
		}
	case pmetric.MetricTypeSum:
		dps := m.Sum().DataPoints()
		for i := range dps.Len() {
			p.enrichPoint(s, dps.At(i).Attributes(), resPod, perPoint, counts)
		}
	case pmetric.MetricTypeHistogram:
		dps := m.Histogram().DataPoints()
		for i := range dps.Len() {
			p.enrichPoint(s, dps.At(i).Attributes(), resPod, perPoint, counts)
		}
	case pmetric.MetricTypeExponentialHistogram:
		dps := m.ExponentialHistogram().DataPoints()
		for i := range dps.Len() {
			p.enrichPoint(s, dps.At(i).Attributes(), resPod, perPoint, counts)
		}
	case pmetric.MetricTypeSummary:
		dps := m.Summary().DataPoints()
		for i := range dps.Len() {
			p.enrichPoint(s, dps.At(i).Attributes(), resPod, perPoint, counts)
		}
	}
}

// enrichPoint writes the labels of the point's own pod (datapoint_labels
// association, when it comes before the resource source that matched) or
// else of the resource's pod; with no pod, only the cluster name. One scan
// of the point's attributes serves both the association and the writes.
func (p *k8smetaProcessor) enrichPoint(s *batchState, attrs pcommon.Map, resPod *podMeta, perPoint bool, counts *assocCounts) {
	ns, name, named := s.scan(attrs, p.pointNames.idx, perPoint)
	pod := resPod
	if named {
		own := s.podByName(ns, name)
		counts.add(srcDatapoint, own != nil)
		if own != nil {
			pod = own
		}
	}
	s.apply(attrs, p.pointNames.idx, s.pointSet(pod))
}

var errBadConfig = errors.New("configuration is not a *k8smetaprocessor.Config")
