package diskqueue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// drops records OnDrop calls, for assertions.
type drops struct {
	mu      sync.Mutex
	calls   int
	records map[DropReason]int
	bytes   map[DropReason]int64
}

func (d *drops) onDrop(reason DropReason, records int, bytes int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.records == nil {
		d.records, d.bytes = map[DropReason]int{}, map[DropReason]int64{}
	}
	d.calls++
	d.records[reason] += records
	d.bytes[reason] += bytes
}

func (d *drops) get(reason DropReason) (records int, bytes int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.records[reason], d.bytes[reason]
}

// testOptions is a small queue in a new directory, fsyncing every Append.
func testOptions(t *testing.T, d *drops) Options {
	return Options{Dir: t.TempDir(), MaxBytes: 1 << 20, SegmentBytes: 1 << 12, OnDrop: d.onDrop}
}

func mustOpen(t *testing.T, opts Options) *Queue {
	t.Helper()
	q, err := Open(opts)
	if err != nil {
		t.Fatalf("cannot open queue: %s", err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

// payload is record i's data: n bytes that name i, so that a record
// delivered in the wrong place is told apart.
func payload(i, n int) []byte {
	b := bytes.Repeat([]byte{byte(i)}, n)
	copy(b, fmt.Sprintf("%d:", i))
	return b
}

// openFilled opens a queue and appends records 0 to n-1 of size bytes.
func openFilled(t *testing.T, opts Options, n, size int) *Queue {
	t.Helper()
	q := mustOpen(t, opts)
	for i := range n {
		mustAppend(t, q, payload(i, size))
	}
	return q
}

func mustAppend(t *testing.T, q *Queue, data []byte) {
	t.Helper()
	if err := q.Append(data); err != nil {
		t.Fatalf("cannot append: %s", err)
	}
}

// mustNext returns a copy of the next record; a queue that has none
// within a few seconds fails the test rather than hanging it.
func mustNext(t *testing.T, q *Queue) Record {
	t.Helper()
	r := nextRecord(t, q)
	r.Data = bytes.Clone(r.Data)
	return r
}

// nextRecord is mustNext without the copy: Data is the queue's buffer.
func nextRecord(t *testing.T, q *Queue) Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := q.Next(ctx)
	if err != nil {
		t.Fatalf("cannot get next record: %s", err)
	}
	return r
}

func mustCommit(t *testing.T, q *Queue) {
	t.Helper()
	if err := q.Commit(); err != nil {
		t.Fatalf("cannot commit: %s", err)
	}
}

// drain consumes every record Stats counts and returns their data.
func drain(t *testing.T, q *Queue) [][]byte {
	t.Helper()
	var got [][]byte
	for q.Stats().Records > 0 {
		got = append(got, mustNext(t, q).Data)
		mustCommit(t, q)
	}
	return got
}

// checkData compares delivered records with payload(i, size(i)) for i in
// want, in order.
func checkData(t *testing.T, got [][]byte, want []int, size func(int) int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for k, i := range want {
		if !bytes.Equal(got[k], payload(i, size(i))) {
			t.Fatalf("record %d: got %.20q (%d bytes), want record %d", k, got[k], len(got[k]), i)
		}
	}
}

// reopenDrain closes q, opens it again and expects records want, in
// order, with payload(i, size(i)). It returns the new queue.
func reopenDrain(t *testing.T, q *Queue, opts Options, want []int, size func(int) int) *Queue {
	t.Helper()
	if err := q.Close(); err != nil {
		t.Fatalf("cannot close: %s", err)
	}
	q = mustOpen(t, opts)
	checkData(t, drain(t, q), want, size)
	return q
}

func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
	if err != nil {
		t.Fatal(err)
	}
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	return names
}

func seqRange(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestOpenOptions(t *testing.T) {
	f := func(opts Options, wantErr bool) {
		t.Helper()
		if opts.Dir != "" {
			opts.Dir = filepath.Join(t.TempDir(), opts.Dir)
		}
		q, err := Open(opts)
		if (err != nil) != wantErr {
			t.Fatalf("Open(%+v): got error %v, want error: %v", opts, err, wantErr)
		}
		if err == nil {
			_ = q.Close()
		}
	}
	f(Options{Dir: "q", MaxBytes: 1 << 20, SegmentBytes: 1 << 18}, false)
	f(Options{Dir: "a/b/c", MaxBytes: 32, SegmentBytes: 8, SyncInterval: time.Second}, false)
	f(Options{Dir: "", MaxBytes: 1 << 20, SegmentBytes: 1 << 10}, true)
	f(Options{Dir: "q", MaxBytes: 1 << 20, SegmentBytes: 1<<18 + 1}, true)
	f(Options{Dir: "q", MaxBytes: 1 << 20, SegmentBytes: 0}, true)
	f(Options{Dir: "q", MaxBytes: 1 << 20, SegmentBytes: -1}, true)
	f(Options{Dir: "q", MaxBytes: 31, SegmentBytes: 4}, true)
	f(Options{Dir: "q", MaxBytes: 1 << 20, SegmentBytes: 1 << 10, SyncInterval: -time.Second}, true)
}

func TestOrder(t *testing.T) {
	// f appends records of the given sizes, consumes the first committed
	// ones, reopens, and expects the rest in order.
	f := func(segmentBytes int64, sizes []int, committed int, syncInterval time.Duration) {
		t.Helper()
		var d drops
		opts := testOptions(t, &d)
		opts.SegmentBytes = segmentBytes
		opts.SyncInterval = syncInterval
		size := func(i int) int { return sizes[i] }
		q := mustOpen(t, opts)
		for i := range sizes {
			mustAppend(t, q, payload(i, sizes[i]))
		}
		var got [][]byte
		for range committed {
			got = append(got, mustNext(t, q).Data)
			mustCommit(t, q)
		}
		checkData(t, got, seqRange(0, committed), size)
		if committed < len(sizes) {
			// In flight at Close: delivered again after reopening.
			if r := mustNext(t, q); !bytes.Equal(r.Data, payload(committed, sizes[committed])) {
				t.Fatalf("got %.20q, want record %d", r.Data, committed)
			}
		}
		reopenDrain(t, q, opts, seqRange(committed, len(sizes)), size)
		if d.calls != 0 {
			t.Fatalf("unexpected drops: %+v", d.records)
		}
	}
	f(1<<12, []int{10, 20, 30}, 1, 0)
	f(1<<12, []int{10, 20, 30}, 0, 0)
	f(1<<12, []int{10, 20, 30}, 3, 0)
	f(1<<12, []int{0, 0, 5, 0}, 2, 0)
	// Many segments: 100-byte segments hold two 30-byte records each.
	f(100, slices.Repeat([]int{30}, 25), 11, 0)
	f(100, slices.Repeat([]int{30}, 25), 11, time.Hour)
	// Records larger than a segment get one each.
	f(100, []int{500, 10, 700, 20, 30}, 2, 0)
}

// TestNextReadsAhead: Next returns successive records without waiting
// for Commit (before read-ahead, it returned the same record again until
// Commit), and Commit consumes them oldest first.
func TestNextReadsAhead(t *testing.T) {
	q := mustOpen(t, testOptions(t, nil))
	mustAppend(t, q, payload(1, 10))
	mustAppend(t, q, payload(2, 10))
	mustAppend(t, q, payload(3, 10))
	for i := 1; i <= 2; i++ {
		if r := mustNext(t, q); !bytes.Equal(r.Data, payload(i, 10)) {
			t.Fatalf("got %q, want record %d", r.Data, i)
		}
	}
	mustCommit(t, q) // record 1
	if s := q.Stats(); s.Records != 2 {
		t.Fatalf("got %+v after one Commit, want 2 records", s)
	}
	if r := mustNext(t, q); !bytes.Equal(r.Data, payload(3, 10)) {
		t.Fatalf("got %q, want record 3", r.Data)
	}
	mustCommit(t, q)
	mustCommit(t, q)
	mustCommit(t, q) // nothing in flight: a no-op
	if s := q.Stats(); s.Records != 0 || s.Bytes != 0 {
		t.Fatalf("got %+v after consuming everything", s)
	}
}

func TestStats(t *testing.T) {
	clock := time.Unix(1000, 0)
	opts := testOptions(t, nil)
	opts.SegmentBytes = 100 // two 30-byte records a segment
	opts.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
	at := func(i int) time.Time { return time.Unix(1001+int64(i), 0) }
	f := func(q *Queue, records int, oldest time.Time) {
		t.Helper()
		want := Stats{Bytes: int64(records) * (headerSize + 30), Records: int64(records), Oldest: oldest}
		if got := q.Stats(); got.Bytes != want.Bytes || got.Records != want.Records || !got.Oldest.Equal(want.Oldest) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
	q := mustOpen(t, opts)
	f(q, 0, time.Time{})
	for i := range 5 {
		mustAppend(t, q, payload(i, 30))
		f(q, i+1, at(0))
	}
	r := mustNext(t, q)
	if !r.Time.Equal(at(0)) {
		t.Fatalf("got record time %v, want %v", r.Time, at(0))
	}
	f(q, 5, at(0)) // in flight counts as unconsumed
	mustCommit(t, q)
	f(q, 4, at(1)) // same segment
	mustNext(t, q)
	mustCommit(t, q)
	f(q, 3, at(2)) // next segment
	mustNext(t, q)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = mustOpen(t, opts) // counted from the headers
	f(q, 3, at(2))
	mustNext(t, q)
	mustCommit(t, q)
	f(q, 2, at(3))
	drain(t, q)
	f(q, 0, time.Time{})
	mustAppend(t, q, payload(9, 30))
	f(q, 1, at(5))
}

func TestSegments(t *testing.T) {
	opts := testOptions(t, nil)
	opts.SegmentBytes = 100
	q := mustOpen(t, opts)
	f := func(want ...string) {
		t.Helper()
		if got := segmentFiles(t, opts.Dir); !slices.Equal(got, want) {
			t.Fatalf("got segments %q, want %q", got, want)
		}
	}
	f("00000000000000000001.seg")
	for i := range 4 {
		mustAppend(t, q, payload(i, 30)) // 46 bytes: two a segment
	}
	f("00000000000000000001.seg", "00000000000000000002.seg")
	mustAppend(t, q, payload(4, 200)) // larger than a segment: its own
	mustAppend(t, q, payload(5, 30))  // and the next record starts another
	f("00000000000000000001.seg", "00000000000000000002.seg", "00000000000000000003.seg", "00000000000000000004.seg")

	mustNext(t, q)
	mustCommit(t, q)
	f("00000000000000000001.seg", "00000000000000000002.seg", "00000000000000000003.seg", "00000000000000000004.seg")
	mustNext(t, q)
	mustCommit(t, q) // segment 1 consumed
	f("00000000000000000002.seg", "00000000000000000003.seg", "00000000000000000004.seg")
	for range 4 {
		mustNext(t, q)
		mustCommit(t, q)
	}
	// The writer's segment stays, even consumed, until the next record
	// starts a new one.
	f("00000000000000000004.seg")
	mustAppend(t, q, payload(6, 90))
	f("00000000000000000005.seg")
	// A consumed writer's segment of SegmentBytes/4 or more is not
	// written to again: the next record starts a new one.
	mustNext(t, q)
	mustCommit(t, q)
	mustAppend(t, q, payload(7, 5))
	f("00000000000000000006.seg")
	mustNext(t, q)
	mustCommit(t, q)
	mustAppend(t, q, payload(8, 5)) // 21 bytes consumed: below 25
	f("00000000000000000006.seg")
}

func TestMaxBytes(t *testing.T) {
	// 46-byte records, two a 100-byte segment (92 bytes), MaxBytes 400:
	// appending the ninth record needs 9*46 > 400, so the first segment
	// (records 0 and 1) goes, and so on a segment at a time.
	const recordBytes = headerSize + 30
	// f appends records, consuming some once consumeAt are appended.
	f := func(appends, consumeAt, consumed int, wantFirst int) {
		t.Helper()
		var d drops
		opts := testOptions(t, &d)
		opts.MaxBytes, opts.SegmentBytes = 400, 100
		q := mustOpen(t, opts)
		for i := range appends {
			if i == consumeAt {
				for range consumed {
					mustNext(t, q)
					mustCommit(t, q)
				}
			}
			mustAppend(t, q, payload(i, 30))
			var total int64
			for _, name := range segmentFiles(t, opts.Dir) {
				fi, err := os.Stat(filepath.Join(opts.Dir, name))
				if err != nil {
					t.Fatal(err)
				}
				total += fi.Size()
			}
			if total > opts.MaxBytes {
				t.Fatalf("after %d appends the segments hold %d bytes, more than %d", i+1, total, opts.MaxBytes)
			}
		}
		got := drain(t, q)
		checkData(t, got, seqRange(wantFirst, appends), func(int) int { return 30 })
		records, bytes := d.get(DropQueueFull)
		if want := wantFirst - consumed; records != want || bytes != int64(want*recordBytes) {
			t.Fatalf("got %d records, %d bytes dropped, want %d, %d", records, bytes, want, want*recordBytes)
		}
	}
	f(8, 0, 0, 0)
	f(9, 0, 0, 2)
	f(10, 0, 0, 2)
	f(11, 0, 0, 4)
	f(30, 0, 0, 22)
	// A segment the reader had half consumed: only the unconsumed record
	// is reported.
	f(9, 8, 1, 2)
	// Consumed records are never reported.
	f(30, 8, 8, 22)
}

func TestMaxBytesDropsRecordInFlight(t *testing.T) {
	var d drops
	opts := testOptions(t, &d)
	opts.MaxBytes, opts.SegmentBytes = 400, 100
	q := openFilled(t, opts, 8, 30)
	if r := mustNext(t, q); !bytes.Equal(r.Data, payload(0, 30)) {
		t.Fatalf("got %q, want record 0", r.Data)
	}
	mustAppend(t, q, payload(8, 30)) // drops records 0 and 1
	mustCommit(t, q)                 // record 0 is gone: nothing to commit
	if r := mustNext(t, q); !bytes.Equal(r.Data, payload(2, 30)) {
		t.Fatalf("got %q, want record 2", r.Data)
	}
	mustCommit(t, q)
	checkData(t, drain(t, q), seqRange(3, 9), func(int) int { return 30 })
	if records, _ := d.get(DropQueueFull); records != 2 {
		t.Fatalf("got %d records dropped, want 2", records)
	}
}

func TestReopenWithSmallerMaxBytes(t *testing.T) {
	var d drops
	opts := testOptions(t, &d)
	opts.SegmentBytes = 100
	q := openFilled(t, opts, 20, 30) // ten segments of 92 bytes
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	opts.MaxBytes = 400
	q = mustOpen(t, opts)
	if s := q.Stats(); s.Records != 20 {
		t.Fatalf("got %d records after reopening, want 20: nothing dropped before the next Append", s.Records)
	}
	mustAppend(t, q, payload(20, 30))
	// 400 bytes leave room for three full segments and the new record.
	checkData(t, drain(t, q), seqRange(14, 21), func(int) int { return 30 })
	if records, _ := d.get(DropQueueFull); records != 14 {
		t.Fatalf("got %d records dropped, want 14", records)
	}
}

func TestErrTooLarge(t *testing.T) {
	opts := testOptions(t, nil)
	opts.MaxBytes, opts.SegmentBytes = 1000, 100
	q := mustOpen(t, opts)
	if err := q.Append(make([]byte, 501)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	if s := q.Stats(); s.Records != 0 || s.Bytes != 0 {
		t.Fatalf("got %+v after a refused Append", s)
	}
	mustAppend(t, q, payload(0, 500))
	checkData(t, drain(t, q), []int{0}, func(int) int { return 500 })
}

func TestNextWaits(t *testing.T) {
	q := mustOpen(t, testOptions(t, nil))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v from a cancelled context, want context.Canceled", err)
	}

	// An Append wakes a waiting Next.
	got := make(chan []byte)
	go func() {
		r, err := q.Next(context.Background())
		if err != nil {
			got <- []byte(err.Error())
			return
		}
		got <- bytes.Clone(r.Data)
	}()
	waitForNext(t)
	mustAppend(t, q, payload(1, 10))
	if r := <-got; !bytes.Equal(r, payload(1, 10)) {
		t.Fatalf("got %q, want record 1", r)
	}
	mustCommit(t, q)

	// Close unblocks it.
	errc := make(chan error)
	go func() {
		_, err := q.Next(context.Background())
		errc <- err
	}()
	waitForNext(t)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("second Close: %s", err)
	}
	if err := q.Append(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: got %v, want ErrClosed", err)
	}
	if err := q.Commit(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit after Close: got %v, want ErrClosed", err)
	}
}

// waitForNext returns once a goroutine waits in Next's select, so that
// what the test does next must wake it.
func waitForNext(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for range 5000 {
		stacks := string(buf[:runtime.Stack(buf, true)])
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, " [select") && strings.Contains(g, "diskqueue.(*Queue).Next(") {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("no goroutine waits in Next")
}

func TestConcurrentAppend(t *testing.T) {
	for _, ahead := range []int{1, 4} {
		t.Run(fmt.Sprintf("ahead=%d", ahead), func(t *testing.T) { testConcurrentAppend(t, ahead) })
	}
}

// testConcurrentAppend keeps up to ahead records in flight, committing the
// oldest when there are that many, and checks that the data of each is
// intact when it is committed.
func testConcurrentAppend(t *testing.T, ahead int) {
	const writers, perWriter = 4, 300
	opts := testOptions(t, nil)
	opts.SegmentBytes = 1 << 10
	opts.SyncInterval = time.Millisecond
	q := mustOpen(t, opts)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				if err := q.Append(fmt.Appendf(nil, "%d %d", w, i)); err != nil {
					t.Errorf("cannot append: %s", err)
					return
				}
			}
		})
	}
	// The consumer reads while the writers write: each writer's records
	// arrive once and in its order.
	next := make([]int, writers)
	var inFlight [][]byte // as Next returned them
	var want []string
	commit := func() {
		if got := string(inFlight[0]); got != want[0] {
			t.Fatalf("record %q in flight now reads %q", want[0], got)
		}
		inFlight, want = inFlight[1:], want[1:]
		mustCommit(t, q)
	}
	for n := 0; n < writers*perWriter; n++ {
		r, err := q.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var w, i int
		if _, err := fmt.Sscanf(string(r.Data), "%d %d", &w, &i); err != nil {
			t.Fatal(err)
		}
		if i != next[w] {
			t.Fatalf("writer %d: got record %d, want %d", w, i, next[w])
		}
		next[w]++
		inFlight, want = append(inFlight, r.Data), append(want, string(r.Data))
		if len(inFlight) == ahead {
			commit()
		}
		_ = q.Stats()
	}
	for len(inFlight) > 0 {
		commit()
	}
	wg.Wait()
	if s := q.Stats(); s.Records != 0 {
		t.Fatalf("got %+v at the end", s)
	}
}

