package rwsink

import (
	"math"
	"math/bits"
	"time"
)

// Freshness summarises the delays from scrape to arrival of a set of
// samples: the time from the moment the synthetic target answered the
// scrape that served a sample to the moment the request carrying it had
// arrived at the sink. Quantiles come from a Histogram: never below the
// true value, at most 1/64 (1.6 %) above it, and never above Max.
type Freshness struct {
	Samples       int64 // samples measured
	P50, P99, Max time.Duration
}

// subBuckets is the number of buckets per power of two of the Histogram:
// its relative resolution is 1/subBuckets.
const (
	subBucketBits = 6
	subBuckets    = 1 << subBucketBits
)

// Histogram counts delays in microseconds in log-linear buckets (exact
// below 64 µs, then 64 buckets per power of two), so that its size is
// fixed (30 KiB) however many samples it counts. The zero value is empty
// and ready to use; it is not safe for concurrent use.
type Histogram struct {
	counts [(64 - subBucketBits + 1) * subBuckets]int64
	n      int64
	max    time.Duration
}

// bucketOf returns the index of the bucket holding us microseconds.
func bucketOf(us uint64) int {
	if us < subBuckets {
		return int(us)
	}
	shift := bits.Len64(us) - subBucketBits - 1 // us>>shift is in [64, 128)
	return (shift+1)*subBuckets + int(us>>shift) - subBuckets
}

// bucketUpper returns the largest duration bucket i holds.
func bucketUpper(i int) time.Duration {
	if i < subBuckets {
		return time.Duration(i+1)*time.Microsecond - 1
	}
	shift := i/subBuckets - 1
	mantissa := uint64(i%subBuckets + subBuckets)
	us := (mantissa + 1) << shift
	if shift >= 64-subBucketBits-1 || us > math.MaxInt64/uint64(time.Microsecond) {
		return math.MaxInt64 // beyond what a Duration holds
	}
	return time.Duration(us)*time.Microsecond - 1
}

// Add counts n samples that took d; a negative d counts as 0.
func (h *Histogram) Add(d time.Duration, n int64) {
	if n <= 0 {
		return
	}
	d = max(d, 0)
	h.counts[bucketOf(uint64(d/time.Microsecond))] += n
	h.n += n
	h.max = max(h.max, d)
}

// Quantile returns the delay at or below which a share q (0 < q ≤ 1) of
// the samples arrived: the upper bound of the bucket holding the sample of
// rank ⌈q·n⌉, capped at the largest delay counted. It is 0 when the
// histogram is empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(q * float64(h.n))
	if float64(rank) < q*float64(h.n) {
		rank++
	}
	rank = min(max(rank, 1), h.n)
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(bucketUpper(i), h.max)
		}
	}
	return h.max
}

// Summary returns the histogram's count, median, 99th percentile and
// maximum.
func (h *Histogram) Summary() Freshness {
	return Freshness{Samples: h.n, P50: h.Quantile(0.5), P99: h.Quantile(0.99), Max: h.max}
}
