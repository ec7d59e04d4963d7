package k8smetaprocessor

import "slices"

// keyIndex numbers the distinct attribute names a processor can write in
// one place (data point or resource), so that one pass over an attribute
// map finds which of them are present. It is read for every attribute of
// every point, so a lookup is a length test, a hash of three bytes and, in
// an open-addressed table at most a quarter full, usually one string
// comparison.
type keyIndex struct {
	keys    []string
	lengths uint64 // bit min(len(name), 63) set for every name
	// table holds 1 + slot at hashOf(name), or at the next free cell
	// (linear probing); 0 is empty. Its size keeps it at most a quarter
	// full, so a miss stops at an empty cell within a probe or two.
	table []int32
	mask  int
}

// hashOf mixes a name's length, first, middle and last bytes: the names
// written here differ in at least one of them far more often than not, and
// reading three bytes is cheaper than hashing the string.
func hashOf(k string) int {
	n := len(k)
	if n == 0 {
		return 0
	}
	return n*0x9e37 ^ int(k[0])*0x85eb ^ int(k[n/2])*0xc2b2 ^ int(k[n-1])*0x27d4
}

// slot returns the index of k, or -1 if k is not one of the names.
func (x *keyIndex) slot(k string) int {
	if x.lengths&(1<<min(len(k), 63)) == 0 {
		return -1
	}
	for h := hashOf(k) & x.mask; ; h = (h + 1) & x.mask {
		s := x.table[h]
		if s == 0 {
			return -1
		}
		if x.keys[s-1] == k {
			return int(s - 1)
		}
	}
}

// add returns the slot of k, numbering it if new; -1 for "" (not written).
func (x *keyIndex) add(k string) int {
	if k == "" {
		return -1
	}
	if x.table != nil {
		if s := x.slot(k); s >= 0 {
			return s
		}
	}
	x.lengths |= 1 << min(len(k), 63)
	x.keys = append(x.keys, k)
	if size := len(x.table); 4*len(x.keys) > size {
		x.rehash(max(64, 2*size))
	} else {
		x.insert(len(x.keys) - 1)
	}
	return len(x.keys) - 1
}

func (x *keyIndex) rehash(size int) {
	x.table, x.mask = make([]int32, size), size-1
	for s := range x.keys {
		x.insert(s)
	}
}

func (x *keyIndex) insert(s int) {
	h := hashOf(x.keys[s]) & x.mask
	for x.table[h] != 0 {
		h = (h + 1) & x.mask
	}
	x.table[h] = int32(s + 1)
}

// keyNames are the names a processor writes in one place, resolved once to
// their slots in idx (-1: not written there, e.g. workload_kind on
// resources). Names repeat (capacity_type for EKS and Karpenter nodes,
// job_name, a pod label tag equal to a built-in label): they share a slot.
type keyNames struct {
	idx *keyIndex

	cluster, workloadKind, workload, jobOfCronJob, node, podUID, podStart int
	zone, region, instanceType, nodegroup, capacityEKS, capacityKarp      int
	nodepool                                                              int
	workloadByKind                                                        map[string]int
	podLabels, nodeLabels, nsLabels                                       []int
}

// newKeyNames resolves the data point label names (label) or the resource
// attribute names of p's configuration.
func newKeyNames(p *k8smetaProcessor, label bool) *keyNames {
	x := &keyIndex{}
	slot := func(k keyPair) int {
		if label {
			if slices.Contains(p.cfg.DatapointLabelsExclude, k.label) {
				return -1 // never written
			}
			return x.add(k.label)
		}
		return x.add(k.resource)
	}
	slots := func(keys []keyPair) []int {
		out := make([]int, len(keys))
		for i, k := range keys {
			out[i] = slot(k)
		}
		return out
	}
	n := &keyNames{
		idx:            x,
		cluster:        slot(keyCluster),
		workloadKind:   slot(keyWorkloadKind),
		workload:       slot(keyWorkload),
		jobOfCronJob:   slot(keyJobOfCronJob),
		node:           slot(keyNode),
		podUID:         slot(keyPodUID),
		podStart:       slot(keyPodStart),
		zone:           slot(keyZone),
		region:         slot(keyRegion),
		instanceType:   slot(keyInstanceType),
		nodegroup:      slot(keyNodegroup),
		capacityEKS:    slot(keyCapacityEKS),
		capacityKarp:   slot(keyCapacityKarp),
		nodepool:       slot(keyNodepool),
		workloadByKind: make(map[string]int, len(workloadKeys)),
		podLabels:      slots(p.podLabels),
		nodeLabels:     slots(p.nodeLabels),
		nsLabels:       slots(p.nsLabels),
	}
	for kind, k := range workloadKeys {
		n.workloadByKind[kind] = slot(k)
	}
	return n
}

