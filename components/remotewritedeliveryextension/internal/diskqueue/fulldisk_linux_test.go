package diskqueue

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const fullDiskEnv = "DISKQUEUE_FULL_DISK_CHILD"

// TestFullDisk fills a real 512 KiB tmpfs. Mounting one needs no root: the
// test runs itself again as root of a new user namespace with its own
// mount namespace. Where the kernel forbids that to an unprivileged user
// (some desktop distributions) it is skipped; run as root (as CI does) it
// must run.
func TestFullDisk(t *testing.T) {
	if os.Getenv(fullDiskEnv) != "" {
		fullDiskChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFullDisk$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), fullDiskEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		skipUnlessRoot(t, "cannot start a process in new user and mount namespaces: %s", err)
	}
	if err != nil {
		t.Fatalf("%s\n%s", err, out)
	}
	if _, reason, ok := strings.Cut(string(out), "NO TMPFS: "); ok {
		skipUnlessRoot(t, "cannot mount a tmpfs: %s", strings.SplitN(reason, "\n", 2)[0])
	}
	t.Logf("%s", out)
}

// skipUnlessRoot skips the test for an unprivileged user and fails it for
// root, who can always make the namespaces and the tmpfs.
func skipUnlessRoot(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Geteuid() == 0 {
		t.Fatalf(format, args...)
	}
	t.Skipf(format+" (run as root to test a full disk)", args...)
}

func fullDiskChild(t *testing.T) {
	// Keep the mounts out of the parent's namespace whatever its propagation.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		fmt.Printf("NO TMPFS: %s\n", err)
		return
	}
	// With one record a segment, the record that meets the full disk
	// starts a new segment; with 128 KiB it lands mid-segment; with 1 MiB
	// the disk fills before the first segment does, and only deleting the
	// consumed writer's segment gives space back.
	for _, segmentBytes := range []int64{10 << 10, 128 << 10, 1 << 20} {
		t.Run(fmt.Sprintf("SegmentBytes=%d", segmentBytes), func(t *testing.T) {
			mnt := t.TempDir()
			if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=512k"); err != nil {
				fmt.Printf("NO TMPFS: %s\n", err)
				t.SkipNow()
			}
			t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
			fillDisk(t, filepath.Join(mnt, "q"), segmentBytes)
		})
	}
}

// fillDisk appends 10 KiB records until the disk is full, checks that
// the failure left nothing behind, frees space by consuming, and appends
// again.
func fillDisk(t *testing.T, dir string, segmentBytes int64) {
	var d drops
	// MaxBytes larger than the disk: the disk fills first.
	opts := Options{Dir: dir, MaxBytes: 64 << 20, SegmentBytes: segmentBytes, OnDrop: d.onDrop}
	q := mustOpen(t, opts)
	const size = 10 << 10
	appended := 0
	var err error
	for ; appended < 100; appended++ {
		if err = q.Append(payload(appended, size)); err != nil {
			break
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("after %d appends: got %v, want ENOSPC", appended, err)
	}
	t.Logf("disk full after %d records: %s", appended, err)
	checkFiles := func() {
		t.Helper()
		var total int64
		for _, name := range segmentFiles(t, dir) {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() == 0 {
				t.Fatalf("empty segment %s left behind", name)
			}
			total += fi.Size()
		}
		if s := q.Stats(); total != s.Bytes || s.Records != int64(appended) {
			t.Fatalf("segment files hold %d bytes; the queue %+v: a failed Append left bytes behind", total, s)
		}
		if total%(headerSize+size) != 0 {
			t.Fatalf("segment files hold %d bytes, not whole records", total)
		}
	}
	checkFiles()
	if err := q.Append(payload(appended, size)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("got %v, want ENOSPC again", err)
	}
	checkFiles()

	// Consuming deletes segments, and Appends succeed again.
	consumed := 0
	for ; consumed < appended; consumed++ {
		mustNext(t, q)
		mustCommit(t, q)
		if err = q.Append(payload(appended, size)); err == nil {
			break
		}
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("got %v, want ENOSPC or success", err)
		}
	}
	if err != nil {
		t.Fatalf("no Append succeeded after consuming everything: %s", err)
	}
	appended++
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = mustOpen(t, opts)
	checkData(t, drain(t, q), seqRange(consumed+1, appended), func(int) int { return size })
	if d.calls != 0 {
		t.Fatalf("unexpected drops: %+v", d.records)
	}
}
