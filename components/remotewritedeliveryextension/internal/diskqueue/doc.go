// Package diskqueue is a durable FIFO of opaque records in a directory,
// bounded in size, that survives SIGKILL and power loss. It holds
// remote-write requests exactly as they are sent (already compressed), so a
// record is written once and read once and never decoded here.
//
// # Files
//
// The directory holds segment files, a position file and a lock file:
//
//   - 00000000000000000001.seg, 00000000000000000002.seg, ...: the records,
//     oldest segment first, each file named by the segment's sequence
//     number (seq). The writer appends to the last segment (the writer's
//     segment) and starts the next one when the current one would grow
//     beyond Options.SegmentBytes. Every other segment is sealed: it never
//     changes again until it is deleted whole, once consumed or when the
//     queue is over Options.MaxBytes.
//   - A record is a 16-byte little-endian header and the data:
//     [u32 len(data)][u32 crc32c(timestamp || data)][i64 unix-nano timestamp][data].
//     The checksum (Castagnoli) covers the timestamp's 8 bytes as stored.
//   - position: where the reader resumes, (segment, offset) of the oldest
//     unconsumed record (the commit position). It has two 28-byte slots,
//     at offsets 0 and 4096:
//     [u64 generation][u64 segment seq][i64 offset][u32 crc32c of the 24 bytes before].
//     The generation (the position generation) counts the saves. Each
//     save overwrites the older slot in place; the valid slot with the
//     higher generation wins, so a torn save costs only itself.
//     Unlike writing a temporary file and renaming it, a save creates no
//     file (Commit allocates nothing) and an unsynced save cannot turn into
//     an empty file after power loss, as a renamed one can on XFS.
//   - lock: flock(2)ed while the queue is open, so that two Opens of one
//     directory fail instead of interleaving records.
//
// # Reading ahead
//
// Next returns the records in order, each once, without waiting for
// Commit: the consumer may keep several in flight (sent and awaiting an
// answer, say). Next reads at the cursor, (segment, offset) of the next
// record it returns, and moves the cursor past it. Commit consumes the
// oldest in flight, so the commit position, the one saved, only moves in
// order. Between the commit position and the cursor lie the records in
// flight and the damage the cursor skipped among them (the skipped
// bytes, see Guarantees), which the commit position passes with the
// Commit of the record in flight before them. Open starts the cursor at
// the commit position again. A record in flight that MaxBytes drops
// stays in flight, and its Commit does nothing.
//
// # Guarantees
//
// "Acknowledged" means Append returned nil; "in flight" means returned by
// Next and not yet consumed by Commit.
//
// After SIGKILL (or any crash of the process alone), whatever
// Options.SyncInterval is: every acknowledged record is delivered, once
// and in order, except that the records in flight at the crash may be
// delivered again (first, in order): at most the records returned and
// not committed. A record whose Append had not returned may or may not be
// delivered.
//
// After power loss (or a kernel crash), with SyncInterval 0: the same as
// SIGKILL, provided the disk honours fsync. With SyncInterval > 0:
// records acknowledged since the last background sync (about one interval)
// may be lost, and records committed since then may be delivered again.
//
// Damage is never delivered: a record whose checksum fails is not
// returned. On Open, a torn or corrupt tail of the last segment is cut.
// The reader skips the rest of any other segment from a damaged record on,
// and the commit position passes it with the Commit of the last record in
// flight before it. Both are reported to Options.OnDrop as DropCorrupt,
// once. A missing or unreadable position file makes the reader start again
// at the oldest segment's first record: everything still on disk is
// delivered again.
//
// # Resources
//
// Nothing of the queue's contents is held in memory beyond the records in
// flight: a buffer each, as large as the largest record it has held, and
// up to four spare buffers that Commit gives back for Next to reuse. Open
// reads the headers of the unconsumed records (to count them) and
// verifies every record of the last segment; other segments are verified
// as they are read. Append, Next and Commit allocate nothing except when a
// segment starts or ends, or no spare buffer fits a record. Commit
// takes time linear in the records in flight, which the consumer is
// expected to keep few.
//
// # Concurrency
//
// Append, Stats and Close are safe for concurrent use. Next and Commit
// belong to a single consumer: Next is called from one goroutine at a
// time and Commit from one goroutine at a time, and the two may run
// concurrently (reading in one goroutine, committing in another). Each has
// scratch state of its own that it uses with the queue's lock released,
// so two concurrent calls of the same one would race. Appends are
// serialised (and, with SyncInterval 0, each waits for its own fsync); the
// consumer reads with its own file handle and never reads beyond the last
// record whose Append has completed.
package diskqueue
