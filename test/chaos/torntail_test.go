//go:build chaos

package chaos

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-eks/otelcol-eks/test/harness/faultproxy"
	"github.com/otelcol-eks/otelcol-eks/test/harness/remotewrite"
	"github.com/otelcol-eks/otelcol-eks/test/harness/synthtarget"
)

// The remote_write_delivery queue on disk, read as its documentation lays
// it out (components/remotewritedeliveryextension/internal/diskqueue/doc.go
// and request.go): the suite reads it from outside, as an operator would,
// to damage a chosen record and know exactly what the damage takes.

// queueHeaderSize is a record's header: [u32 len][u32 crc32c(ts||data)][i64 ts].
const queueHeaderSize = 16

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// queueRecord is one intact record of a segment file.
type queueRecord struct {
	Path string
	Off  int64 // of the header
	Data []byte
}

// readQueueRecords returns the intact records of every segment file in dir,
// oldest first; a segment is read up to its first damaged record.
func readQueueRecords(t testing.TB, dir string) []queueRecord {
	t.Helper()
	entries, err := os.ReadDir(dir) // sorted by name: zero-padded sequence numbers
	require.NoError(t, err)
	var recs []queueRecord
	for _, e := range entries {
		if filepath.Ext(e.Name()) != ".seg" {
			continue
		}
		path := filepath.Join(dir, e.Name())
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		for off := int64(0); off+queueHeaderSize <= int64(len(raw)); {
			size := int64(binary.LittleEndian.Uint32(raw[off:]))
			end := off + queueHeaderSize + size
			if end > int64(len(raw)) {
				break
			}
			sum := crc32.Update(crc32.Update(0, castagnoli, raw[off+8:off+16]), castagnoli, raw[off+16:end])
			if sum != binary.LittleEndian.Uint32(raw[off+4:]) {
				break
			}
			recs = append(recs, queueRecord{Path: path, Off: off, Data: raw[off+queueHeaderSize : end]})
			off = end
		}
	}
	return recs
}

// tear cuts r in the middle of its data, as a write cut by a crash leaves it.
func (r queueRecord) tear(t testing.TB) {
	t.Helper()
	require.NoError(t, os.Truncate(r.Path, r.Off+queueHeaderSize+int64(len(r.Data))/2))
}

