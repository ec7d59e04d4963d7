package diskqueue

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures Open.
type Options struct {
	// Dir is the queue's own directory, created (mode 0o750) if missing.
	// Nothing else may write into it.
	Dir string
	// MaxBytes bounds the total size of the segment files, consumed or
	// not. An Append that would go beyond it first deletes the oldest
	// segments, whole, reporting their unconsumed records as DropQueueFull.
	// A directory holding more (left by a run with a larger bound) is
	// accepted and trimmed by the next Append. At least 32.
	MaxBytes int64
	// SegmentBytes is the size of a segment file: a record that would take
	// the writer's segment beyond it starts a new one (a larger record gets
	// a segment of its own). A record also starts a new segment when the
	// reader has consumed all of the writer's segment and it holds
	// SegmentBytes/4 or more, so that consumed space comes back without
	// waiting for the segment to fill (a full disk needs it back).
	// Dropping and deleting work a segment at a time, so it must be
	// positive and at most MaxBytes/4.
	SegmentBytes int64
	// SyncInterval chooses durability against latency. 0: Append returns
	// only after its record is fsynced, and Commit after the position is.
	// > 0: nothing waits for fsync; a background goroutine fsyncs written
	// records and the position every interval, and Close does (see the
	// package documentation for what power loss can then cost).
	SyncInterval time.Duration
	// Now stamps each record (Record.Time, Stats.Oldest); time.Now if nil.
	Now func() time.Time
	// OnDrop is told of every loss the queue causes by itself; nil
	// ignores them. Open, Append and Next call it with internal locks
	// held: it must be cheap (count, don't log) and must not call the
	// Queue.
	OnDrop func(reason DropReason, records int, bytes int64)
}

// DropReason says why the queue lost records (Options.OnDrop).
type DropReason string

const (
	// DropQueueFull: the oldest segments were deleted to stay within
	// MaxBytes. records and bytes are what they held unconsumed, records
	// in flight (returned by Next, not yet committed) included.
	DropQueueFull DropReason = "queue_full"
	// DropCorrupt: a torn or corrupt record and what follows it in its
	// segment were cut (the last segment, on Open) or skipped (any other
	// segment, when the reader gets there). bytes is their size; records counts
	// the records believed to be there, 0 when unknown (damage can hide
	// record boundaries). A torn tail cut on Open counts as 1 record: it
	// is normally the one Append a crash interrupted.
	DropCorrupt DropReason = "corrupt"
)

var (
	// ErrClosed is returned by every method but Stats and Close once Close
	// has been called, and by a Next that Close unblocked.
	ErrClosed = errors.New("diskqueue: closed")
	// ErrLocked is returned by Open, wrapped, when another process holds
	// the directory's lock: a second queue on one directory is refused.
	// Only where flock(2) exists (lock_flock.go; lock_other.go never
	// returns it).
	ErrLocked = errors.New("locked by another process")
	// ErrTooLarge is returned by Append for data longer than MaxBytes/2:
	// storing it would drop half the queue or more.
	ErrTooLarge = errors.New("diskqueue: record larger than MaxBytes/2")
)

// Record is one record as Next returns it.
type Record struct {
	// Data is the appended bytes. It aliases a read buffer of the queue's
	// own, one per record in flight: valid until the Commit that consumes
	// this record (or the no-op Commit that stands for it, if MaxBytes
	// dropped it), or Close.
	Data []byte
	// Time is when the record was appended (Options.Now).
	Time time.Time
}

// Stats describes the unconsumed records, those in flight included.
type Stats struct {
	Bytes   int64     // their size on disk, headers included
	Records int64     // how many (damage not yet reached by the reader can make it too high; skipping it corrects it)
	Oldest  time.Time // Time of the oldest; zero when there are none
}

// noOldest stands for "no unconsumed record" in Queue.statOldest.
const noOldest = math.MinInt64

