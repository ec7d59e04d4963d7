// Package synthtarget serves synthetic Prometheus scrape targets on
// loopback for the chaos suite and the benchmarks: T targets, each on its
// own port, each exposing S label sets with Kubernetes-like labels
// (namespace, pod, container, method, code). Every label set is served as a
// counter, a gauge and a classic histogram of three buckets, so one label
// set is SamplesPerLabelSet samples per scrape.
//
// On request (Config.Protobuf) targets answer in the protobuf exposition
// when the scraper accepts it, as client libraries do, and a share of the
// label sets (Config.NativeHistograms) then has a native histogram of 20
// buckets instead of the classic one: SamplesPerNativeLabelSet samples.
//
// Values change on every scrape and encode the scrape's sequence number, so
// a test can tell from a stored sample alone which scrape it came from (and
// therefore which samples are missing or duplicated at the destination):
//
//	seq := synthtarget.SeqOf(name, le, value)
//	seq := synthtarget.SeqOfNativeHistogram(name, count) // native histograms
//
// Each target records the scrapes it served (sequence number, time, label
// sets), so a test compares what was served with what Prometheus stored.
// Serving text allocates little: label strings are rendered once (the
// protobuf exposition builds its messages afresh at each scrape).
package synthtarget
