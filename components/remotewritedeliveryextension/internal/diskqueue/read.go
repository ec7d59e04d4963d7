package diskqueue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// Next returns the oldest unconsumed record, waiting for an Append if
// there is none. Until Commit, every Next returns that same record again,
// unless MaxBytes dropped it meanwhile (then Next returns the new oldest).
//
// It returns ctx.Err() once ctx is done, and ErrClosed once the queue is
// closed, even while waiting. Damage it meets is skipped and reported
// (DropCorrupt), never returned. Any other error is an I/O error (such as
// running out of file descriptors) that left the queue as it was: Next may
// be called again.
//
// Next and Commit belong to a single consumer goroutine.
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
		if q.pending {
			r := q.pendingRecord()
			q.mu.Unlock()
			return r, nil
		}
		s := q.segs[0]
		switch {
		case q.roff < s.size:
			r, err := q.readLocked(s)
			q.mu.Unlock()
			if !errors.Is(err, errRetry) {
				return r, err
			}
		case s.seq < q.wseq:
			// Consumed and sealed: move on. The saved position may still
			// name it; Open then starts at the next segment, the same place.
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

// readLocked reads the record at roff in s (segs[0]) and makes it the
// pending one. It releases mu while reading, so that Appends and Stats go
// on, and returns errRetry if the queue changed meanwhile or the record
// was damaged (and skipped).
func (q *Queue) readLocked(s segment) (Record, error) {
	f, err := q.readerFileLocked()
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			q.skipLocked()
			return Record{}, errRetry
		}
		return Record{}, fmt.Errorf("cannot open segment: %w", err)
	}
	off := q.roff
	q.mu.Unlock()
	h, err := readRecord(f, &q.rhdr, &q.rbuf, off, s.size)
	q.mu.Lock()
	switch {
	case q.closed:
		return Record{}, ErrClosed
	case q.segs[0].seq != s.seq || q.roff != off:
		return Record{}, errRetry // dropped (and f perhaps closed) meanwhile
	case errors.Is(err, errCorrupt):
		q.skipLocked()
		return Record{}, errRetry
	case err != nil:
		return Record{}, fmt.Errorf("cannot read segment %d: %w", s.seq, err)
	}
	q.pending = true
	q.pendingLen = headerSize + h.size
	q.rtime = h.time
	return q.pendingRecord(), nil
}

func (q *Queue) pendingRecord() Record {
	return Record{Data: q.rbuf[:q.pendingLen-headerSize], Time: time.Unix(0, q.rtime)}
}

// readerFileLocked returns the reader's handle on segs[0], opening it if
// the reader moved. The reader has its own handle so that it neither
// shares an offset with the writer nor keeps a dropped segment's space.
func (q *Queue) readerFileLocked() (*os.File, error) {
	seq := q.segs[0].seq
	if q.rf != nil && q.rseq == seq {
		return q.rf, nil
	}
	if q.rf != nil {
		_ = q.rf.Close()
		q.rf = nil
	}
	f, err := os.Open(q.segmentPath(seq))
	if err != nil {
		return nil, err
	}
	q.rf, q.rseq = f, seq
	return f, nil
}

// skipLocked skips the rest of segs[0] from roff on, reporting it as
// damage. The report is made with mu held: OnDrop must be cheap.
func (q *Queue) skipLocked() {
	s := &q.segs[0]
	records, bytes := s.records, s.size-q.roff
	q.records -= s.records
	s.records = 0
	q.roff = s.size
	q.publishStatsLocked()
	q.onDrop(DropCorrupt, int(records), bytes)
}

// popLocked forgets segs[0] (the caller deletes its file) and moves the
// reader to the start of the next segment.
func (q *Queue) popLocked() {
	s := q.segs[0]
	q.fileBytes -= s.size
	q.records -= s.records
	copy(q.segs, q.segs[1:])
	q.segs = q.segs[:len(q.segs)-1]
	q.roff = 0
	if q.rf != nil && q.rseq == s.seq {
		// Closing frees the space of a dropped segment now, not when the
		// consumer comes back.
		_ = q.rf.Close()
		q.rf = nil
	}
}

// Commit consumes the record Next returned: the read position moves past
// it and is saved (fsynced if SyncInterval is 0), and a segment fully
// consumed is deleted. It does nothing if there is no such record, or if
// MaxBytes dropped it after Next returned it.
//
// The position moves in memory even if saving it fails: the error is
// returned to be counted or logged, and the next successful save (or a
// re-delivery after a restart) makes up for it.
func (q *Queue) Commit() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	if !q.pending {
		q.mu.Unlock()
		return nil
	}
	q.pending = false
	s := &q.segs[0]
	seq := s.seq
	q.roff += q.pendingLen
	s.records--
	q.records--
	off := q.roff
	consumed := q.roff >= s.size && seq < q.wseq
	switch {
	case consumed:
		q.popLocked()
	case s.records > 0:
		q.peekFirstLocked()
	}
	q.publishStatsLocked()
	q.mu.Unlock()

	// Save before deleting: a crash in between leaves a consumed segment
	// that Open deletes, never a position in a deleted segment's place.
	err := q.savePosition(seq, off)
	if consumed {
		if rerr := os.Remove(q.segmentPath(seq)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("cannot delete consumed segment: %w", rerr))
		}
	}
	return err
}

// peekFirstLocked reads the time of the record at roff for Stats.Oldest.
// The header is not verified yet: a damaged one only skews the statistic
// until the reader gets there.
func (q *Queue) peekFirstLocked() {
	s := &q.segs[0]
	if q.rf == nil || q.rseq != s.seq {
		return
	}
	if h, err := readHeader(q.rf, &q.peek, q.roff, s.size); err == nil {
		s.first = h.time
	}
}