// Queue is a durable FIFO of records on disk. See the package
// documentation for its contract and its terms (commit position, cursor,
// records in flight, skipped bytes, position generation), which the
// fields below are named after; Open makes one.
type Queue struct {
	dir          string
	maxBytes     int64
	segmentBytes int64
	syncInterval time.Duration
	now          func() time.Time
	onDrop       func(DropReason, int, int64)
	lockFile     *os.File // flock(2)ed while open

	notify   chan struct{} // one token: an Append completed since Next last looked
	closing  chan struct{} // closed by Close
	syncDone chan struct{} // closed when the background sync has stopped

	// Stats, readable without any lock.
	statBytes, statRecords, statOldest atomic.Int64

	// writerMu serialises writers. It guards the writer's file and what
	// goes with it.
	writerMu     sync.Mutex
	writerFile   *os.File // the writer's segment (the last), open for writing
	writerOffset int64    // where writerFile's next record goes: the end of its complete records
	writerHeader [headerSize]byte
	tailDirty    bool // a failed Append left bytes past writerOffset that truncation could not remove
	// appendsWritten counts the Appends since Open; appendsSynced is its
	// value at the last fsync of writerFile, so the background sync
	// knows whether it has work.
	appendsWritten, appendsSynced uint64
	sealedToSync                  []uint64 // the writer's previous segments, awaiting the background sync
	syncing                       []uint64 // sealed segments the background sync is working on
	dirDirty                      bool     // a segment was created since the background sync last synced the directory
	droppedSeqs                   []uint64 // scratch: segments dropped by the current Append

	// mu guards what the writer and the reader share: the segment list,
	// the commit position, the cursor, the records in flight and the
	// reader's file.
	mu        sync.Mutex
	closed    bool
	segments  []segment // oldest first; never empty
	writerSeq uint64    // the writer's segment; segments before it are sealed
	fileBytes int64     // sum of segments' sizes
	records   int64     // sum of segments' unconsumed records
	// The commit position is (segments[0], commitOffset).
	commitOffset int64
	// The cursor is (segments[cursorIndex], cursorOffset).
	cursorIndex  int
	cursorOffset int64
	// inFlight is what lies between the commit position and the cursor,
	// in order: the records in flight and the damage skipped among them.
	// Empty, the cursor is the commit position (cursorIndex 0,
	// cursorOffset commitOffset); else inFlight[0] is a record at
	// commitOffset in segments[0].
	inFlight        []span
	skippedBytes    int64    // the skipped bytes: the size of the damage in inFlight
	droppedInFlight int      // records in flight, older than inFlight's, that MaxBytes dropped
	readerFile      *os.File // the reader's own handle on segments[cursorIndex], once opened
	readerSeq       uint64   // the segment readerFile is open on
	peekHeader      [headerSize]byte
	free            [][]byte // spare read buffers, at most maxFree

	// Commit's own, one goroutine at a time: the segments consumed by the
	// current Commit, filled under mu and deleted after it is released.
	consumedSeqs []uint64

	// Next's own, one goroutine at a time: read into with mu released.
	readerHeader [headerSize]byte

	// positionMu guards the position file.
	positionMu   sync.Mutex
	positionFile *os.File
	positionGen  uint64 // the position generation of the last save
	positionSlot [slotSize]byte
	// savesWritten counts the saves with SyncInterval > 0; savesSynced
	// is its value at the last fsync of positionFile.
	savesWritten, savesSynced uint64
}

