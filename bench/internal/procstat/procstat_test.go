package procstat

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	f := func(line string, want time.Duration, wantErr bool) {
		t.Helper()
		got, err := parseStat([]byte(line))
		if wantErr {
			require.Error(t, err, line)
			return
		}
		require.NoError(t, err, line)
		require.Equal(t, want, got, line)
	}
	// utime 250, stime 50 ticks: 3 s. The name holds a space and a ')'.
	f("4242 (otel col) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 1000 200", 3*time.Second, false)
	f("1 (init) S 0 1 1 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 1 1000 200", 100*time.Millisecond, false)
	f("1 (init) S 0 1", 0, true)
	f("no parenthesis at all", 0, true)
	f("1 (init) S 0 1 1 0 -1 4194560 100 0 0 0 x 3 0 0 20 0 1 0 1 1000 200", 0, true)
}

func TestParseStatus(t *testing.T) {
	got, err := parseStatus([]byte("Name:\tprometheus\nVmPeak:\t  999 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads: 9\n"))
	require.NoError(t, err)
	require.Equal(t, Memory{RSS: 1 << 20, HWM: 2 << 20}, got)

	_, err = parseStatus([]byte("Name:\tkthreadd\nThreads: 1\n"))
	require.Error(t, err)
	_, err = parseStatus([]byte("VmHWM:\t2048 MB\nVmRSS:\t1024 kB\n"))
	require.Error(t, err)
}

// The real files of this very process parse, and burning CPU shows up.
func TestSelf(t *testing.T) {
	pid := os.Getpid()
	before, err := CPU(pid)
	require.NoError(t, err)
	deadline := time.Now().Add(5 * time.Second)
	x := 0
	for {
		for i := range 1_000_000 {
			x += i
		}
		now, err := CPU(pid)
		require.NoError(t, err)
		if now-before >= 20*time.Millisecond {
			break
		}
		require.True(t, time.Now().Before(deadline), "cpu time did not grow: %v then %v", before, now)
	}
	_ = x
	m, err := Mem(pid)
	require.NoError(t, err)
	require.Positive(t, m.RSS)
	require.GreaterOrEqual(t, m.HWM, m.RSS)
	_, err = LoadAvg()
	require.NoError(t, err)
}
