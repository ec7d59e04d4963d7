// Package wireorder holds the evidence behind one upstream finding of
// bench/RESULTS.md: the remote-write exporter (contrib v0.165.1,
// batchTimeSeries in exporter/prometheusremotewriteexporter/helper.go)
// fills requests by ranging over a Go map of series, so neighbouring
// series in a request are random; snappy finds repeats only within 64 KiB
// blocks, so label sets shared by the series of one target compress far
// worse than in Prometheus' scrape order. Its test measures both orders,
// with and without the otel_scope_* labels, on the benchmark's label sets.
package wireorder