// Open opens the queue in opts.Dir, creating it if needed, and prepares it
// as the package documentation says: consumed segments left behind are
// deleted, a damaged tail of the last segment is cut (reported to OnDrop),
// and the unconsumed records are counted from their headers.
func Open(opts Options) (*Queue, error) {
	switch {
	case opts.Dir == "":
		return nil, errors.New("diskqueue: Dir is empty")
	case opts.MaxBytes < 2*headerSize:
		return nil, fmt.Errorf("diskqueue: MaxBytes %d is below %d", opts.MaxBytes, 2*headerSize)
	case opts.SegmentBytes <= 0 || opts.SegmentBytes > opts.MaxBytes/4:
		return nil, fmt.Errorf("diskqueue: SegmentBytes %d is not in [1, MaxBytes/4 = %d]", opts.SegmentBytes, opts.MaxBytes/4)
	case opts.SyncInterval < 0:
		return nil, fmt.Errorf("diskqueue: SyncInterval %v is negative", opts.SyncInterval)
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("cannot create queue directory: %w", err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	q := &Queue{
		dir:          opts.Dir,
		maxBytes:     opts.MaxBytes,
		segmentBytes: opts.SegmentBytes,
		syncInterval: opts.SyncInterval,
		now:          opts.Now,
		onDrop:       opts.OnDrop,
		lockFile:     lock,
		notify:       make(chan struct{}, 1),
		closing:      make(chan struct{}),
		syncDone:     make(chan struct{}),
		free:         make([][]byte, 0, maxFree),
	}
	if q.now == nil {
		q.now = time.Now
	}
	if q.onDrop == nil {
		q.onDrop = func(DropReason, int, int64) {}
	}
	if err := q.load(); err != nil {
		q.closeFiles()
		return nil, fmt.Errorf("cannot open queue in %s: %w", opts.Dir, err)
	}
	if q.syncInterval > 0 {
		go q.syncLoop()
	} else {
		close(q.syncDone)
	}
	return q, nil
}

// load reads the directory's state: position, segments, counts.
func (q *Queue) load() error {
	seqs, err := listSegments(q.dir)
	if err != nil {
		return err
	}
	q.positionFile, err = os.OpenFile(filepath.Join(q.dir, positionName), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("cannot open position file: %w", err)
	}
	pos, posOK := readPosition(q.positionFile)
	q.positionGen = pos.gen
	if posOK {
		// Segments before the position's are consumed; a crash between
		// saving the position and deleting them left them behind.
		for len(seqs) > 0 && seqs[0] < pos.seq {
			if err := os.Remove(q.segmentPath(seqs[0])); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("cannot delete consumed segment: %w", err)
			}
			seqs = seqs[1:]
		}
	}
	if len(seqs) == 0 {
		seq := uint64(1)
		if posOK {
			seq = pos.seq + 1 // never reuse the position's segment number
		}
		f, err := q.createSegment(seq, true)
		if err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("cannot create segment: %w", err)
		}
		seqs = []uint64{seq}
	}
	var commitOffset int64
	if posOK && seqs[0] == pos.seq {
		commitOffset = pos.off
	}
	for i, seq := range seqs {
		if err := q.loadSegment(seq, i == 0, i == len(seqs)-1, &commitOffset); err != nil {
			return err
		}
	}
	q.commitOffset, q.cursorOffset = commitOffset, commitOffset
	q.writerSeq = seqs[len(seqs)-1]
	q.publishStatsLocked()
	return q.initPosition(posOK && pos.seq == seqs[0] && pos.off == commitOffset)
}

// initPosition saves the read position Open settled on, unless the file
// already holds it.
func (q *Queue) initPosition(current bool) error {
	fi, err := q.positionFile.Stat()
	if err != nil {
		return fmt.Errorf("cannot stat position file: %w", err)
	}
	saves := 0
	switch {
	case fi.Size() < slotStride+slotSize:
		// Both slots are written now, so that a save never grows the file:
		// on a full disk it could not.
		saves = 2
	case !current:
		saves = 1
	}
	for range saves {
		if err := q.savePosition(q.segments[0].seq, q.commitOffset); err != nil {
			return err
		}
	}
	if saves > 0 {
		if err := q.positionFile.Sync(); err != nil {
			return fmt.Errorf("cannot sync the read position: %w", err)
		}
	}
	return nil
}

