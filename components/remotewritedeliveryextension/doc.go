// Package remotewritedeliveryextension is the `remote_write_delivery`
// extension: durable delivery for the contrib remote-write exporter, in the
// shape of vmagent's persistent queue.
//
// The exporter names it as its authenticator. Every request the exporter
// builds (the snappy-compressed protobuf and its remote-write headers) is
// appended, unsigned, to an on-disk queue of its own (internal/diskqueue),
// and the exporter is answered 204 once it is there. A sender reads the
// queue in order, up to max_in_flight requests sent and not yet committed
// (inFlightSpread in sender.go bounds which), and sends each request as it
// was captured, signed afresh at every attempt by the configured
// authenticator (sigv4auth): no protobuf is decoded or re-encoded, and a
// request queued through an outage longer than a signature's validity is
// still accepted.
//
// What each answer of the backend does to a request (delivered, retried,
// kept, dropped) is the README's table "What happens to a request"; judge
// (answers.go) applies it, and queuePause (pause.go), the queue's one
// retry clock, holds the whole queue back after a failed attempt. Every
// drop is counted by reason and logged at most once per cause per
// log_interval with a hint naming what to check. The queue is bounded by
// max_size_mib (the oldest dropped beyond it) and max_age (older requests
// are dropped unsent); a full disk drops the request being queued and
// never blocks the pipeline.
package remotewritedeliveryextension // import "github.com/otelcol-eks/otelcol-eks/components/remotewritedeliveryextension"
