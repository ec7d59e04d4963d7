package diskqueue

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// inFlight holds the records a test took with Next and has not committed,
// as Next returned them (Data aliasing the queue's buffers), with the
// number of each, so that a record overwritten by a later read shows.
type inFlight struct {
	records []Record
	nums    []int
	size    func(int) int
}

// next takes the next record with Next and expects record want.
func (f *inFlight) next(t *testing.T, q *Queue, want int) {
	t.Helper()
	f.add(t, nextRecord(t, q), want)
}

// nextWaiting starts a Next that has nothing to return yet, and returns
// once it waits. The function it returns takes that Next's record, which
// must be want.
func (f *inFlight) nextWaiting(t *testing.T, q *Queue) func(want int) {
	t.Helper()
	got := make(chan Record, 1)
	go func() {
		r, err := q.Next(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	waitForNext(t)
	return func(want int) {
		t.Helper()
		f.add(t, <-got, want)
	}
}

// add expects r to be record want and puts it in flight.
func (f *inFlight) add(t *testing.T, r Record, want int) {
	t.Helper()
	if !bytes.Equal(r.Data, payload(want, f.size(want))) {
		t.Fatalf("got %.20q, want record %d", r.Data, want)
	}
	f.records = append(f.records, r)
	f.nums = append(f.nums, want)
	f.check(t)
}

// commit commits the oldest record in flight.
func (f *inFlight) commit(t *testing.T, q *Queue) {
	t.Helper()
	mustCommit(t, q)
	f.records, f.nums = f.records[1:], f.nums[1:]
	f.check(t)
}

// check asserts that the data of every record in flight is intact.
func (f *inFlight) check(t *testing.T) {
	t.Helper()
	for k, r := range f.records {
		if i := f.nums[k]; !bytes.Equal(r.Data, payload(i, f.size(i))) {
			t.Fatalf("record %d in flight now reads %.20q", i, r.Data)
		}
	}
}

func checkStats(t *testing.T, q *Queue, records int, bytes int64) {
	t.Helper()
	if s := q.Stats(); s.Records != int64(records) || s.Bytes != bytes {
		t.Fatalf("got %d records, %d bytes, want %d, %d", s.Records, s.Bytes, records, bytes)
	}
}

// commitAll commits the records in flight, the first noops of them
// dropped by MaxBytes (their Commits consume nothing), and checks Stats
// after each: unconsumed records of rec bytes before the first.
func (f *inFlight) commitAll(t *testing.T, q *Queue, noops, unconsumed int, rec int64) {
	t.Helper()
	for i := range len(f.records) {
		f.commit(t, q)
		if i >= noops {
			unconsumed--
		}
		checkStats(t, q, unconsumed, int64(unconsumed)*rec)
	}
}

func TestReadAhead(t *testing.T) {
	// f appends records of the given sizes, takes the first ahead of them
	// with Next, commits the first committed of those one by one, then
	// closes with the others in flight and expects, after reopening,
	// exactly the records from committed on.
	f := func(segmentBytes int64, sizes []int, ahead, committed int) {
		t.Helper()
		var d drops
		opts := testOptions(t, &d)
		opts.SegmentBytes = segmentBytes
		clock := time.Unix(1000, 0)
		opts.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
		size := func(i int) int { return sizes[i] }
		q := mustOpen(t, opts)
		var total int64
		for i := range sizes {
			mustAppend(t, q, payload(i, sizes[i]))
			total += int64(headerSize + sizes[i])
		}
		fl := inFlight{size: size}
		for i := range ahead {
			fl.next(t, q, i)
			checkStats(t, q, len(sizes), total) // in flight counts as unconsumed
		}
		for i := range committed {
			fl.commit(t, q)
			total -= int64(headerSize + sizes[i])
			checkStats(t, q, len(sizes)-i-1, total)
			if oldest, want := q.Stats().Oldest, time.Unix(1002+int64(i), 0); i+1 < len(sizes) && !oldest.Equal(want) {
				t.Fatalf("after %d commits: got oldest %v, want %v", i+1, oldest, want)
			}
		}
		reopenDrain(t, q, opts, seqRange(committed, len(sizes)), size)
		if d.calls != 0 {
			t.Fatalf("unexpected drops: %+v", d.records)
		}
	}
	f(1<<12, []int{10, 20, 30, 40}, 4, 2)
	f(1<<12, []int{10, 20, 30}, 3, 0) // Close with all in flight: all again
	f(1<<12, []int{10, 20, 30}, 3, 3)
	f(1<<12, []int{0, 0, 5, 0}, 4, 1)
	// 100-byte segments hold two 30-byte records each: the cursor and the
	// commit position cross segments.
	f(100, slices.Repeat([]int{30}, 11), 7, 3)
	f(100, slices.Repeat([]int{30}, 11), 11, 4)
	f(100, slices.Repeat([]int{30}, 11), 11, 11)
	// Records larger than a segment get one each.
	f(100, []int{500, 10, 700, 20, 30}, 5, 2)
}

func TestReadAheadSegments(t *testing.T) {
	// 100-byte segments of two 46-byte records: a segment is deleted once
	// its records are committed, not when the cursor leaves it.
	opts := testOptions(t, nil)
	opts.SegmentBytes = 100
	q := openFilled(t, opts, 7, 30) // segments 1 to 4
	want := func(seqs ...int) {
		t.Helper()
		var names []string
		for _, seq := range seqs {
			names = append(names, filepath.Base(q.segmentPath(uint64(seq))))
		}
		if got := segmentFiles(t, opts.Dir); !slices.Equal(got, names) {
			t.Fatalf("got segments %q, want %q", got, names)
		}
	}
	fl := inFlight{size: func(int) int { return 30 }}
	for i := range 5 {
		fl.next(t, q, i)
	}
	want(1, 2, 3, 4)
	fl.commit(t, q)
	want(1, 2, 3, 4)
	fl.commit(t, q) // record 1: segment 1 consumed
	want(2, 3, 4)
	fl.commit(t, q)
	fl.commit(t, q)
	want(3, 4)
	// The cursor reaches the writer's segment, which appends go on
	// filling while records before them are in flight.
	fl.next(t, q, 5)
	fl.next(t, q, 6)
	mustAppend(t, q, payload(7, 30))
	mustAppend(t, q, payload(8, 30))
	fl.next(t, q, 7)
	fl.next(t, q, 8)
	want(3, 4, 5)
	for range 5 {
		fl.commit(t, q)
	}
	want(5)
	checkStats(t, q, 0, 0)
	// Next waits at the end, with a record in flight, for the next Append.
	mustAppend(t, q, payload(9, 30))
	fl.next(t, q, 9)
	receive := fl.nextWaiting(t, q)
	mustAppend(t, q, payload(10, 30))
	receive(10)
	fl.commit(t, q)
	fl.commit(t, q)
	checkStats(t, q, 0, 0)
}

func TestMaxBytesDropsRecordsInFlight(t *testing.T) {
	// 46-byte records, two a 100-byte segment, MaxBytes 400: eight fill
	// four segments; the ninth drops segment 1 (records 0 and 1), the
	// eleventh segment 2 (2 and 3), the thirteenth segment 3 (4 and 5).
	const rec = headerSize + 30
	// f takes ahead records with Next, appends more, and expects dropped
	// records reported, one no-op Commit for each record in flight among
	// them, and Next to go on at record wantNext.
	f := func(ahead, appends, dropped, wantNext int) {
		t.Helper()
		var d drops
		opts := testOptions(t, &d)
		opts.MaxBytes, opts.SegmentBytes = 400, 100
		q := openFilled(t, opts, 8, 30)
		fl := inFlight{size: func(int) int { return 30 }}
		for i := range ahead {
			fl.next(t, q, i)
		}
		for i := range appends {
			mustAppend(t, q, payload(8+i, 30))
		}
		fl.check(t) // a dropped record's data stays valid until its Commit
		if records, bytes := d.get(DropQueueFull); records != dropped || bytes != int64(dropped*rec) {
			t.Fatalf("got %d records, %d bytes dropped, want %d, %d", records, bytes, dropped, dropped*rec)
		}
		unconsumed := 8 + appends - dropped
		checkStats(t, q, unconsumed, int64(unconsumed*rec))
		fl.commitAll(t, q, dropped, unconsumed, rec)
		fl.next(t, q, wantNext)
		fl.commit(t, q)
		checkData(t, drain(t, q), seqRange(wantNext+1, 8+appends), func(int) int { return 30 })
	}
	f(1, 1, 2, 2) // as without read-ahead
	f(3, 1, 2, 3) // the cursor, inside segment 2, stays
	f(4, 1, 2, 4) // the records of segment 2 stay in flight
	f(2, 1, 2, 2) // the cursor, at the end of dropped segment 1, moves to 2
	f(3, 3, 4, 4) // the cursor, inside dropped segment 2, moves to 3
	f(2, 3, 4, 4) // the cursor, at the end of dropped segment 1, moves to 3
	f(5, 3, 4, 5)
	f(6, 3, 4, 6) // the cursor, at the end of segment 3, stays
	f(0, 5, 6, 6) // nothing in flight
	f(4, 5, 6, 6) // all in flight dropped, the cursor moves to segment 4
	f(6, 5, 6, 6)
	f(7, 5, 6, 7)
	f(8, 1, 2, 8)    // everything in flight, the cursor at the end of the writer's segment
	f(8, 5, 6, 8)    // segments 1 to 3 dropped
	f(7, 13, 14, 14) // segments 1 to 7 dropped
}

func TestDamageAheadOfCommit(t *testing.T) {
	// Segments of 200 bytes hold three 56-byte records: 0-2 in segment 1,
	// 3-5 in segment 2, 6-8 in segment 3. The cursor meets damage while
	// the records before it are in flight.
	const rec = headerSize + 40
	f := func(segment int, dmg damage, ahead, skipped int, skippedBytes int64, wantNext int) {
		t.Helper()
		var d drops
		opts := testOptions(t, &d)
		opts.SegmentBytes = 200
		q := openFilled(t, opts, 9, 40)
		dmg(t, q.segmentPath(uint64(segment)))
		fl := inFlight{size: func(int) int { return 40 }}
		for i := range ahead {
			fl.next(t, q, i)
		}
		fl.next(t, q, wantNext) // skips the damage
		if records, bytes := d.get(DropCorrupt); records != skipped || bytes != skippedBytes || d.calls != 1 {
			t.Fatalf("got %d records, %d bytes skipped in %d reports, want %d, %d in 1", records, bytes, d.calls, skipped, skippedBytes)
		}
		unconsumed := 9 - skipped
		checkStats(t, q, unconsumed, int64(unconsumed*rec))
		fl.commitAll(t, q, 0, unconsumed, rec)
		// The commit position is past the damage: reopening neither
		// delivers nor reports it again.
		q = reopenDrain(t, q, opts, seqRange(wantNext+1, 9), fl.size)
		if d.calls != 1 {
			t.Fatalf("got %d reports, want 1: %+v", d.calls, d.records)
		}
		for _, name := range segmentFiles(t, opts.Dir) {
			if name == filepath.Base(q.segmentPath(uint64(segment))) {
				t.Fatalf("damaged segment %s still there after its records were committed", name)
			}
		}
	}
	f(1, flipByte(2*rec+headerSize), 2, 1, rec, 3)   // record 2
	f(1, flipByte(rec+5), 1, 2, 2*rec, 3)            // records 1 and 2
	f(2, flipByte(5), 3, 3, 3*rec, 6)                // all of segment 2
	f(2, flipByte(rec+headerSize), 4, 2, 2*rec, 6)   // records 4 and 5, with 3 in flight
	f(2, overwrite(rec, 0xff, 0xff), 4, 2, 2*rec, 6) // a broken length
	f(2, removeFile, 3, 3, 3*rec, 6)                 // segment 2 gone
}

func TestDamageInWritersSegmentAheadOfCommit(t *testing.T) {
	// One segment, the writer's, whose record 2 is cut short under the
	// open queue: Next skips it with records 0 and 1 in flight, and the
	// segment goes on growing after the damage.
	const rec = headerSize + 40
	var d drops
	opts := testOptions(t, &d)
	q := openFilled(t, opts, 3, 40)
	truncateTo(2*rec+20)(t, q.segmentPath(1))
	fl := inFlight{size: func(int) int { return 40 }}
	fl.next(t, q, 0)
	fl.next(t, q, 1)
	receive := fl.nextWaiting(t, q) // past the damage
	if records, bytes := d.get(DropCorrupt); records != 1 || bytes != rec {
		t.Fatalf("got %d records, %d bytes skipped, want 1, %d", records, bytes, rec)
	}
	checkStats(t, q, 2, 2*rec)
	mustAppend(t, q, payload(3, 40))
	checkStats(t, q, 3, 3*rec)
	receive(3)
	fl.commit(t, q)
	checkStats(t, q, 2, 2*rec)
	fl.commit(t, q) // and the damage after record 1
	checkStats(t, q, 1, rec)
	mustAppend(t, q, payload(4, 40))
	fl.commit(t, q)
	checkStats(t, q, 1, rec)
	reopenDrain(t, q, opts, []int{4}, fl.size)
	if d.calls != 1 {
		t.Fatalf("got %d reports, want 1: %+v", d.calls, d.records)
	}
}

func TestDamageAndDropInFlight(t *testing.T) {
	// 46-byte records, two a 100-byte segment, MaxBytes 400: appending
	// record 8 drops segment 1 (records 0 and 1). The cursor has skipped
	// damage with records in flight before it; the drop reports no byte
	// of damage again, and the damage left first needs no Commit.
	const rec = headerSize + 30
	f := func(segment int, dmg damage, ahead, corrupt, dropped, noops, wantNext int) {
		t.Helper()
		var d drops
		opts := testOptions(t, &d)
		opts.MaxBytes, opts.SegmentBytes = 400, 100
		q := openFilled(t, opts, 8, 30)
		dmg(t, q.segmentPath(uint64(segment)))
		fl := inFlight{size: func(int) int { return 30 }}
		for i := range ahead {
			fl.next(t, q, i)
		}
		fl.next(t, q, wantNext)
		mustAppend(t, q, payload(8, 30))
		if records, bytes := d.get(DropCorrupt); records != corrupt || bytes != int64(corrupt*rec) {
			t.Fatalf("got %d records, %d bytes skipped, want %d, %d", records, bytes, corrupt, corrupt*rec)
		}
		if records, bytes := d.get(DropQueueFull); records != dropped || bytes != int64(dropped*rec) {
			t.Fatalf("got %d records, %d bytes dropped, want %d, %d", records, bytes, dropped, dropped*rec)
		}
		unconsumed := 9 - corrupt - dropped
		checkStats(t, q, unconsumed, int64(unconsumed*rec))
		fl.commitAll(t, q, noops, unconsumed, rec)
		reopenDrain(t, q, opts, seqRange(wantNext+1, 9), fl.size)
	}
	// Record 1 damaged, 0 in flight: the drop reports 0 only.
	f(1, flipByte(rec+5), 1, 1, 1, 1, 2)
	// Segment 2 damaged whole, 0 and 1 in flight: once they are dropped,
	// the commit position passes segment 2 too, at record 4.
	f(2, flipByte(5), 2, 2, 2, 2, 4)
}

func TestSpareBuffersBounded(t *testing.T) {
	// Ten records in flight hold ten buffers; once committed, only
	// maxFree are kept for reuse.
	q := openFilled(t, testOptions(t, nil), 10, 100)
	fl := inFlight{size: func(int) int { return 100 }}
	for i := range 10 {
		fl.next(t, q, i)
	}
	for range 10 {
		fl.commit(t, q)
	}
	if n := len(q.free); n != maxFree {
		t.Fatalf("%d spare buffers kept, want %d", n, maxFree)
	}
}
