package diskqueue

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const segmentSuffix = ".seg"

// segment is what the queue knows of one segment file without reading it.
type segment struct {
	seq  uint64
	size int64 // bytes of complete records: the reader never reads beyond
	// records counts the unconsumed records (in flight included): for the
	// first segment, those from the commit position on.
	records   int64
	firstTime int64 // unix-nano time of the first unconsumed record, if records > 0
}

func (q *Queue) segmentPath(seq uint64) string {
	return filepath.Join(q.dir, fmt.Sprintf("%020d%s", seq, segmentSuffix))
}

// listSegments returns the sequence numbers of dir's segment files in
// order. Other files are left alone.
func listSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list %s: %w", dir, err)
	}
	var seqs []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segmentSuffix)
		if !ok || len(name) != 20 || !e.Type().IsRegular() {
			continue
		}
		seq, err := strconv.ParseUint(name, 10, 64)
		if err != nil || seq == 0 {
			continue
		}
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	return seqs, nil
}

// syncDir makes the creation (or removal) of a file in dir durable.
func syncDir(dir string) error {
	if err := syncPath(dir); err != nil {
		return fmt.Errorf("cannot sync directory: %w", err)
	}
	return nil
}

// syncPath fsyncs the file or directory at path through a handle of its
// own: fsync covers the file, whichever handle wrote to it.
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
