package diskqueue

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The child process of TestKillPoints is this test binary, run again with
// these variables set.
const (
	killDirEnv     = "DISKQUEUE_KILL_DIR"
	killStartEnv   = "DISKQUEUE_KILL_START"
	killConsumeEnv = "DISKQUEUE_KILL_CONSUME"
	killSyncEnv    = "DISKQUEUE_KILL_SYNC"
	killSeedEnv    = "DISKQUEUE_KILL_SEED" // set by hand to replay a failure
)

const killAppends = 300 // per child

// numbered is record n's data: n, then bytes derived from n, of a length
// that varies with n so that records straddle segments unevenly.
func numbered(n int) []byte {
	b := make([]byte, 8+(n*37)%500)
	binary.LittleEndian.PutUint64(b, uint64(n))
	for i := 8; i < len(b); i++ {
		b[i] = byte(n*31 + i)
	}
	return b
}

// killChild appends numbered records and consumes some, reporting each
// step on stdout, one line each: "T n" before Append(n), "A n" once it
// returned nil, "D n" when Next delivered n, "C n" once Commit returned
// nil, "X n" for a delivered record whose data is not numbered(n), and
// "R n" when Open cut n bytes of a torn tail.
func killChild(t *testing.T, dir string) {
	start, _ := strconv.Atoi(os.Getenv(killStartEnv))
	consume, _ := strconv.Atoi(os.Getenv(killConsumeEnv))
	syncInterval, _ := time.ParseDuration(os.Getenv(killSyncEnv))
	var mu sync.Mutex
	emit := func(event byte, n int) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, "%c %d\n", event, n)
	}
	onDrop := func(reason DropReason, _ int, bytes int64) {
		if reason == DropCorrupt {
			emit('R', int(bytes))
		} else {
			emit('Q', int(bytes)) // never: MaxBytes is far away
		}
	}
	q, err := Open(Options{Dir: dir, MaxBytes: 64 << 20, SegmentBytes: 4 << 10, SyncInterval: syncInterval, OnDrop: onDrop})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for range consume {
			r, err := q.Next(context.Background())
			if err != nil {
				return // closed
			}
			n := int(binary.LittleEndian.Uint64(r.Data))
			if len(r.Data) < 8 || !bytes.Equal(r.Data, numbered(n)) {
				emit('X', n)
			}
			emit('D', n)
			if q.Commit() != nil {
				return
			}
			emit('C', n)
		}
	})
	for n := start; n < start+killAppends; n++ {
		emit('T', n)
		if err := q.Append(numbered(n)); err != nil {
			t.Fatal(err)
		}
		emit('A', n)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

// killHistory is what the children reported, across runs.
type killHistory struct {
	tried, acked map[int]bool
	lastTried    map[int]bool // the last record each run tried to append
	delivered    []int
	// committed and firstOfRun are indexes in delivered: deliveries
	// committed, and deliveries that start a run.
	committed, firstOfRun map[int]bool
	maxTried              int
	tornTails             int
}

func (h *killHistory) add(event byte, n int, runStart *bool) error {
	switch event {
	case 'T':
		h.tried[n] = true
		h.maxTried = max(h.maxTried, n)
	case 'A':
		h.acked[n] = true
	case 'D':
		if !h.tried[n] {
			return fmt.Errorf("record %d delivered but never appended", n)
		}
		if *runStart {
			h.firstOfRun[len(h.delivered)] = true
			*runStart = false
		}
		h.delivered = append(h.delivered, n)
	case 'C':
		if i := len(h.delivered) - 1; i < 0 || h.delivered[i] != n {
			return fmt.Errorf("record %d committed but not the last delivered", n)
		} else {
			h.committed[i] = true
		}
	case 'X':
		return fmt.Errorf("record %d delivered with wrong data", n)
	case 'R':
		h.tornTails++
	case 'Q':
		return fmt.Errorf("%d bytes dropped for MaxBytes", n)
	default:
		return fmt.Errorf("unknown event %c", event)
	}
	return nil
}

// check asserts the guarantee: every acknowledged record delivered, in
// order, exactly once, except that the first record a run delivers may be
// the previous run's last if that one was not committed.
func (h *killHistory) check() error {
	seen := map[int]bool{}
	for i, n := range h.delivered {
		if i > 0 {
			prev := h.delivered[i-1]
			switch {
			case n > prev:
			case n == prev && h.firstOfRun[i] && !h.committed[i-1]:
			default:
				return fmt.Errorf("delivery %d: record %d after %d (committed: %v, first of its run: %v)",
					i, n, prev, h.committed[i-1], h.firstOfRun[i])
			}
		}
		seen[n] = true
	}
	for n := range h.tried {
		switch {
		case seen[n]:
		case h.acked[n]:
			return fmt.Errorf("acknowledged record %d never delivered", n)
		case !h.lastTried[n]:
			return fmt.Errorf("record %d lost: its Append did not return, but it was not the last one tried", n)
		}
	}
	return nil
}

// TestKillPoints SIGKILLs a child appending and consuming at random moments,
// twenty times on one directory, then drains what is left and checks the
// whole history.
func TestKillPoints(t *testing.T) {
	if dir := os.Getenv(killDirEnv); dir != "" {
		killChild(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("spawns processes")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(killSeedEnv); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (%s=%d repeats the quotas and kill points, not the timing)", seed, killSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	dir := t.TempDir()
	h := &killHistory{
		tried: map[int]bool{}, acked: map[int]bool{}, committed: map[int]bool{},
		lastTried: map[int]bool{}, firstOfRun: map[int]bool{},
	}
	kills := 0
	for run := range 20 {
		syncInterval := "0s"
		if run%2 == 1 {
			syncInterval = "5ms"
		}
		lastTried, killed, err := killRun(t, h, dir, syncInterval, rng)
		if err != nil {
			t.Fatalf("run %d: %s", run, err)
		}
		if lastTried >= 0 {
			h.lastTried[lastTried] = true
		}
		if killed {
			kills++
		}
	}

	var d drops
	q := mustOpen(t, Options{Dir: dir, MaxBytes: 64 << 20, SegmentBytes: 4 << 10, OnDrop: d.onDrop})
	if records, bytes := d.get(DropQueueFull); records != 0 || bytes != 0 {
		t.Fatalf("%d records dropped for MaxBytes", records)
	}
	if _, bytes := d.get(DropCorrupt); bytes > 0 {
		h.tornTails++
	}
	runStart := true
	for q.Stats().Records > 0 {
		r := mustNext(t, q)
		n := int(binary.LittleEndian.Uint64(r.Data))
		if !bytes.Equal(r.Data, numbered(n)) {
			t.Fatalf("record %d delivered with wrong data", n)
		}
		if err := h.add('D', n, &runStart); err != nil {
			t.Fatal(err)
		}
		mustCommit(t, q)
	}
	if err := h.check(); err != nil {
		t.Fatal(err)
	}
	again := 0
	for i := 1; i < len(h.delivered); i++ {
		if h.delivered[i] == h.delivered[i-1] {
			again++
		}
	}
	t.Logf("%d of 20 children killed, %d torn tails cut on reopening; %d records tried, %d acknowledged, %d deliveries, %d of them again",
		kills, h.tornTails, len(h.tried), len(h.acked), len(h.delivered), again)
}

// killRun runs one child and SIGKILLs it after a random number of reported
// steps or a random time (or lets it finish), feeding its report to h. It
// returns the last record the child tried to append (-1 if none).
func killRun(t *testing.T, h *killHistory, dir, syncInterval string, rng *rand.Rand) (lastTried int, killed bool, err error) {
	start := h.maxTried + 1
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillPoints$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		killDirEnv+"="+dir,
		killStartEnv+"="+strconv.Itoa(start),
		killConsumeEnv+"="+strconv.Itoa(rng.IntN(2*killAppends)),
		killSyncEnv+"="+syncInterval,
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return -1, false, err
	}
	if err := cmd.Start(); err != nil {
		return -1, false, err
	}
	var once sync.Once
	kill := func() { once.Do(func() { killed = true; _ = cmd.Process.Kill() }) }
	killAfter := -1 // steps; -1: by time
	if rng.IntN(2) == 0 {
		killAfter = rng.IntN(3 * killAppends)
	} else {
		timer := time.AfterFunc(time.Duration(rng.IntN(60))*time.Millisecond, kill)
		defer timer.Stop()
	}

	lastTried = -1
	runStart := true
	var other []string // what else the child printed, for a failure message
	sc := bufio.NewScanner(stdout)
	for steps := 0; sc.Scan(); {
		line := sc.Text()
		event, arg, ok := strings.Cut(line, " ")
		n, nerr := strconv.Atoi(arg)
		if !ok || len(event) != 1 || nerr != nil {
			other = append(other, line)
			continue
		}
		if err == nil {
			err = h.add(event[0], n, &runStart)
		}
		if event[0] == 'T' {
			lastTried = n
		}
		if steps++; steps == killAfter {
			kill()
		}
	}
	werr := cmd.Wait()
	once.Do(func() {}) // no kill from here on: killed is final
	var exit *exec.ExitError
	if werr != nil && !(killed && errors.As(werr, &exit)) {
		return lastTried, killed, fmt.Errorf("child failed: %v\n%s\n%s", werr, strings.Join(other, "\n"), stderr.String())
	}
	return lastTried, killed, err
}
