package diskqueue

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// damage changes a file of a closed (or open) queue.
type damage func(t *testing.T, path string)

func truncateTo(size int64) damage {
	return func(t *testing.T, path string) {
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
	}
}

func overwrite(off int64, b ...byte) damage {
	return func(t *testing.T, path string) {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
}

func flipByte(off int64) damage {
	return func(t *testing.T, path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		overwrite(off, b[off]^0x40)(t, path)
	}
}

func appendZeros(n int) damage {
	return func(t *testing.T, path string) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write(make([]byte, n)); err != nil {
			t.Fatal(err)
		}
	}
}

func removeFile(t *testing.T, path string) {
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedTail(t *testing.T) {
	// Five 56-byte records in one segment, at 0, 56, 112, 168 and 224.
	const rec = headerSize + 40
	f := func(dmg damage, wantRecords []int, wantCut int64) {
		t.Helper()
		var d drops
		opts := testOptions(t, &d)
		q := openFilled(t, opts, 5, 40)
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		dmg(t, filepath.Join(opts.Dir, "00000000000000000001.seg"))

		q = mustOpen(t, opts)
		if records, cut := d.get(DropCorrupt); records != 1 || cut != wantCut {
			t.Fatalf("got %d records, %d bytes cut, want 1, %d", records, cut, wantCut)
		}
		mustAppend(t, q, payload(5, 40)) // lands right after the cut
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		q = mustOpen(t, opts) // the cut was made for good: nothing new to report
		if d.calls != 1 {
			t.Fatalf("got %d OnDrop calls, want 1", d.calls)
		}
		checkData(t, drain(t, q), append(wantRecords, 5), func(int) int { return 40 })
	}
	last := int64(4 * rec)
	f(truncateTo(last+5), []int{0, 1, 2, 3}, 5)                  // inside the header
	f(truncateTo(last+headerSize+3), []int{0, 1, 2, 3}, 19)      // inside the data
	f(flipByte(last+headerSize+20), []int{0, 1, 2, 3}, rec)      // a data byte
	f(flipByte(last+9), []int{0, 1, 2, 3}, rec)                  // the timestamp
	f(flipByte(last+5), []int{0, 1, 2, 3}, rec)                  // the checksum
	f(overwrite(last, 0xff, 0xff, 0, 0), []int{0, 1, 2, 3}, rec) // a length past the end
	f(overwrite(last, 39), []int{0, 1, 2, 3}, rec)               // a length one short
	// Damage in the middle of the last segment loses what follows it.
	f(flipByte(2*rec+headerSize), []int{0, 1}, 3*rec)
	// Zeros after the records, as a file system can leave after power loss.
	f(appendZeros(100), []int{0, 1, 2, 3, 4}, 100)
}

func TestDamagedSealedSegment(t *testing.T) {
	// Segments of 200 bytes hold three 56-byte records: 0-2 in segment 1,
	// 3-5 in segment 2, 6-8 in segment 3.
	const rec = headerSize + 40
	f := func(dmg damage, reopen bool, wantSkipped int, wantBytes int64, wantRecords []int) {
		t.Helper()
		var d drops
		opts := testOptions(t, &d)
		opts.SegmentBytes = 200
		q := openFilled(t, opts, 9, 40)
		if reopen {
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
		}
		dmg(t, filepath.Join(opts.Dir, "00000000000000000001.seg"))
		if reopen {
			q = mustOpen(t, opts)
		}
		if d.calls != 0 {
			t.Fatalf("sealed segments are checked by the reader, not Open: got %+v", d.records)
		}
		checkData(t, drain(t, q), wantRecords, func(int) int { return 40 })
		if records, bytes := d.get(DropCorrupt); records != wantSkipped || bytes != wantBytes {
			t.Fatalf("got %d records, %d bytes skipped, want %d, %d", records, bytes, wantSkipped, wantBytes)
		}
		if s := q.Stats(); s.Records != 0 || s.Bytes != 0 {
			t.Fatalf("got %+v after draining", s)
		}
	}
	rest := []int{3, 4, 5, 6, 7, 8}
	for _, reopen := range []bool{false, true} {
		f(flipByte(rec+headerSize+7), reopen, 2, 2*rec, append([]int{0}, rest...))
		f(flipByte(2*rec+5), reopen, 1, rec, append([]int{0, 1}, rest...))
		f(flipByte(5), reopen, 3, 3*rec, rest)
	}
	// Open counts records by their headers: a broken length stops the
	// count, so the records behind it are unknown when skipped.
	f(overwrite(rec, 0xff, 0xff), true, 0, 2*rec, append([]int{0}, rest...))
	f(truncateTo(rec+20), true, 0, 20, append([]int{0}, rest...))
	// Damage appearing under an open queue is still never delivered.
	f(truncateTo(rec+20), false, 2, 2*rec, append([]int{0}, rest...))
	f(removeFile, false, 3, 3*rec, rest)
}

func TestPositionFallback(t *testing.T) {
	// Ten 46-byte records in one segment; five consumed. The two slots
	// hold the last two saves: after record 4 (newest) and after record 3.
	const rec = headerSize + 30
	f := func(dmg func(t *testing.T, dir string), wantFirst int) {
		t.Helper()
		var d drops
		opts := testOptions(t, &d)
		q := openFilled(t, opts, 10, 30)
		for range 5 {
			mustNext(t, q)
			mustCommit(t, q)
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		dmg(t, opts.Dir)
		q = mustOpen(t, opts)
		checkData(t, drain(t, q), seqRange(wantFirst, 10), func(int) int { return 30 })
		if d.calls != 0 {
			t.Fatalf("a position fallback is no loss, got %+v", d.records)
		}
	}
	onPosition := func(dmg damage) func(*testing.T, string) {
		return func(t *testing.T, dir string) { dmg(t, filepath.Join(dir, positionName)) }
	}
	// newest returns the offset of the newest slot.
	newest := func(t *testing.T, dir string) int64 {
		pf, err := os.Open(filepath.Join(dir, positionName))
		if err != nil {
			t.Fatal(err)
		}
		defer pf.Close()
		p, ok := readPosition(pf)
		if !ok || p.off != 5*rec {
			t.Fatalf("got position %+v, want one after record 4", p)
		}
		return slotOffset(p.gen)
	}
	f(func(*testing.T, string) {}, 5)
	f(onPosition(removeFile), 0)
	f(onPosition(truncateTo(0)), 0)
	f(onPosition(overwrite(0, bytes.Repeat([]byte{0x5a}, slotStride+slotSize)...)), 0)
	// A torn newest slot: the older one is used, one record comes again.
	f(func(t *testing.T, dir string) { flipByte(newest(t, dir)+9)(t, filepath.Join(dir, positionName)) }, 4)
	f(func(t *testing.T, dir string) {
		flipByte(slotStride-newest(t, dir)+9)(t, filepath.Join(dir, positionName))
	}, 5)
}

func TestConsumedSegmentLeftBehind(t *testing.T) {
	// A crash between saving the position and deleting a consumed segment
	// leaves the segment: Open deletes it instead of delivering it again.
	opts := testOptions(t, nil)
	opts.SegmentBytes = 100
	q := openFilled(t, opts, 6, 30)
	first := filepath.Join(opts.Dir, "00000000000000000001.seg")
	saved, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		mustNext(t, q)
		mustCommit(t, q)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(first, saved, 0o640); err != nil {
		t.Fatal(err)
	}
	q = mustOpen(t, opts)
	checkData(t, drain(t, q), []int{3, 4, 5}, func(int) int { return 30 })
	if _, err := os.Stat(first); !os.IsNotExist(err) {
		t.Fatalf("consumed segment still there: %v", err)
	}
}
