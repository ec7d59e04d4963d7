package diskqueue

// span is a stretch of a segment between the commit position and the
// cursor: a record in flight, or damage the cursor skipped. Spans follow
// one another without gaps (but for the ends of segments), so the first
// starts at the commit position.
type span struct {
	seq     uint64
	size    int64  // on disk, header included
	time    int64  // the record's, unix nanoseconds
	buf     []byte // the record's read buffer, whole
	skipped bool   // damage, not a record
}

// maxFree bounds the read buffers kept for reuse, beyond those of the
// records in flight: enough for a consumer that commits a few records
// before it asks for more, without holding a burst's worth for good.
const maxFree = 4

// takeBufferLocked returns a read buffer to reuse, nil if there is none
// (readRecord then makes one).
func (q *Queue) takeBufferLocked() []byte {
	n := len(q.free)
	if n == 0 {
		return nil
	}
	b := q.free[n-1]
	q.free[n-1] = nil
	q.free = q.free[:n-1]
	return b
}

// putBufferLocked keeps b for reuse, if there is room.
func (q *Queue) putBufferLocked(b []byte) {
	if b != nil && len(q.free) < maxFree {
		q.free = append(q.free, b)
	}
}

// removeInFlightLocked removes the n oldest spans from inFlight.
func (q *Queue) removeInFlightLocked(n int) {
	m := copy(q.inFlight, q.inFlight[n:])
	clear(q.inFlight[m:])
	q.inFlight = q.inFlight[:m]
}

// dropInFlightLocked removes from inFlight the spans of segment seq, which
// MaxBytes is dropping: they are its oldest. Their records stay in flight
// for Commit to pass over (droppedInFlight), one no-op Commit each, and
// keep their buffers: the consumer may still read them. It returns the
// skipped bytes among them, already reported.
func (q *Queue) dropInFlightLocked(seq uint64) (skipped int64) {
	n := 0
	for ; n < len(q.inFlight) && q.inFlight[n].seq == seq; n++ {
		if q.inFlight[n].skipped {
			skipped += q.inFlight[n].size
		} else {
			q.droppedInFlight++
		}
	}
	q.skippedBytes -= skipped
	q.removeInFlightLocked(n)
	return skipped
}