// loadSegment appends seq to q.segments. The reader's segment (first) is
// counted from *commitOffset, which is clamped to its size; the last segment is
// verified whole and a damaged tail cut, and becomes the writer's.
func (q *Queue) loadSegment(seq uint64, first, last bool, commitOffset *int64) error {
	flag := os.O_RDONLY
	if last {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(q.segmentPath(seq), flag, 0)
	if err != nil {
		return fmt.Errorf("cannot open segment: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("cannot stat segment: %w", err)
	}
	s := segment{seq: seq, size: fi.Size()}
	var from int64
	if first {
		*commitOffset = min(*commitOffset, s.size)
		from = *commitOffset
	}
	if !last {
		s.records, s.firstTime = countRecords(f, &q.readerHeader, from, s.size)
		q.addSegment(s)
		return f.Close()
	}
	q.writerFile = f // closed by closeFiles on error
	buf := q.takeBufferLocked()
	end, records, firstTime, err := verifySegment(f, &q.readerHeader, &buf, from, s.size)
	q.putBufferLocked(buf)
	if err != nil {
		return fmt.Errorf("cannot read segment %s: %w", f.Name(), err)
	}
	if end < s.size {
		if err := f.Truncate(end); err != nil {
			return fmt.Errorf("cannot cut damaged tail of %s: %w", f.Name(), err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("cannot sync %s: %w", f.Name(), err)
		}
		q.onDrop(DropCorrupt, 1, s.size-end)
		s.size = end
	}
	s.records, s.firstTime = records, firstTime
	q.writerOffset = s.size
	q.addSegment(s)
	return nil
}

func (q *Queue) addSegment(s segment) {
	q.segments = append(q.segments, s)
	q.fileBytes += s.size
	q.records += s.records
}

// createSegment creates an empty segment file. Its name is made durable
// now if syncNow, else by the background sync.
func (q *Queue) createSegment(seq uint64, syncNow bool) (*os.File, error) {
	name := q.segmentPath(seq)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, fmt.Errorf("cannot create segment: %w", err)
	}
	if !syncNow {
		q.dirDirty = true
		return f, nil
	}
	if err := syncDir(q.dir); err != nil {
		_ = f.Close()
		_ = os.Remove(name)
		return nil, err
	}
	return f, nil
}

// publishStatsLocked copies the counts to the atomics Stats reads.
func (q *Queue) publishStatsLocked() {
	q.statBytes.Store(q.fileBytes - q.commitOffset - q.skippedBytes)
	q.statRecords.Store(q.records)
	oldest := int64(noOldest)
	for i := range q.segments {
		if q.segments[i].records > 0 {
			oldest = q.segments[i].firstTime
			break
		}
	}
	q.statOldest.Store(oldest)
}

// Stats describes the unconsumed records. It takes no lock and does no
// I/O; its three numbers are each current but not taken at one instant.
func (q *Queue) Stats() Stats {
	s := Stats{Bytes: q.statBytes.Load(), Records: q.statRecords.Load()}
	if t := q.statOldest.Load(); t != noOldest {
		s.Oldest = time.Unix(0, t)
	}
	return s
}

// syncLoop is the background sync of SyncInterval > 0.
func (q *Queue) syncLoop() {
	defer close(q.syncDone)
	t := time.NewTicker(q.syncInterval)
	defer t.Stop()
	for {
		select {
		case <-q.closing:
			return
		case <-t.C:
			// There is no one to return an error to: a failed fsync of
			// the current file is retried at the next tick and by Close,
			// which returns its error.
			_ = q.syncData()
			_ = q.syncPosition()
		}
	}
}

// syncData fsyncs the records appended so far, in the writer's current
// and previous files, and the names of new segments. It holds no lock
// during the fsyncs, so Appends go on meanwhile.
func (q *Queue) syncData() error {
	q.writerMu.Lock()
	f, written, dirDirty := q.writerFile, q.appendsWritten, q.dirDirty
	sealed := q.sealedToSync
	q.sealedToSync, q.syncing = q.syncing[:0], sealed // the two slices take turns
	q.dirDirty = false
	dirty := f != nil && written != q.appendsSynced
	q.writerMu.Unlock()
	var errs []error
	for _, seq := range sealed {
		if err := q.syncSegment(seq); err != nil {
			errs = append(errs, err)
		}
	}
	// If the writer moved to a new segment meanwhile, f's segment is in
	// q.sealedToSync and the next round syncs it again: harmless.
	if dirty {
		if err := f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("cannot sync %s: %w", f.Name(), err))
		}
	}
	if dirDirty {
		if err := syncDir(q.dir); err != nil {
			errs = append(errs, err)
		}
	}
	q.writerMu.Lock()
	if len(errs) > 0 {
		q.dirDirty = q.dirDirty || dirDirty
	} else if dirty {
		q.appendsSynced = max(q.appendsSynced, written)
	}
	q.writerMu.Unlock()
	return errors.Join(errs...)
}

// syncSegment fsyncs a segment the writer has left. A segment gone
// meanwhile (consumed or dropped) needs nothing.
func (q *Queue) syncSegment(seq uint64) error {
	err := syncPath(q.segmentPath(seq))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cannot sync segment: %w", err)
	}
	return nil
}

// Close makes everything appended and committed durable, closes the files
// and unblocks Next. Later calls return nil; Appends in progress finish
// first.
func (q *Queue) Close() error {
	q.mu.Lock()
	first := !q.closed
	q.closed = true
	q.mu.Unlock()
	if !first {
		return nil
	}
	close(q.closing)
	<-q.syncDone

	errs := []error{q.syncData(), q.syncPosition()}
	q.writerMu.Lock()
	defer q.writerMu.Unlock()
	errs = append(errs, q.closeFiles())
	return errors.Join(errs...)
}

// closeFiles closes every file the queue holds.
func (q *Queue) closeFiles() error {
	var errs []error
	if q.writerFile != nil {
		errs = append(errs, q.writerFile.Close())
		q.writerFile = nil
	}
	q.mu.Lock()
	if q.readerFile != nil {
		errs = append(errs, q.readerFile.Close())
		q.readerFile = nil
	}
	q.mu.Unlock()
	q.positionMu.Lock()
	if q.positionFile != nil {
		errs = append(errs, q.positionFile.Close())
		q.positionFile = nil
	}
	q.positionMu.Unlock()
	errs = append(errs, q.lockFile.Close())
	return errors.Join(errs...)
}