// corrupt flips one byte in the middle of r's data, as a bad sector does.
func (r queueRecord) corrupt(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(r.Path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	at := r.Off + queueHeaderSize + int64(len(r.Data))/2
	b := []byte{0}
	_, err = f.ReadAt(b, at)
	require.NoError(t, err)
	b[0] ^= 0xff
	_, err = f.WriteAt(b, at)
	require.NoError(t, err)
}

// scrapes returns the synthetic scrapes whose samples r carries, with how
// many samples of each.
func (r queueRecord) scrapes(t testing.TB) map[scrapeKey]int {
	t.Helper()
	body, err := requestBody(r.Data)
	require.NoError(t, err)
	wr, err := remotewrite.Unmarshal(body)
	require.NoError(t, err)
	out := map[scrapeKey]int{}
	for _, ts := range wr.Timeseries {
		series := remotewrite.Series{Labels: ts.Labels}
		for _, smp := range ts.Samples {
			if seq, ok := synthtarget.SeqOf(series.Name(), series.Label("le"), smp.Value); ok {
				out[scrapeKey{series.Label("pod"), seq}]++
			}
		}
	}
	return out
}

// requestBody returns the remote-write body of a queued request: a version
// byte (1), then the URL, the Host and the headers (a uvarint count, then
// name and value), each string a uvarint length and its bytes; the body is
// the rest.
func requestBody(data []byte) ([]byte, error) {
	if len(data) == 0 || data[0] != 1 {
		return nil, errors.New("not a version 1 queued request")
	}
	rest := data[1:]
	skip := func() bool {
		n, size := binary.Uvarint(rest)
		if size <= 0 || n > uint64(len(rest)-size) {
			return false
		}
		rest = rest[size+int(n):]
		return true
	}
	if !skip() || !skip() { // URL, Host
		return nil, fmt.Errorf("bad URL or Host: %w", io.ErrUnexpectedEOF)
	}
	headers, size := binary.Uvarint(rest)
	if size <= 0 {
		return nil, fmt.Errorf("bad header count: %w", io.ErrUnexpectedEOF)
	}
	rest = rest[size:]
	for range 2 * headers {
		if !skip() {
			return nil, fmt.Errorf("bad header: %w", io.ErrUnexpectedEOF)
		}
	}
	return rest, nil
}

// TestTornTail is the damaged queue: during a backend outage the collector
// is SIGKILLed and the last record of its queue is damaged before the next
// start, twice: first cut in the middle of its data (a write torn by a
// crash or power loss), then with one byte flipped (a bad sector). Each
// start cuts the damage, counts it once
// (otelcol_remote_write_dropped_requests{reason="corrupt"} = 1) and logs
// it, and runs on: no crash. When the backend returns, every scrape of
// every other queued record is delivered; exactly the scrapes of the two
// damaged records are missing (besides what each SIGKILL itself took), and
// Prometheus rejects nothing.
func TestTornTail(t *testing.T) {
	t.Parallel()
	sc := startScenario(t, backendOptions{}, 4, 10, collectorSpec{})
	b, ts, c := sc.b, sc.ts, sc.c
	queueDir := filepath.Join(sc.storage, deliveryID)
	b.set(t, faultproxy.Refuse())

	queued := map[scrapeKey]int{}  // scrapes of the intact records
	damaged := map[scrapeKey]int{} // scrapes of the damaged ones
	var kills []time.Time
	for _, damage := range []struct {
		name string
		do   func(queueRecord, testing.TB)
	}{
		{"torn", queueRecord.tear},
		{"corrupt", queueRecord.corrupt},
	} {
		runFor(t, c, 10*time.Second)
		kills = append(kills, time.Now())
		c.kill()
		recs := readQueueRecords(t, queueDir)
		require.GreaterOrEqual(t, len(recs), 3, "the outage queued too little to damage")
		last := recs[len(recs)-1]
		for _, r := range recs[:len(recs)-1] {
			maps.Copy(queued, r.scrapes(t))
		}
		hit := last.scrapes(t)
		require.NotEmpty(t, hit, "the damaged record holds no synthetic scrape")
		maps.Copy(damaged, hit)
		damage.do(last, t)
		t.Logf("%s killed; %d intact records on disk; last record (%d bytes, %d scrapes) %s",
			kills[len(kills)-1].Format("15:04:05.000"), len(recs)-1, len(last.Data), len(hit), damage.name)

		c = sc.restart(t)
		corrupt := collectorMetric(t, c, "otelcol_remote_write_dropped_requests", "reason", "corrupt")
		lines := c.logCount("damaged data in the queue")
		t.Logf("restarted: %d requests queued, dropped{reason=\"corrupt\"} %.0f, %d log lines", queuedAtStart(t, c), corrupt, lines)
		require.EqualValues(t, 1, corrupt, "%s record: the damage is counted once", damage.name)
		require.Equal(t, 1, lines, "%s record: the damage is logged", damage.name)
	}
	for k := range damaged {
		delete(queued, k)
	}

	runFor(t, c, 5*time.Second)
	b.set(t, faultproxy.Pass())
	runFor(t, c, 5*time.Second)
	s := snapshot(ts)
	lost := func(m missingScrape) bool {
		if _, ok := damaged[scrapeKey{m.Pod, m.Seq}]; ok {
			return true
		}
		for _, k := range kills {
			if inKillWindow(k, m) {
				return true
			}
		}
		return false
	}
	tl := b.waitDelivered(t, s, 2*time.Minute, lost)
	missing := map[scrapeKey]bool{}
	for _, m := range tl.Missing {
		missing[scrapeKey{m.Pod, m.Seq}] = true
		require.True(t, lost(m), "scrape %s lost although it was neither in a damaged record nor in a kill's window", m)
	}
	t.Logf("torn tail, then a corrupt one: %s; %d scrapes in the damaged records, %d in the intact ones", tl, len(damaged), len(queued))
	for k := range damaged {
		require.True(t, missing[k], "scrape %v of a damaged record was delivered: the damage was not where the test put it", k)
	}
	for k := range queued {
		require.False(t, missing[k], "scrape %v of an intact queued record was not delivered", k)
	}
	require.Zero(t, tl.Duplicates)
	require.Zero(t, tl.Unknown)
	b.requireClean(t)
	require.True(t, c.running())
}
