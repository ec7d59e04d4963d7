package ampstandin

import (
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/prometheus/prompb"
)

// AMP's deduplication of HA pairs, as AMP documents it and as the Cortex
// distributor it follows implements it (pkg/distributor and pkg/ha of
// cortexproject/cortex):
//
//   - A request's HA labels are those of its first series. A request whose
//     first series lacks either label is stored as it is, undeduplicated,
//     and leaves the election alone.
//   - One replica is the leader of each `cluster` value; only its requests
//     are stored, with `__replica__` removed from every series (so the
//     series stay the same when the leader changes).
//   - A request from another replica is answered 202 with Cortex's message
//     and dropped whole, while the leader's last accepted request is less
//     than the failover timeout old; the first request after that elects
//     its replica, which is stored.
//
// Cortex records the leader's time in its key-value store at most every
// update timeout (15 s), so it fails over between the failover timeout
// minus that and the failover timeout after the leader's last request;
// the stand-in records every accepted request and fails over at exactly
// the failover timeout: AMP's longest gap.
const (
	HAClusterLabel = "cluster"
	HAReplicaLabel = "__replica__"
	// DefaultFailoverTimeout is AMP's (Cortex's -distributor.ha-tracker.failover-timeout).
	DefaultFailoverTimeout = 30 * time.Second
)

// HAConfig turns on the deduplication of HA pairs; the zero value leaves
// it off, and then request bodies are forwarded unread.
type HAConfig struct {
	// Enabled turns deduplication on.
	Enabled bool
	// FailoverTimeout is how long the leader of a cluster may send nothing
	// before another replica's request elects that replica; 0 means
	// DefaultFailoverTimeout.
	FailoverTimeout time.Duration
}

// haVerdict is what the deduplication decided for one request.
type haVerdict int

const (
	// haNotHA: the first series lacks a label; stored as it is.
	haNotHA haVerdict = iota
	// haLeader: from the leader of its cluster; stored without __replica__.
	haLeader
	// haDeduplicated: from another replica; answered 202, not stored.
	haDeduplicated
)

// String names the verdict as the stand-in's counters do.
func (v haVerdict) String() string {
	switch v {
	case haLeader:
		return "leader"
	case haDeduplicated:
		return "deduplicated"
	default:
		return "not_ha"
	}
}

// haTracker elects a leader replica per cluster. It is safe for concurrent
// use.
type haTracker struct {
	failover time.Duration
	mu       sync.Mutex
	leaders  map[string]haLeaderState // by cluster
}

type haLeaderState struct {
	replica string
	// lastAccepted is when the leader's last request was accepted.
	lastAccepted time.Time
}

func newHATracker(cfg HAConfig) *haTracker {
	failover := cfg.FailoverTimeout
	if failover <= 0 {
		failover = DefaultFailoverTimeout
	}
	return &haTracker{failover: failover, leaders: map[string]haLeaderState{}}
}

// haElection describes a change of leader.
type haElection struct {
	cluster, replica string
	// previous is the replica that led before ("" for the first leader);
	// silentFor is how long it had sent nothing.
	previous  string
	silentFor time.Duration
}

// check decides for a request from replica of cluster received at now. It
// returns the elected replica, and the election when this request made
// one.
func (t *haTracker) check(cluster, replica string, now time.Time) (haVerdict, string, *haElection) {
	if cluster == "" || replica == "" {
		return haNotHA, "", nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	cur, ok := t.leaders[cluster]
	switch {
	case ok && cur.replica == replica:
		cur.lastAccepted = now
		t.leaders[cluster] = cur
		return haLeader, replica, nil
	case ok && now.Sub(cur.lastAccepted) < t.failover:
		return haDeduplicated, cur.replica, nil
	}
	e := &haElection{cluster: cluster, replica: replica}
	if ok {
		e.previous, e.silentFor = cur.replica, now.Sub(cur.lastAccepted)
	}
	t.leaders[cluster] = haLeaderState{replica: replica, lastAccepted: now}
	return haLeader, replica, e
}

// haLabels returns the cluster and replica labels of the request's first
// series, as Cortex reads them.
func haLabels(wr *prompb.WriteRequest) (cluster, replica string) {
	if len(wr.Timeseries) == 0 {
		return "", ""
	}
	for _, l := range wr.Timeseries[0].Labels {
		switch l.Name {
		case HAClusterLabel:
			cluster = l.Value
		case HAReplicaLabel:
			replica = l.Value
		}
	}
	return cluster, replica
}

// stripReplica removes __replica__ from every series of wr.
func stripReplica(wr *prompb.WriteRequest) {
	for i := range wr.Timeseries {
		ls := wr.Timeseries[i].Labels[:0]
		for _, l := range wr.Timeseries[i].Labels {
			if l.Name != HAReplicaLabel {
				ls = append(ls, l)
			}
		}
		wr.Timeseries[i].Labels = ls
	}
}

// samplesIn counts the float samples and native histograms of wr.
func samplesIn(wr *prompb.WriteRequest) int64 {
	var n int64
	for _, ts := range wr.Timeseries {
		n += int64(len(ts.Samples) + len(ts.Histograms))
	}
	return n
}

// dedupMessage is Cortex's answer to a replica that is not the leader.
func dedupMessage(replica, elected string) string {
	return fmt.Sprintf("replicas did not match, rejecting sample: replica=%s, elected=%s", replica, elected)
}