// keyValue is one attribute to write: the name in slot of the keyIndex
// the set was built for, and the value.
type keyValue struct {
	slot  int
	value string
}

// setBuilder collects the attributes one pod contributes to a map, in the
// order they are written, each name once.
//
// Writing k=v1 and then k=v2 into a map leaves, without overwrite, the
// first non-empty value (the second write finds a non-empty value and
// keeps it) and, with overwrite, the last; in both cases at the position
// the first write gave it. The builder resolves such repeats (job_name of
// Jobs and CronJobs, a pod label tag equal to a built-in label) once per
// pod, so that applying the set is a sequence of independent writes.
type setBuilder struct {
	set       []keyValue
	start     int     // set[start:] is the set being built
	pos       []int32 // per slot: 1 + index in set, 0 if not in the set yet; zero again after done
	overwrite bool
}

func (b *setBuilder) add(slot int, v string) {
	if slot < 0 || v == "" {
		return // never written
	}
	if i := b.pos[slot]; i != 0 {
		if b.overwrite {
			b.set[i-1].value = v
		}
		return
	}
	b.pos[slot] = int32(len(b.set) + 1)
	b.set = append(b.set, keyValue{slot: slot, value: v})
}

// done returns the set built, with its capacity limited so that later
// appends to the backing array cannot write into it, and zeroes pos.
func (b *setBuilder) done() []keyValue {
	set := b.set[b.start:len(b.set):len(b.set)]
	for _, e := range set {
		b.pos[e.slot] = 0
	}
	return set
}

// writePodSet adds what is written for pod (nil: only the cluster name),
// in the order the attributes have always been written: cluster name,
// workload, node, pod identity, pod labels, node topology, node labels,
// namespace labels. The caller holds the cache lock.
func (p *k8smetaProcessor) writePodSet(b *setBuilder, n *keyNames, c *metaCache, pod *podMeta) {
	b.add(n.cluster, p.cfg.ClusterName)
	if pod == nil {
		return
	}
	e := &p.cfg.Extract
	if e.Workload && pod.workload.kind != "" {
		b.add(n.workloadKind, pod.workload.kind)
		b.add(n.workload, pod.workload.name)
		if slot, ok := n.workloadByKind[pod.workload.kind]; ok {
			b.add(slot, pod.workload.name)
		}
		b.add(n.jobOfCronJob, pod.workload.job)
	}
	if e.Node {
		b.add(n.node, pod.node)
	}
	if e.PodUID {
		b.add(n.podUID, pod.uid)
	}
	if e.PodStartTime {
		b.add(n.podStart, pod.startTime)
	}
	for i, slot := range n.podLabels {
		b.add(slot, pod.labels[i])
	}
	if node := c.nodes[pod.node]; node != nil {
		if e.NodeTopology {
			b.add(n.zone, node.zone)
			b.add(n.region, node.region)
			b.add(n.instanceType, node.instanceType)
			b.add(n.nodegroup, node.nodegroup)
			capSlot := n.capacityEKS
			if node.karpenterCapacity {
				capSlot = n.capacityKarp
			}
			b.add(capSlot, node.capacity)
			b.add(n.nodepool, node.nodepool)
		}
		for i, slot := range n.nodeLabels {
			b.add(slot, node.labels[i])
		}
	}
	if ns := c.namespaces[pod.namespace]; ns != nil {
		for i, slot := range n.nsLabels {
			b.add(slot, ns.labels[i])
		}
	}
}
