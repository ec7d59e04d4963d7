package diskqueue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// Next returns the oldest record it has not yet returned since Open,
// waiting for an Append if there is none: successive calls return
// successive records, each once, without waiting for Commit. The records
// returned and not yet committed are in flight; Commit consumes them,
// oldest first. A new Open starts again at the oldest unconsumed record,
// so the records that were in flight are returned again.
//
// Each record in flight keeps its own read buffer (see Record.Data): the
// consumer bounds the memory held by bounding the records in flight.
//
// It returns ctx.Err() once ctx is done, and ErrClosed once the queue is
// closed, even while waiting. Damage it meets is skipped and reported
// (DropCorrupt), never returned. Any other error is an I/O error (such as
// running out of file descriptors) that left the queue as it was: Next may
// be called again.
//
// Next is called from one goroutine at a time, which may run concurrently
// with Commit's (see the package documentation, Concurrency).
func (q *Queue) Next(ctx context.Context) (Record, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Record{}, err
		}
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return Record{}, ErrClosed
		}
		s := q.segments[q.cursorIndex]
		switch {
		case q.cursorOffset < s.size:
			r, err := q.readLocked(s)
			q.mu.Unlock()
			if !errors.Is(err, errRetry) {
				return r, err
			}
		case s.seq < q.writerSeq && len(q.inFlight) > 0:
			// Read to its end and sealed, but not consumed: the segment
			// stays until the records in flight are committed.
			q.cursorIndex++
			q.cursorOffset = 0
			q.mu.Unlock()
		case s.seq < q.writerSeq:
			// Consumed and sealed (the cursor is the commit position):
			// move on. The saved position may still name it; Open then
			// starts at the next segment, the same place.
			q.popLocked()
			q.publishStatsLocked()
			q.mu.Unlock()
			_ = os.Remove(q.segmentPath(s.seq))
		default:
			q.mu.Unlock()
			select {
			case <-ctx.Done():
				return Record{}, ctx.Err()
			case <-q.closing:
				return Record{}, ErrClosed
			case <-q.notify:
			}
		}
	}
}

// errRetry tells Next that the state changed while it read: look again.
var errRetry = errors.New("retry")

// readLocked reads the record at the cursor in s (segments[cursorIndex]),
// puts it in flight and moves the cursor past it. It releases mu while
// reading, so that Appends and Stats go on, and returns errRetry if the
// queue changed meanwhile or the record was damaged (and skipped).
func (q *Queue) readLocked(s segment) (Record, error) {
	f, err := q.readerFileLocked()
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			q.skipLocked()
			return Record{}, errRetry
		}
		return Record{}, fmt.Errorf("cannot open segment: %w", err)
	}
	off := q.cursorOffset
	buf := q.takeBufferLocked()
	q.mu.Unlock()
	h, err := readRecord(f, &q.readerHeader, &buf, off, s.size)
	q.mu.Lock()
	switch {
	case q.closed:
		return Record{}, ErrClosed
	case q.segments[q.cursorIndex].seq != s.seq || q.cursorOffset != off:
		q.putBufferLocked(buf)
		return Record{}, errRetry // dropped (and f perhaps closed) meanwhile
	case errors.Is(err, errCorrupt):
		q.putBufferLocked(buf)
		q.skipLocked()
		return Record{}, errRetry
	case err != nil:
		q.putBufferLocked(buf)
		return Record{}, fmt.Errorf("cannot read segment %d: %w", s.seq, err)
	}
	r := span{seq: s.seq, size: headerSize + h.size, time: h.time, buf: buf}
	q.inFlight = append(q.inFlight, r)
	q.cursorOffset += r.size
	return Record{Data: buf[:h.size], Time: time.Unix(0, h.time)}, nil
}

// readerFileLocked returns the reader's handle on segments[cursorIndex],
// opening it if the cursor moved. The reader has its own handle so that it
// neither shares an offset with the writer nor keeps a dropped segment's
// space.
func (q *Queue) readerFileLocked() (*os.File, error) {
	seq := q.segments[q.cursorIndex].seq
	if q.readerFile != nil && q.readerSeq == seq {
		return q.readerFile, nil
	}
	if q.readerFile != nil {
		_ = q.readerFile.Close()
		q.readerFile = nil
	}
	f, err := os.Open(q.segmentPath(seq))
	if err != nil {
		return nil, err
	}
	q.readerFile, q.readerSeq = f, seq
	return f, nil
}

