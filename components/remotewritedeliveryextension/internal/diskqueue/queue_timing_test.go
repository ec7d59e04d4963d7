package diskqueue

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// benchRecord is about a remote-write request of a few thousand series,
// snappy-compressed.
const benchRecord = 100 << 10

func benchOptions(b *testing.B, syncInterval time.Duration) Options {
	return Options{Dir: b.TempDir(), MaxBytes: 256 << 20, SegmentBytes: 16 << 20, SyncInterval: syncInterval}
}

func openBench(b *testing.B, opts Options) *Queue {
	q, err := Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = q.Close() })
	return q
}

// BenchmarkAppend runs past MaxBytes, so it includes starting segments and
// dropping old ones, as a full queue does.
func BenchmarkAppend(b *testing.B) {
	for _, syncInterval := range []time.Duration{0, time.Second} {
		b.Run(fmt.Sprintf("SyncInterval=%v", syncInterval), func(b *testing.B) {
			q := openBench(b, benchOptions(b, syncInterval))
			data := payload(1, benchRecord)
			b.ReportAllocs()
			b.SetBytes(benchRecord)
			for b.Loop() {
				if err := q.Append(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNextCommit consumes records appended beforehand, a thousand at
// a time outside the timer, with ahead records in flight: each Next is
// followed by the Commit of the oldest once ahead are in flight.
func BenchmarkNextCommit(b *testing.B) {
	for _, ahead := range []int{1, 4} {
		for _, syncInterval := range []time.Duration{0, time.Second} {
			b.Run(fmt.Sprintf("ahead=%d/SyncInterval=%v", ahead, syncInterval), func(b *testing.B) {
				benchNextCommit(b, ahead, syncInterval)
			})
		}
	}
}

func benchNextCommit(b *testing.B, ahead int, syncInterval time.Duration) {
	q := openBench(b, benchOptions(b, syncInterval))
	data := payload(1, benchRecord)
	ctx := context.Background()
	inFlight := 0
	b.ReportAllocs()
	b.SetBytes(benchRecord)
	for b.Loop() {
		if q.Stats().Records == int64(inFlight) {
			b.StopTimer()
			for range 1000 {
				if err := q.Append(data); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
		}
		r, err := q.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Data) != benchRecord {
			b.Fatalf("got %d bytes", len(r.Data))
		}
		if inFlight++; inFlight == ahead {
			if err := q.Commit(); err != nil {
				b.Fatal(err)
			}
			inFlight--
		}
	}
}