func TestSteadyStateAllocs(t *testing.T) {
	for _, ahead := range []int{1, 4} {
		t.Run(fmt.Sprintf("ahead=%d", ahead), func(t *testing.T) { testSteadyStateAllocs(t, ahead) })
	}
}

// testSteadyStateAllocs keeps ahead-1 records in flight between the
// Append+Next+Commit rounds it counts allocations of.
func testSteadyStateAllocs(t *testing.T, ahead int) {
	for _, syncInterval := range []time.Duration{0, time.Hour} {
		opts := testOptions(t, nil)
		opts.SyncInterval = syncInterval
		opts.SegmentBytes = 1 << 18 // no new segment during the test
		q := mustOpen(t, opts)
		data := payload(1, 1000)
		ctx := context.Background()
		for range ahead {
			mustAppend(t, q, data) // each read buffer grows once
			mustNext(t, q)
		}
		mustCommit(t, q)
		allocs := testing.AllocsPerRun(3, func() {
			if err := q.Append(data); err != nil {
				t.Fatal(err)
			}
			if _, err := q.Next(ctx); err != nil {
				t.Fatal(err)
			}
			if err := q.Commit(); err != nil {
				t.Fatal(err)
			}
			_ = q.Stats()
		})
		if allocs != 0 {
			t.Fatalf("SyncInterval %v: %v allocations per Append+Next+Commit, want 0", syncInterval, allocs)
		}
	}
}