// skipLocked skips the rest of the cursor's segment, reporting it as
// damage. The commit position passes it at once if nothing is in flight,
// else once the records before it are committed. The report is made with
// mu held: OnDrop must be cheap.
func (q *Queue) skipLocked() {
	s := &q.segments[q.cursorIndex]
	var beforeDamage int64 // records in flight before the damage in s, still counted
	for i := len(q.inFlight) - 1; i >= 0 && q.inFlight[i].seq == s.seq; i-- {
		if !q.inFlight[i].skipped {
			beforeDamage++
		}
	}
	records, bytes := s.records-beforeDamage, s.size-q.cursorOffset
	q.records -= records
	s.records = beforeDamage
	if len(q.inFlight) > 0 {
		q.inFlight = append(q.inFlight, span{seq: s.seq, size: bytes, skipped: true})
		q.skippedBytes += bytes
	} else {
		q.commitOffset = s.size
	}
	q.cursorOffset = s.size
	q.publishStatsLocked()
	q.onDrop(DropCorrupt, int(records), bytes)
}

// popLocked forgets segments[0] (the caller deletes its file) and moves
// the commit position to the start of the next segment, and the cursor too
// if it was in segments[0]. Spans of segments[0] in inFlight are the
// caller's concern.
func (q *Queue) popLocked() {
	s := q.segments[0]
	q.fileBytes -= s.size
	q.records -= s.records
	copy(q.segments, q.segments[1:])
	q.segments = q.segments[:len(q.segments)-1]
	q.commitOffset = 0
	if q.cursorIndex > 0 {
		q.cursorIndex--
	} else {
		q.cursorOffset = 0
	}
	if q.readerFile != nil && q.readerSeq == s.seq {
		// Closing frees the space of a dropped segment now, not when the
		// consumer comes back.
		_ = q.readerFile.Close()
		q.readerFile = nil
	}
}

// settleLocked moves the commit position past what needs no Commit: the
// damage skipped right after it, and sealed segments it has reached the
// end of, which it pops and lists in *popped for the caller to delete.
func (q *Queue) settleLocked(popped *[]uint64) {
	for {
		s := q.segments[0]
		switch {
		case q.commitOffset >= s.size && s.seq < q.writerSeq:
			*popped = append(*popped, s.seq)
			q.popLocked()
		case len(q.inFlight) > 0 && q.inFlight[0].skipped:
			q.commitOffset += q.inFlight[0].size
			q.skippedBytes -= q.inFlight[0].size
			q.removeInFlightLocked(1)
		default:
			return
		}
	}
}

// Commit consumes the oldest record in flight: the commit position moves
// past it (and past any damage Next skipped after it) and is saved
// (fsynced if SyncInterval is 0), and segments fully consumed are deleted.
// It does nothing if no record is in flight, or if MaxBytes dropped that
// record after Next returned it.
//
// The position moves in memory even if saving it fails: the error is
// returned to be counted or logged, and the next successful save (or a
// re-delivery after a restart) makes up for it.
//
// Commit is called from one goroutine at a time, which may run
// concurrently with Next's (see the package documentation, Concurrency).
func (q *Queue) Commit() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	if q.droppedInFlight > 0 {
		q.droppedInFlight--
		q.mu.Unlock()
		return nil
	}
	if len(q.inFlight) == 0 {
		q.mu.Unlock()
		return nil
	}
	r := q.inFlight[0]
	q.removeInFlightLocked(1)
	q.putBufferLocked(r.buf)
	q.commitOffset += r.size
	q.segments[0].records--
	q.records--
	q.consumedSeqs = q.consumedSeqs[:0]
	q.settleLocked(&q.consumedSeqs)
	s := &q.segments[0]
	switch {
	case len(q.inFlight) > 0:
		s.firstTime = q.inFlight[0].time
	case s.records > 0:
		q.peekFirstLocked()
	}
	seq, off := s.seq, q.commitOffset
	q.publishStatsLocked()
	q.mu.Unlock()

	// Save before deleting: a crash in between leaves consumed segments
	// that Open deletes, never a position in a deleted segment's place.
	err := q.savePosition(seq, off)
	for _, seq := range q.consumedSeqs {
		if rerr := os.Remove(q.segmentPath(seq)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("cannot delete consumed segment: %w", rerr))
		}
	}
	return err
}

// peekFirstLocked reads the time of the record at the commit position for
// Stats.Oldest, when nothing is in flight. The header is not verified yet:
// a damaged one only skews the statistic until the reader gets there.
func (q *Queue) peekFirstLocked() {
	s := &q.segments[0]
	if q.readerFile == nil || q.readerSeq != s.seq {
		return
	}
	if h, err := readHeader(q.readerFile, &q.peekHeader, q.commitOffset, s.size); err == nil {
		s.firstTime = h.time
	}
}
