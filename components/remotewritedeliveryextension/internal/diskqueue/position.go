package diskqueue

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
)

const (
	positionName = "position"
	// slotSize is one saved position: generation, segment, offset, checksum.
	slotSize = 28
	// slotStride puts the two slots in different pages, so that writing
	// back the page of one slot can never tear the other.
	slotStride = 4096
)

// position is where the reader resumes: the oldest unconsumed record is at
// off in segment seq, or, if that segment is gone, at the start of the next
// one on disk.
type position struct {
	gen uint64 // save count; the higher valid slot wins
	seq uint64
	off int64
}

func slotOffset(gen uint64) int64 { return int64(gen%2) * slotStride }

func encodeSlot(b *[slotSize]byte, p position) {
	binary.LittleEndian.PutUint64(b[0:], p.gen)
	binary.LittleEndian.PutUint64(b[8:], p.seq)
	binary.LittleEndian.PutUint64(b[16:], uint64(p.off))
	binary.LittleEndian.PutUint32(b[24:], crc32.Checksum(b[:24], castagnoli))
}

func decodeSlot(b *[slotSize]byte) (position, bool) {
	if binary.LittleEndian.Uint32(b[24:]) != crc32.Checksum(b[:24], castagnoli) {
		return position{}, false
	}
	p := position{
		gen: binary.LittleEndian.Uint64(b[0:]),
		seq: binary.LittleEndian.Uint64(b[8:]),
		off: int64(binary.LittleEndian.Uint64(b[16:])),
	}
	// A checksum can match by chance; a position no save can produce is
	// treated as missing.
	if p.seq == 0 || p.seq == math.MaxUint64 || p.off < 0 {
		return position{}, false
	}
	return p, true
}

// readPosition returns the newest valid slot of f, if any. Short or
// unreadable slots are invalid, never errors: the queue then starts over.
func readPosition(f *os.File) (position, bool) {
	var best position
	found := false
	for i := range int64(2) {
		var b [slotSize]byte
		if _, err := f.ReadAt(b[:], i*slotStride); err != nil {
			continue
		}
		if p, ok := decodeSlot(&b); ok && (!found || p.gen > best.gen) {
			best, found = p, true
		}
	}
	return best, found
}

// savePosition writes the read position into the older slot. With
// SyncInterval 0 it also waits for it to be durable; otherwise the
// background sync makes it durable. A slot write of 28 bytes within one
// page reaches the page cache whole, so a SIGKILL cannot tear it.
func (q *Queue) savePosition(seq uint64, off int64) error {
	q.positionMu.Lock()
	defer q.positionMu.Unlock()
	if q.positionFile == nil {
		return ErrClosed
	}
	q.positionGen++
	encodeSlot(&q.positionSlot, position{gen: q.positionGen, seq: seq, off: off})
	if _, err := q.positionFile.WriteAt(q.positionSlot[:], slotOffset(q.positionGen)); err != nil {
		return fmt.Errorf("cannot save the read position: %w", err)
	}
	if q.syncInterval > 0 {
		q.savesWritten++
		return nil
	}
	if err := q.positionFile.Sync(); err != nil {
		return fmt.Errorf("cannot sync the read position: %w", err)
	}
	return nil
}

// syncPosition makes the last saved position durable. The fsync runs
// outside positionMu so that a Commit does not wait for it.
func (q *Queue) syncPosition() error {
	q.positionMu.Lock()
	f, written := q.positionFile, q.savesWritten
	dirty := f != nil && written != q.savesSynced
	q.positionMu.Unlock()
	if !dirty {
		return nil
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("cannot sync the read position: %w", err)
	}
	q.positionMu.Lock()
	q.savesSynced = max(q.savesSynced, written)
	q.positionMu.Unlock()
	return nil
}
