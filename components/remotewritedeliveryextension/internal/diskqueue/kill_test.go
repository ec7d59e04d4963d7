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
	killAheadEnv   = "DISKQUEUE_KILL_AHEAD"
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

// killChild appends numbered records and consumes some, keeping up to
// ahead of them in flight and committing the oldest when there are that
// many. It reports each step on stdout, one line each: "T n" before
// Append(n), "A n" once it returned nil, "D n" when Next delivered n,
// "B n" before the Commit of n, "C n" once it returned nil, "X n" for a
// delivered record whose data is not (or no longer) numbered(n), and "R n"
// when Open cut n bytes of a torn tail.
func killChild(t *testing.T, dir string) {
	start, _ := strconv.Atoi(os.Getenv(killStartEnv))
	consume, _ := strconv.Atoi(os.Getenv(killConsumeEnv))
	ahead, _ := strconv.Atoi(os.Getenv(killAheadEnv))
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
		var inFlight []Record
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
			if inFlight = append(inFlight, r); len(inFlight) < ahead {
				continue
			}
			r = inFlight[0]
			n = int(binary.LittleEndian.Uint64(r.Data))
			if !bytes.Equal(r.Data, numbered(n)) {
				emit('X', n)
			}
			emit('B', n)
			if q.Commit() != nil {
				return
			}
			emit('C', n)
			inFlight = inFlight[1:]
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

// killHistory is what the children reported, across runs, checked as it
// comes against the guarantee: every acknowledged record delivered, in
// order, once, except that the records in flight when a run ended (killed
// or not) are delivered again, first and in order, by the next run that
// delivers anything.
type killHistory struct {
	tried, acked, seen map[int]bool
	lastTried          map[int]bool // the last record each run tried to append
	maxTried           int
	tornTails          int
	maxDelivered       int
	// carry: the records in flight when the previous runs ended, to be
	// delivered again; the first may have been committed if its Commit
	// began (carryBegun).
	carry      []int
	carryBegun bool
	// This run's records in flight, and whether the Commit of the first
	// began.
	inFlight []int
	begun    bool
	// Counts for the log: deliveries, deliveries again, and the most
	// records a run delivered again.
	deliveries, again, mostAgain, runAgain int
}

func newKillHistory() *killHistory {
	return &killHistory{
		tried: map[int]bool{}, acked: map[int]bool{}, seen: map[int]bool{},
		lastTried: map[int]bool{}, maxDelivered: -1,
	}
}

func (h *killHistory) add(event byte, n int) error {
	switch event {
	case 'T':
		h.tried[n] = true
		h.maxTried = max(h.maxTried, n)
	case 'A':
		h.acked[n] = true
	case 'D':
		return h.delivered(n)
	case 'B':
		if len(h.inFlight) == 0 || h.inFlight[0] != n {
			return fmt.Errorf("commit of record %d began, but the oldest in flight is %v", n, h.inFlight)
		}
		h.begun = true
	case 'C':
		if len(h.inFlight) == 0 || h.inFlight[0] != n || !h.begun {
			return fmt.Errorf("record %d committed, but the oldest in flight is %v", n, h.inFlight)
		}
		h.inFlight, h.begun = h.inFlight[1:], false
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

func (h *killHistory) delivered(n int) error {
	if !h.tried[n] {
		return fmt.Errorf("record %d delivered but never appended", n)
	}
	if len(h.carry) > 0 && h.carryBegun && n != h.carry[0] {
		h.carry = h.carry[1:] // its Commit completed after all
	}
	h.carryBegun = false
	switch {
	case len(h.carry) > 0:
		if n != h.carry[0] {
			return fmt.Errorf("record %d delivered; want %d again first (in flight when a run ended: %v)", n, h.carry[0], h.carry)
		}
		h.carry = h.carry[1:]
		h.again++
		h.runAgain++
	case n <= h.maxDelivered:
		return fmt.Errorf("record %d delivered again after %d, not in flight when a run ended", n, h.maxDelivered)
	default:
		h.maxDelivered = n
	}
	h.seen[n] = true
	h.deliveries++
	h.inFlight = append(h.inFlight, n)
	return nil
}

// endRun carries the records in flight over to the next run.
func (h *killHistory) endRun() {
	if len(h.inFlight) > 0 {
		h.carry = append(h.inFlight, h.carry...)
		h.carryBegun = h.begun
	}
	h.inFlight, h.begun = nil, false
	h.mostAgain = max(h.mostAgain, h.runAgain)
	h.runAgain = 0
}

// check asserts, once everything is drained, that no acknowledged record
// was lost, and no record in flight at the end of a run either.
func (h *killHistory) check() error {
	if len(h.carry) > 1 || len(h.carry) == 1 && !h.carryBegun {
		return fmt.Errorf("records %v were in flight when a run ended and never delivered again", h.carry)
	}
	for n := range h.tried {
		switch {
		case h.seen[n]:
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
	h := newKillHistory()
	kills := 0
	for run := range 20 {
		syncInterval := "0s"
		if run%2 == 1 {
			syncInterval = "5ms"
		}
		lastTried, killed, err := killRun(t, h, dir, syncInterval, rng)
		h.endRun()
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
	for q.Stats().Records > 0 {
		r := mustNext(t, q)
		n := int(binary.LittleEndian.Uint64(r.Data))
		if !bytes.Equal(r.Data, numbered(n)) {
			t.Fatalf("record %d delivered with wrong data", n)
		}
		for _, event := range []byte{'D', 'B', 'C'} {
			if err := h.add(event, n); err != nil {
				t.Fatal(err)
			}
		}
		mustCommit(t, q)
	}
	h.endRun()
	if err := h.check(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of 20 children killed, %d torn tails cut on reopening; %d records tried, %d acknowledged, %d deliveries, %d of them again, at most %d after one run",
		kills, h.tornTails, len(h.tried), len(h.acked), h.deliveries, h.again, h.mostAgain)
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
		killAheadEnv+"="+strconv.Itoa(1+rng.IntN(4)),
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
			err = h.add(event[0], n)
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
