// Package chaos is the fault-injection suite (`make chaos`): it drives
// bin/otelcol-eks, as a subprocess with the distribution's shipped
// Prometheus receiver settings, exporter, memory_limiter, batch, sigv4auth
// and remote_write_delivery settings (read from configs/daemonset.yaml),
// against synthetic targets (test/harness/synthtarget) and a real
// Prometheus behind the AMP stand-in (test/harness/ampstandin), with a
// fault proxy (test/harness/faultproxy) in between:
//
//	synthtarget ──scrape── otelcol-eks ──SigV4── faultproxy ── ampstandin ── Prometheus
//
// (TestOutageLongerThanSignature puts the fault proxy behind the stand-in,
// so that the stand-in verifies every attempt.) It counts samples at the
// source (every target records the scrapes it served) and at the
// destination (raw samples read back from Prometheus), and asserts
// equality where the promise is "nothing lost". It also damages the
// delivery queue on disk, and mounts a small tmpfs over it in a private
// mount namespace (root only). The known-issue tests run the exporter as
// upstream documents it (no remote_write_delivery) to keep upstream's
// behaviour on record. The tests need the build tag `chaos`; CHAOS_LONG=1
// runs the long variants (5-minute outages). docs/reliability.md records
// what the suite found.
package chaos
