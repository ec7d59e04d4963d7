// Package chaos is the fault-injection suite (`make chaos`): it drives
// bin/otelcol-eks, as a subprocess with the distribution's shipped exporter,
// memory_limiter and batch settings (read from configs/daemonset.yaml),
// against synthetic targets (test/harness/synthtarget) and a real Prometheus
// behind the AMP stand-in (test/harness/ampstandin), with a fault proxy
// (test/harness/faultproxy) in between:
//
//	synthtarget ──scrape── otelcol-eks ──SigV4── faultproxy ── ampstandin ── Prometheus
//
// It counts samples at the source (every target records the scrapes it
// served) and at the destination (raw samples read back from Prometheus),
// and asserts equality where the promise is "nothing lost". The tests need
// the build tag `chaos`; CHAOS_LONG=1 runs the long variants (5-minute
// outages). docs/reliability.md records what the suite found.
package chaos
