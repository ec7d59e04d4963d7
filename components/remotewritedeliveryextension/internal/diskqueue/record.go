package diskqueue

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
)

// headerSize is the size of a record's header: length, checksum, timestamp.
const headerSize = 16

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt marks a record that cannot be delivered: its header or data
// is short, or its checksum fails.
var errCorrupt = errors.New("corrupt record")

// header is a record's decoded header.
type header struct {
	size int64 // of the data, without the header
	crc  uint32
	time int64 // unix nanoseconds
}

func putHeader(b *[headerSize]byte, unixNano int64, data []byte) {
	binary.LittleEndian.PutUint32(b[0:], uint32(len(data)))
	binary.LittleEndian.PutUint64(b[8:], uint64(unixNano))
	binary.LittleEndian.PutUint32(b[4:], recordChecksum(b[8:16], data))
}

func parseHeader(b *[headerSize]byte) header {
	return header{
		size: int64(binary.LittleEndian.Uint32(b[0:])),
		crc:  binary.LittleEndian.Uint32(b[4:]),
		time: int64(binary.LittleEndian.Uint64(b[8:])),
	}
}

func recordChecksum(timestamp, data []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, timestamp), castagnoli, data)
}

// readHeader reads the header of the record at off, which must end by end.
func readHeader(f *os.File, b *[headerSize]byte, off, end int64) (header, error) {
	if end-off < headerSize {
		return header{}, errCorrupt
	}
	if _, err := f.ReadAt(b[:], off); err != nil {
		return header{}, readError(err)
	}
	h := parseHeader(b)
	if h.size > end-off-headerSize {
		return header{}, errCorrupt
	}
	return h, nil
}

// readRecord reads and verifies the record at off, which must end by end,
// into *buf (grown as needed). It returns the header; the data is
// (*buf)[:h.size].
func readRecord(f *os.File, b *[headerSize]byte, buf *[]byte, off, end int64) (header, error) {
	h, err := readHeader(f, b, off, end)
	if err != nil {
		return header{}, err
	}
	if int64(cap(*buf)) < h.size {
		*buf = make([]byte, h.size)
	}
	data := (*buf)[:h.size]
	if _, err := f.ReadAt(data, off+headerSize); err != nil {
		return header{}, readError(err)
	}
	if recordChecksum(b[8:16], data) != h.crc {
		return header{}, errCorrupt
	}
	return h, nil
}

// readError classifies a read error: a file shorter than its records (or
// gone) is damage, anything else is an I/O error worth retrying.
func readError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, os.ErrNotExist) {
		return errCorrupt
	}
	return err
}

// verifySegment reads and verifies f's records from off on, up to size.
// It returns where the valid records end, how many there are and the time
// of the first. Only I/O errors are returned; damage just ends the run.
func verifySegment(f *os.File, b *[headerSize]byte, buf *[]byte, off, size int64) (end, records, first int64, err error) {
	for off < size {
		h, err := readRecord(f, b, buf, off, size)
		if errors.Is(err, errCorrupt) {
			break
		}
		if err != nil {
			return off, records, first, err
		}
		if records == 0 {
			first = h.time
		}
		records++
		off += headerSize + h.size
	}
	return off, records, first, nil
}

// countRecords walks f's headers from off on, up to size, without reading
// data: a damaged header ends the walk (the reader skips from there when it
// gets there and reports it). It returns the number of records and the time
// of the first.
func countRecords(f *os.File, b *[headerSize]byte, off, size int64) (records, first int64) {
	for off < size {
		h, err := readHeader(f, b, off, size)
		if err != nil {
			break
		}
		if records == 0 {
			first = h.time
		}
		records++
		off += headerSize + h.size
	}
	return records, first
}