func TestConcurrentDrops(t *testing.T) {
	for _, ahead := range []int{1, 4} {
		t.Run(fmt.Sprintf("ahead=%d", ahead), func(t *testing.T) { testConcurrentDrops(t, ahead) })
	}
}

// testConcurrentDrops: a consumer keeping up to ahead records in flight
// reads while Appends drop the segments it reads from and those of the
// records in flight: it must never deliver a record twice or out of
// order, nor lose one without a report, nor mistake a dropped segment for
// damage. Records differ in length, so that a position moved by the wrong
// record's length lands inside a record and shows as damage.
func testConcurrentDrops(t *testing.T, ahead int) {
	const appends = 3000
	var d drops
	opts := testOptions(t, &d)
	opts.MaxBytes, opts.SegmentBytes = 400, 100
	opts.SyncInterval = time.Hour
	q := mustOpen(t, opts)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range appends {
			if err := q.Append(fmt.Appendf(nil, "%d%*s", i, i%7, "")); err != nil {
				t.Errorf("cannot append: %s", err)
				return
			}
		}
	}()
	delivered, last, inFlight := 0, -1, 0
	for {
		select {
		case <-done:
			for ; inFlight > 0; inFlight-- {
				mustCommit(t, q)
			}
			if q.Stats().Records > 0 {
				break
			}
			// A record dropped while in flight counts twice, hence >=.
			if dropped, _ := d.get(DropQueueFull); delivered+dropped < appends {
				t.Fatalf("%d delivered + %d dropped < %d appended", delivered, dropped, appends)
			}
			if records, bytes := d.get(DropCorrupt); records != 0 || bytes != 0 {
				t.Fatalf("got %d records, %d bytes reported corrupt", records, bytes)
			}
			return
		default:
			if q.Stats().Records <= int64(inFlight) {
				// Only what is in flight, or less if some was dropped: commit
				// so that the test ends.
				if inFlight > 0 {
					mustCommit(t, q)
					inFlight--
				}
				runtime.Gosched()
				continue
			}
		}
		r := mustNext(t, q)
		i, err := strconv.Atoi(strings.TrimSpace(string(r.Data)))
		if err != nil || i <= last {
			t.Fatalf("got %q after record %d", r.Data, last)
		}
		last = i
		delivered++
		if inFlight++; inFlight == ahead {
			mustCommit(t, q)
			inFlight--
		}
	}
}
