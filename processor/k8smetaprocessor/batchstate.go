package k8smetaprocessor

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// How a write must treat an indexed key, as found by batchState.scan in
// the map being written.
const (
	keyAbsent      uint8 = iota // append it
	keyKept                     // a value that stays: non-empty or not a string, without overwrite
	keyReplaceable              // an empty string, or any value with overwrite: replace unless equal
)

// batchState is the scratch of one enrich call (one batch), reused through the
// processor's pool so that the per point work allocates nothing itself:
// pdata allocates for the attributes written (see apply).
//
// It remembers, for the batch, the label set of every pod met (a cadvisor
// or kube-state-metrics scrape names each pod once per metric family) and
// the last data point pod lookup. Both are only valid while the cache's
// read lock is held, which enrich does for the whole batch.
type batchState struct {
	p         *k8smetaProcessor
	c         *metaCache
	nsLabel   string // data point association labels
	podLabel  string
	overwrite bool

	// Label sets.
	sets     map[*podMeta][]keyValue // data point label set per pod; nil: cluster name only
	arena    []keyValue              // backing store of sets
	lastPod  *podMeta                // sets[lastPod] == lastSet when haveLast
	lastSet  []keyValue
	haveLast bool
	resSet   []keyValue // resource attribute set, rebuilt per resource
	setPos   []int32    // setBuilder.pos

	// Last data point pod lookup.
	lookedUp         bool // lastNS/lastName were looked up and found lastFound
	lastNS, lastName string
	lastFound        *podMeta

	// The map being written, per keyIndex slot, as found by scan.
	state  []uint8         // keyAbsent, keyKept, keyReplaceable
	values []pcommon.Value // the value found, when keyKept or keyReplaceable
}

func newBatchState(p *k8smetaProcessor) *batchState {
	n := max(len(p.pointNames.idx.keys), len(p.resourceNames.idx.keys))
	return &batchState{
		p:         p,
		nsLabel:   p.nsLabel,
		podLabel:  p.podLabel,
		overwrite: p.cfg.Overwrite,
		sets:      map[*podMeta][]keyValue{},
		setPos:    make([]int32, n),
		state:     make([]uint8, n),
		values:    make([]pcommon.Value, n),
	}
}

// reset drops every reference into the batch and the cache, so that a
// pooled state holds neither alive.
func (s *batchState) reset() {
	s.c = nil
	clear(s.sets)
	clear(s.arena)
	s.arena = s.arena[:0]
	s.lastPod, s.lastSet, s.haveLast = nil, nil, false
	s.lookedUp, s.lastNS, s.lastName, s.lastFound = false, "", "", nil
	clear(s.resSet)
	s.resSet = s.resSet[:0]
	clear(s.values)
}

// podByName looks up the pod named by a data point, remembering the last
// answer: series of one pod are often adjacent (one per container, device
// or interface), and two string comparisons cost less than two map
// lookups.
func (s *batchState) podByName(ns, name string) *podMeta {
	if !s.lookedUp || ns != s.lastNS || name != s.lastName {
		s.lookedUp, s.lastNS, s.lastName, s.lastFound = true, ns, name, s.c.podByName(ns, name)
	}
	return s.lastFound
}

// pointSet returns the data point labels of pod (nil: no pod), built once
// per pod and batch.
func (s *batchState) pointSet(pod *podMeta) []keyValue {
	if s.haveLast && pod == s.lastPod {
		return s.lastSet
	}
	set, ok := s.sets[pod]
	if !ok {
		b := setBuilder{set: s.arena, start: len(s.arena), pos: s.setPos, overwrite: s.overwrite}
		s.p.writePodSet(&b, s.p.pointNames, s.c, pod)
		s.arena = b.set
		set = b.done() // capacity-limited: later sets cannot overwrite it
		s.sets[pod] = set
	}
	s.lastPod, s.lastSet, s.haveLast = pod, set, true
	return set
}

// resourceSet returns the resource attributes of pod (nil: no pod).
func (s *batchState) resourceSet(pod *podMeta) []keyValue {
	b := setBuilder{set: s.resSet[:0], pos: s.setPos, overwrite: s.overwrite}
	s.p.writePodSet(&b, s.p.resourceNames, s.c, pod)
	s.resSet = b.set
	return b.done()
}

// scan reads m once: it classifies the first occurrence of every key of
// idx (the one Map.Get finds) and, when assoc is set, returns the first
// values of the association labels, ok only if both are non-empty
// strings. One pass replaces a Map.Get scan per label written.
func (s *batchState) scan(m pcommon.Map, idx *keyIndex, assoc bool) (ns, name string, ok bool) {
	clear(s.state)
	var nsSeen, nameSeen bool
	m.Range(func(k string, v pcommon.Value) bool {
		if assoc {
			if !nsSeen && k == s.nsLabel {
				nsSeen, ns = true, nonEmptyStr(v)
			}
			if !nameSeen && k == s.podLabel {
				nameSeen, name = true, nonEmptyStr(v)
			}
		}
		if slot := idx.slot(k); slot >= 0 && s.state[slot] == keyAbsent {
			s.state[slot] = s.classify(v)
			s.values[slot] = v
		}
		return true
	})
	return ns, name, ns != "" && name != ""
}

func nonEmptyStr(v pcommon.Value) string {
	if v.Type() != pcommon.ValueTypeStr {
		return ""
	}
	return v.Str()
}

// classify says how a write treats the existing value v: a non-empty value
// is never replaced unless overwrite is set; an empty string counts as
// absent; a non-string value is kept.
func (s *batchState) classify(v pcommon.Value) uint8 {
	if !s.overwrite && (v.Type() != pcommon.ValueTypeStr || v.Str() != "") {
		return keyKept
	}
	return keyReplaceable
}

// apply writes set, built for idx, into m, which scan has just read with
// idx. The names in set are distinct, so the writes are independent:
// replacements are done first (they leave m's length and order alone, so
// the values recorded by scan stay valid), then the capacity for every new
// attribute is reserved once and they are appended in set order, where
// sequential writes would have put them too.
//
// pdata fixes the cost of a new attribute: Map.PutStr scans m for the key
// and allocates the string value's wrapper; there is no cheaper public way
// to add an attribute.
func (s *batchState) apply(m pcommon.Map, idx *keyIndex, set []keyValue) {
	add := 0
	for _, e := range set {
		switch s.state[e.slot] {
		case keyAbsent:
			add++
		case keyReplaceable:
			if cur := s.values[e.slot]; cur.Type() != pcommon.ValueTypeStr || cur.Str() != e.value {
				cur.SetStr(e.value)
			}
		}
	}
	if add == 0 {
		return
	}
	m.EnsureCapacity(m.Len() + add)
	for _, e := range set {
		if s.state[e.slot] == keyAbsent {
			m.PutStr(idx.keys[e.slot], e.value)
		}
	}
}
