package main

import "go.opentelemetry.io/collector/featuregate"

// distributionFeatureGates are the feature gates otelcol-eks turns on by
// default, each for a reason proven by a test. `--feature-gates=-<id>` still
// turns one off: flags are applied after this package's init.
var distributionFeatureGates = []string{
	// AMP answers 429 when a workspace is throttled; without this gate the
	// remote-write exporter v0.165.1 treats 429 as permanent and drops the
	// batch. The shipped configurations send through remote_write_delivery,
	// which retries 429 itself (test/chaos TestRetryableAnswers); the gate
	// matters where the exporter sends on its own, as with upstream's `wal:`
	// (TestKnownIssue429WithoutGate, docs/reliability.md).
	"exporter.prometheusremotewritexporter.RetryOn429",
}

func init() {
	for _, id := range distributionFeatureGates {
		if err := featuregate.GlobalRegistry().Set(id, true); err != nil {
			// A gate that upstream removed or renamed must be noticed at
			// the next upgrade: TestDistributionFeatureGates fails, and the
			// binary refuses to start rather than silently changing behaviour.
			panic("otelcol-eks: cannot enable feature gate " + id + ": " + err.Error())
		}
	}
}
