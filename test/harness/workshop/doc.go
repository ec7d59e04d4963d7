// Package workshop runs the EKS workshop's metrics pipeline on one machine,
// every part real and on loopback:
//
//	orders demo ──scrape── otelcol-eks ──SigV4 remote write── AMP stand-in ──> Prometheus
//	(in-process)           (bin/otelcol-eks,                  (in-process,       (promserver,
//	                        configs/local.yaml)                checks SigV4)      remote-write receiver)
//
// It is shared by `make run` (test/cmd/workshop-local), `make e2e` (test/e2e) and
// later chaos tests and benchmarks. Start brings the parts up in dependency
// order and returns once the collector reports healthy; Stop takes them down
// in reverse order (the collector first, so it can flush) and leaves nothing
// running. The collector gets static test credentials and
// AWS_EC2_METADATA_DISABLED=true, never the caller's AWS environment.
//
// Status reads what `make run`'s status line shows (samples stored, the
// last scrape, the collector's queue); Options.LogOutput mirrors the parts'
// logs, which go to files in the log directory.
//
// On request (Options) a fault proxy sits between the collector and the
// stand-in, and a PodsAPI serves the pods k8smeta watches; StopCollector and
// StartCollector restart the collector on the same queue directory, as a
// container restarts in its pod.
package workshop
