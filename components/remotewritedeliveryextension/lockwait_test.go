//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package remotewritedeliveryextension

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-eks/otelcol-eks/components/remotewritedeliveryextension/internal/diskqueue"
)

// TestLockedDirectoryWaitsThenFails: while another queue holds the
// directory, Start waits for it (logged once), takes it as soon as it is
// released, and fails after lock_wait naming the directory, the lock file
// and what to do. The queue locks its directory only where flock(2)
// exists: the build constraint is diskqueue's lock_flock.go's.
func TestLockedDirectoryWaitsThenFails(t *testing.T) {
	f := func(lockWait, holdFor time.Duration, wantFailure bool) {
		t.Helper()
		cfg := testConfig(t.TempDir())
		cfg.LockWait = lockWait
		dir := filepath.Join(cfg.Directory, "remote_write_delivery")
		holder, err := diskqueue.Open(diskqueue.Options{Dir: dir, MaxBytes: cfg.maxBytes(), SegmentBytes: cfg.segmentBytes()})
		require.NoError(t, err)
		released := make(chan struct{})
		go func() {
			defer close(released)
			time.Sleep(holdFor)
			_ = holder.Close()
		}()
		defer func() { <-released }()

		core, logs := observer.New(zapcore.InfoLevel)
		set := componenttest.NewNopTelemetrySettings()
		set.Logger = zap.New(core)
		ext, err := newExtension(deliveryID, cfg, set, time.Now)
		require.NoError(t, err)
		defer func() { require.NoError(t, ext.Shutdown(context.Background())) }()
		exts := map[component.ID]component.Component{authID: &stampingAuth{}}
		start := time.Now()
		err = ext.Start(context.Background(), hostWith{Host: componenttest.NewNopHost(), exts: exts})
		took := time.Since(start)
		waiting := logs.FilterMessageSnippet("is locked by another process, probably the previous collector pod still stopping; waiting up to").All()
		require.Len(t, waiting, 1, "the wait is logged once")
		require.Contains(t, waiting[0].Message, dir)
		if wantFailure {
			require.ErrorIs(t, err, diskqueue.ErrLocked)
			for _, want := range []string{"directory: the queue directory " + dir, "lock_wait (" + lockWait.String() + ")", filepath.Join(dir, "lock"), "maxSurge: 0", "its own directory"} {
				require.ErrorContains(t, err, want)
			}
			require.GreaterOrEqual(t, took, lockWait)
			return
		}
		require.NoError(t, err)
		require.GreaterOrEqual(t, took, holdFor)
		require.Equal(t, 1, logs.FilterMessageSnippet("queue directory lock acquired").Len())
	}
	f(5*time.Second, 300*time.Millisecond, false)
	f(300*time.Millisecond, time.Second, true)
}
