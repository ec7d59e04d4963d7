package diskqueue

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// encodeRecord is a record as the writer lays it out.
func encodeRecord(unixNano int64, data []byte) []byte {
	var h [headerSize]byte
	putHeader(&h, unixNano, data)
	return append(h[:], data...)
}

func encodePosition(seq uint64, off int64) []byte {
	var b [slotSize]byte
	encodeSlot(&b, position{gen: 7, seq: seq, off: off})
	return b[:]
}

// FuzzRecordReader gives the queue an arbitrary first segment (sealed, so
// the reader checks it, or last, so Open does) and an arbitrary position
// file. Opening and draining, with 1 to 4 records in flight (1+ahead%4),
// must not fail, panic or hang, and every record delivered must be one
// that is really in the files, checksum and all, in file order, its data
// intact until committed.
func FuzzRecordReader(f *testing.F) {
	var valid []byte
	for i := range 4 {
		valid = append(valid, encodeRecord(int64(i)*1e9, payload(i, 10*i))...)
	}
	second := len(encodeRecord(0, payload(0, 0)))
	for i, sealed := range []bool{false, true, false, true} {
		ahead := uint8(i)
		f.Add(valid, []byte(nil), sealed, ahead)
		f.Add(valid[:len(valid)-3], []byte(nil), sealed, ahead)
		f.Add(append(bytes.Clone(valid), make([]byte, 40)...), []byte(nil), sealed, ahead)
		flipped := bytes.Clone(valid)
		flipped[second+headerSize+2] ^= 1
		f.Add(flipped, []byte(nil), sealed, ahead)
		huge := bytes.Clone(valid)
		binary.LittleEndian.PutUint32(huge[second:], 1<<31)
		f.Add(huge, []byte(nil), sealed, ahead)
		f.Add(valid, encodePosition(1, int64(second)), sealed, ahead)
		f.Add(valid, encodePosition(1, int64(second)+3), sealed, ahead) // not a record boundary
		f.Add(valid, encodePosition(1, 1<<40), sealed, ahead)
		f.Add(valid, encodePosition(2, 0), sealed, ahead)
		f.Add(valid, encodePosition(9, 5), sealed, ahead)
		f.Add(valid, []byte("garbage position"), sealed, ahead)
	}
	f.Fuzz(func(t *testing.T, seg, pos []byte, sealed bool, ahead uint8) {
		dir := t.TempDir()
		write := func(name string, b []byte) {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o640); err != nil {
				t.Fatal(err)
			}
		}
		files := [][]byte{seg}
		write("00000000000000000001.seg", seg)
		if sealed {
			marker := encodeRecord(42, []byte("sealed marker"))
			files = append(files, marker)
			write("00000000000000000002.seg", marker)
		}
		if len(pos) > 0 {
			write(positionName, pos)
		}
		var d drops
		endTime := time.Unix(0, -12345) // no seed record has it
		q, err := Open(Options{
			Dir: dir, MaxBytes: 1 << 30, SegmentBytes: 1 << 20, SyncInterval: time.Hour,
			Now: func() time.Time { return endTime }, OnDrop: d.onDrop,
		})
		if err != nil {
			t.Fatalf("cannot open: %s", err)
		}
		defer q.Close()
		// The record appended now comes last, whatever the files hold: the
		// drain stops there without waiting.
		end := []byte("appended after open")
		if err := q.Append(end); err != nil {
			t.Fatal(err)
		}
		var inFlight, copies [][]byte
		commit := func() {
			if !bytes.Equal(inFlight[0], copies[0]) {
				t.Fatalf("record in flight changed from %q to %q", copies[0], inFlight[0])
			}
			inFlight, copies = inFlight[1:], copies[1:]
			if err := q.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		file, off := 0, 0
		for n := 0; ; n++ {
			if n > len(seg)/headerSize+3 {
				t.Fatalf("more records delivered than the files can hold")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			r, err := q.Next(ctx)
			cancel()
			if err != nil {
				t.Fatalf("cannot get record %d: %s", n, err)
			}
			inFlight, copies = append(inFlight, r.Data), append(copies, bytes.Clone(r.Data))
			if bytes.Equal(r.Data, end) && r.Time.Equal(endTime) {
				for len(inFlight) > 0 {
					commit()
				}
				break
			}
			if len(inFlight) == 1+int(ahead%4) {
				commit()
			}
			for file < len(files) {
				if at := findRecord(files[file], off, r); at >= 0 {
					off = at + headerSize + len(r.Data)
					break
				}
				file, off = file+1, 0
			}
			if file == len(files) {
				t.Fatalf("record %d (%d bytes at %v) is not in the files after the previous one", n, len(r.Data), r.Time)
			}
		}
		if s := q.Stats(); s.Records != 0 || s.Bytes != 0 {
			t.Fatalf("got %+v after draining", s)
		}
		for reason, records := range d.records {
			if records < 0 || d.bytes[reason] <= 0 {
				t.Fatalf("odd drop report %s: %d records, %d bytes", reason, records, d.bytes[reason])
			}
		}
	})
}

// findRecord returns the first offset at or after from where b holds r as
// a complete record with a valid checksum, or -1. It is written apart from
// the queue's reader on purpose.
func findRecord(b []byte, from int, r Record) int {
	for at := from; at+headerSize+len(r.Data) <= len(b); at++ {
		h := b[at : at+headerSize]
		data := b[at+headerSize : at+headerSize+len(r.Data)]
		if int(binary.LittleEndian.Uint32(h)) == len(r.Data) &&
			int64(binary.LittleEndian.Uint64(h[8:])) == r.Time.UnixNano() &&
			bytes.Equal(data, r.Data) &&
			binary.LittleEndian.Uint32(h[4:]) == recordChecksum(h[8:], data) {
			return at
		}
	}
	return -1
}
