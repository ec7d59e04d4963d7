package k8smetaprocessor

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Indexes into the association counters.
const (
	srcPodUID = iota
	srcPodName
	srcPodIP
	srcDatapoint
	numSources
)

var sourceNames = [numSources]string{SourcePodUID, SourcePodName, SourcePodIP, SourceDatapointLabels}

func sourceIndex(name string) int {
	for i, n := range sourceNames {
		if n == name {
			return i
		}
	}
	return -1
}

// assocCounts accumulates association attempts of one batch, so that the
// counters are updated once per batch, not once per data point.
type assocCounts [numSources][2]int64 // [source][miss=0, hit=1]

func (a *assocCounts) add(src int, hit bool) {
	if hit {
		a[src][1]++
	} else {
		a[src][0]++
	}
}

func strAttr(m pcommon.Map, k string) (string, bool) {
	v, ok := m.Get(k)
	if !ok || v.Type() != pcommon.ValueTypeStr || v.Str() == "" {
		return "", false
	}
	return v.Str(), true
}

// associateResource tries the resource-level sources in order and returns
// the pod found and the position in the association order of the source
// that found it (len(order) on a miss). The caller holds the cache lock.
func (p *k8smetaProcessor) associateResource(c *metaCache, res pcommon.Map, counts *assocCounts) (*podMeta, int) {
	for i, src := range p.order {
		var (
			pod *podMeta
			ok  bool
		)
		switch src {
		case srcPodUID:
			var uid string
			if uid, ok = strAttr(res, attrPodUID); ok {
				pod = c.podByUID(uid)
			}
		case srcPodName:
			var ns, name string
			if ns, ok = strAttr(res, attrNamespaceName); ok {
				if name, ok = strAttr(res, attrPodName); ok {
					pod = c.podByName(ns, name)
				}
			}
		case srcPodIP:
			var ip string
			if ip, ok = strAttr(res, attrPodIP); !ok {
				ip, ok = strAttr(res, attrServerAddress)
			}
			if ok {
				pod = c.podByIP(ip)
			}
		default:
			continue
		}
		if !ok {
			continue // identifying attributes absent: not an attempt
		}
		counts.add(src, pod != nil)
		if pod != nil {
			return pod, i
		}
	}
	return nil, len(p.order)
}
