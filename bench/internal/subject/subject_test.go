package subject

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-eks/otelcol-eks/bench/internal/procstat"
)

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"A=1", "B=2", "C"}, []string{"B=3", "D=4"})
	require.Equal(t, []string{"A=1", "C", "B=3", "D=4"}, got)
}

// A process that exits before it is ready is reported with its log.
func TestExitBeforeReady(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing answers there

	log := filepath.Join(t.TempDir(), "out.log")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = Start(ctx, Spec{
		Path: "/bin/sh", Args: []string{"-c", "echo started with $BENCH_X; exit 3"},
		Env: []string{"BENCH_X=value"}, LogPath: log, ReadyURL: "http://" + addr + "/",
	})
	require.Error(t, err)
	require.Contains(t, err.Error(), "exit status 3")
	require.Contains(t, err.Error(), "started with value")
}

// TestMain doubles as the child process of TestReadyAndStop: with
// SUBJECT_TEST_SERVE set it serves HTTP there until SIGTERM.
func TestMain(m *testing.M) {
	if addr := os.Getenv("SUBJECT_TEST_SERVE"); addr != "" {
		_ = http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// A ready process is measurable through its pid and stops on SIGTERM.
func TestReadyAndStop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := Start(ctx, Spec{
		Path:     os.Args[0],
		Env:      []string{"SUBJECT_TEST_SERVE=" + addr},
		ReadyURL: "http://" + addr + "/",
	})
	require.NoError(t, err)
	m, err := procstat.Mem(p.Pid())
	require.NoError(t, err)
	require.Positive(t, m.RSS)
	require.NoError(t, p.Stop(10*time.Second))
	select {
	case <-p.Exited():
	default:
		t.Fatal("Exited not closed after Stop")
	}
}
