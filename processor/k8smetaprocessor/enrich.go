package k8smetaprocessor

import (
	"iter"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/kubemeta"
)

// batch is the state of one enrich call.
type batch struct {
	p      *k8smetaProcessor
	store  kubemeta.Store // nil: no lookups, only the cluster name
	counts assocCounts

	// pointSets holds the data point attributes of every pod met in the
	// batch (key nil: no pod): a cadvisor or kube-state-metrics scrape
	// names each pod once per metric family.
	pointSets map[*kubemeta.Pod][]keyValue
	// scratch is where attribute sets are built.
	scratch []keyValue

	// The last data point pod lookup: series of one pod are often
	// adjacent (one per container, device or interface).
	looked           bool
	lastNS, lastName string
	lastPod          *kubemeta.Pod
}

// enrich enriches md in place and returns the association attempts.
func (p *k8smetaProcessor) enrich(md pmetric.Metrics) assocCounts {
	b := batch{p: p, store: p.currentStore(), pointSets: map[*kubemeta.Pod][]keyValue{}}
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		b.enrichResource(rms.At(i))
	}
	return b.counts
}

// enrichResource associates the resource and writes its attributes, then
// enriches its data points: each with its own pod (datapoint_labels, when
// that source comes before the resource-level one that matched), else with
// the resource's pod; with no pod, only the cluster name.
func (b *batch) enrichResource(rm pmetric.ResourceMetrics) {
	p := b.p
	res := rm.Resource().Attributes()
	var (
		pod *kubemeta.Pod
		pos = len(p.order)
	)
	if b.store != nil {
		pod, pos = p.associateResource(b.store, res, &b.counts)
	}
	if p.cfg.ResourceAttributes {
		b.scratch = p.podAttributes(b.scratch, p.resourceNames, b.store, pod)
		put(res, b.scratch, p.cfg.Overwrite)
	}
	if !p.cfg.DatapointLabels {
		return
	}
	perPoint := b.store != nil && p.pointPos < pos
	if pod == nil && !perPoint && p.cfg.ClusterName == "" {
		return
	}
	sms := rm.ScopeMetrics()
	for i := range sms.Len() {
		ms := sms.At(i).Metrics()
		for j := range ms.Len() {
			forEachPointAttributes(ms.At(j), func(attrs pcommon.Map) {
				b.enrichPoint(attrs, pod, perPoint)
			})
		}
	}
}

// forEachPointAttributes calls f with the attributes of every data point
// of m.
func forEachPointAttributes(m pmetric.Metric, f func(pcommon.Map)) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		eachAttributes(m.Gauge().DataPoints().All(), f)
	case pmetric.MetricTypeSum:
		eachAttributes(m.Sum().DataPoints().All(), f)
	case pmetric.MetricTypeHistogram:
		eachAttributes(m.Histogram().DataPoints().All(), f)
	case pmetric.MetricTypeExponentialHistogram:
		eachAttributes(m.ExponentialHistogram().DataPoints().All(), f)
	case pmetric.MetricTypeSummary:
		eachAttributes(m.Summary().DataPoints().All(), f)
	}
}

// eachAttributes calls f with the attributes of every point of points.
func eachAttributes[P interface{ Attributes() pcommon.Map }](points iter.Seq2[int, P], f func(pcommon.Map)) {
	for _, p := range points {
		f(p.Attributes())
	}
}

// enrichPoint writes the labels of the point's own pod when perPoint and
// its namespace and pod labels name a known pod, else those of resPod (nil:
// the cluster name only).
func (b *batch) enrichPoint(attrs pcommon.Map, resPod *kubemeta.Pod, perPoint bool) {
	pod := resPod
	if perPoint {
		if ns, ok := strAttr(attrs, b.p.nsLabel); ok {
			if name, ok := strAttr(attrs, b.p.podLabel); ok {
				own := b.podByName(ns, name)
				b.counts.add(srcDatapoint, own != nil)
				if own != nil {
					pod = own
				}
			}
		}
	}
	set, ok := b.pointSets[pod]
	if !ok {
		b.scratch = b.p.podAttributes(b.scratch, b.p.pointNames, b.store, pod)
		set = slices.Clone(b.scratch)
		b.pointSets[pod] = set
	}
	put(attrs, set, b.p.cfg.Overwrite)
}

// podByName looks a pod up by namespace and name, remembering the last
// answer.
func (b *batch) podByName(ns, name string) *kubemeta.Pod {
	if !b.looked || ns != b.lastNS || name != b.lastName {
		b.looked, b.lastNS, b.lastName, b.lastPod = true, ns, name, b.store.PodByName(ns, name)
	}
	return b.lastPod
}

// put writes set into m as writing each attribute in turn would, where a
// write keeps a value already there unless overwrite is set or it is an
// empty string (a value that is not a string is kept too). The names in
// set are distinct, so the writes are independent: values already there
// are settled first, then the capacity for the new attributes is reserved
// once and they are appended in set order.
func put(m pcommon.Map, set []keyValue, overwrite bool) {
	added := 0
	for _, kv := range set {
		cur, ok := m.Get(kv.name)
		switch {
		case !ok:
			added++
		case !overwrite && (cur.Type() != pcommon.ValueTypeStr || cur.Str() != ""):
			// kept
		case cur.Type() != pcommon.ValueTypeStr || cur.Str() != kv.value:
			cur.SetStr(kv.value)
		}
	}
	if added == 0 {
		return
	}
	m.EnsureCapacity(m.Len() + added)
	for _, kv := range set {
		if v, found := m.GetOrPutEmpty(kv.name); !found {
			v.SetStr(kv.value)
		}
	}
}
