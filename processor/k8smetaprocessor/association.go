package k8smetaprocessor

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	semconv "go.opentelemetry.io/otel/semconv/v1.42.0"

	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/kubemeta"
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

// strAttr returns the value of k in m when it is a non-empty string (the
// first one, should m repeat k).
func strAttr(m pcommon.Map, k string) (string, bool) {
	v, ok := m.Get(k)
	if !ok || v.Type() != pcommon.ValueTypeStr || v.Str() == "" {
		return "", false
	}
	return v.Str(), true
}

// Resource attributes read by the resource-level sources.
var (
	attrPodUID        = string(semconv.K8SPodUIDKey)
	attrPodName       = string(semconv.K8SPodNameKey)
	attrNamespaceName = string(semconv.K8SNamespaceNameKey)
	attrPodIP         = string(semconv.K8SPodIPKey)
	attrServerAddress = string(semconv.ServerAddressKey)
)

// associateResource tries the resource-level sources in order and returns
// the pod found and the position in the association order of the source
// that found it (len(order) on a miss).
func (p *k8smetaProcessor) associateResource(store kubemeta.Store, res pcommon.Map, counts *assocCounts) (*kubemeta.Pod, int) {
	for i, src := range p.order {
		var (
			pod *kubemeta.Pod
			ok  bool
		)
		switch src {
		case srcPodUID:
			var uid string
			if uid, ok = strAttr(res, attrPodUID); ok {
				pod = store.PodByUID(uid)
			}
		case srcPodName:
			var ns, name string
			if ns, ok = strAttr(res, attrNamespaceName); ok {
				if name, ok = strAttr(res, attrPodName); ok {
					pod = store.PodByName(ns, name)
				}
			}
		case srcPodIP:
			var ip string
			if ip, ok = strAttr(res, attrPodIP); !ok {
				ip, ok = strAttr(res, attrServerAddress)
			}
			if ok {
				pod = store.PodByIP(ip)
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
