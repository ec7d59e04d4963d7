package diskqueue

import (
	"fmt"
	"os"
)

// Append adds data as the newest record. When it returns nil the record
// is in the queue (durable as SyncInterval says) and data may be reused.
//
// On error nothing of the record is left on disk and the queue remains
// usable: a full disk makes Append fail, never wait, and Appends succeed
// again once there is room. Disk errors are wrapped, so
// errors.Is(err, syscall.ENOSPC) works. Oldest segments dropped to make
// room for the record stay dropped even if writing it then fails.
func (q *Queue) Append(data []byte) error {
	if int64(len(data)) > q.maxBytes/2 {
		return ErrTooLarge
	}
	n := headerSize + int64(len(data))
	q.writerMu.Lock()
	defer q.writerMu.Unlock()
	q.mu.Lock()
	closed := q.closed
	q.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if q.tailDirty {
		if err := q.writerFile.Truncate(q.writerOffset); err != nil {
			return fmt.Errorf("cannot remove a partial record from %s: %w", q.writerFile.Name(), err)
		}
		q.tailDirty = false
	}
	unixNano := q.now().UnixNano()

	var next *os.File // the new segment, when the record starts one
	f, off := q.writerFile, q.writerOffset
	if q.writerOffset > 0 && (q.writerOffset+n > q.segmentBytes || q.caughtUp()) {
		var err error
		if next, err = q.startSegment(); err != nil {
			return err
		}
		f, off = next, 0
	}
	q.dropOldest(n)
	if next != nil && q.writerDropped() {
		// No going back to a deleted segment, and its open handle would
		// keep its space: the new segment is the writer's from now on.
		_ = q.writerFile.Close()
		q.writerFile, q.writerOffset, next = next, 0, nil
	}
	if err := q.writeRecord(f, off, unixNano, data); err != nil {
		q.undoAppend(next)
		return err
	}
	if next != nil {
		if q.syncInterval > 0 {
			// Its last records still await the background sync, which
			// reopens it rather than making this Append wait for an fsync
			// (or keeping a handle that would hold a dropped file's space).
			q.sealedToSync = append(q.sealedToSync, q.writerSeq)
		}
		_ = q.writerFile.Close()
		q.writerFile = next
	}
	q.writerOffset = off + n
	q.appendsWritten++
	if q.syncInterval == 0 {
		q.appendsSynced = q.appendsWritten
	}

	q.mu.Lock()
	s := &q.segments[len(q.segments)-1]
	q.writerSeq = s.seq
	if s.records == 0 {
		s.firstTime = unixNano
	}
	s.size += n
	s.records++
	q.fileBytes += n
	q.records++
	q.publishStatsLocked()
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return nil
}

// writeRecord writes the record at off in f, fsynced if SyncInterval is 0.
func (q *Queue) writeRecord(f *os.File, off, unixNano int64, data []byte) error {
	putHeader(&q.writerHeader, unixNano, data)
	if _, err := f.WriteAt(q.writerHeader[:], off); err != nil {
		return fmt.Errorf("cannot append record: %w", err)
	}
	if _, err := f.WriteAt(data, off+headerSize); err != nil {
		return fmt.Errorf("cannot append record: %w", err)
	}
	if q.syncInterval == 0 {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("cannot sync appended record: %w", err)
		}
	}
	return nil
}

// caughtUp tells whether the reader has consumed the whole of the
// writer's segment and that segment is worth deleting: starting the next
// one then gives the space back now (which a full disk needs) instead of
// when the segment fills. Below SegmentBytes/4 it is not worth a new file.
func (q *Queue) caughtUp() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.segments) == 1 && q.commitOffset == q.writerOffset && q.writerOffset >= q.segmentBytes/4
}

// startSegment creates the next segment and lists it, empty, after the
// writer's. The writer's segment stays the writer's (writerSeq) until the
// record is written, so that the reader does not delete it meanwhile and
// a failed write can fall back to it.
func (q *Queue) startSegment() (*os.File, error) {
	q.mu.Lock()
	seq := q.writerSeq + 1
	q.mu.Unlock()
	f, err := q.createSegment(seq, q.syncInterval == 0)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	q.segments = append(q.segments, segment{seq: seq})
	q.mu.Unlock()
	return f, nil
}

// writerDropped tells whether dropOldest deleted the writer's segment to
// make room in the next one, and if so makes the next one the writer's.
func (q *Queue) writerDropped() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.segments) >= 2 && q.segments[len(q.segments)-2].seq == q.writerSeq {
		return false
	}
	q.writerSeq = q.segments[len(q.segments)-1].seq
	return true
}

// undoAppend removes what a failed writeRecord may have left: bytes past
// writerOffset, or the new segment next.
func (q *Queue) undoAppend(next *os.File) {
	if next == nil {
		if err := q.writerFile.Truncate(q.writerOffset); err != nil {
			q.tailDirty = true
		}
		return
	}
	q.mu.Lock()
	q.segments = q.segments[:len(q.segments)-1]
	q.mu.Unlock()
	_ = next.Close()
	_ = os.Remove(next.Name())
}

// dropOldest deletes the oldest segments, never the last listed, until a
// record of n bytes fits within MaxBytes, and reports what they held. A
// consumed segment in the way goes regardless (unreported), so that its
// space is back before the write.
func (q *Queue) dropOldest(n int64) {
	var records, bytes int64
	q.droppedSeqs = q.droppedSeqs[:0]
	q.mu.Lock()
	for len(q.segments) > 1 {
		s := q.segments[0]
		consumed := q.commitOffset == s.size
		if !consumed && q.fileBytes+n <= q.maxBytes {
			break
		}
		if !consumed {
			records += s.records
			bytes += s.size - q.commitOffset - q.dropInFlightLocked(s.seq)
		}
		q.popLocked()
		q.droppedSeqs = append(q.droppedSeqs, s.seq)
		// Damage skipped at the start of the next segment needs no Commit
		// now that nothing before it is in flight.
		q.settleLocked(&q.droppedSeqs)
	}
	if len(q.droppedSeqs) > 0 {
		q.publishStatsLocked()
	}
	q.mu.Unlock()
	if len(q.droppedSeqs) == 0 {
		return
	}
	for _, seq := range q.droppedSeqs {
		// A segment that cannot be deleted is forgotten all the same (the
		// next Open finds it again): Append has no better use for the error.
		_ = os.Remove(q.segmentPath(seq))
	}
	if q.syncInterval == 0 {
		// Otherwise power loss could bring a dropped segment back, and the
		// reader, whose saved position may still be in it, would deliver
		// its records again. Best effort: the drop itself has happened.
		_ = syncDir(q.dir)
	}
	if records > 0 || bytes > 0 {
		q.onDrop(DropQueueFull, int(records), bytes)
	}
}
