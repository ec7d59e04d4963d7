// Package procstat reads what the benchmark measures about a process from
// Linux's /proc: CPU time (utime+stime of /proc/<pid>/stat), resident set
// size now and at its peak (VmRSS and VmHWM of /proc/<pid>/status), and the
// machine's load average (/proc/loadavg).
//
// CPU time is in clock ticks of USER_HZ, which Linux fixes at 100 per
// second on every architecture this project builds for (amd64, arm64);
// /proc exposes nothing else to user space, whatever CONFIG_HZ is.
package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of utime and stime in /proc/<pid>/stat.
const userHZ = 100

// CPU returns the CPU time (user plus system) the process pid has used so
// far, its own threads only (not waited-for children).
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cannot read cpu time of pid %d: %w", pid, err)
	}
	return parseStat(b)
}

// parseStat extracts utime+stime from the content of /proc/<pid>/stat.
// The command name (field 2) is in parentheses and may hold spaces and
// parentheses itself, so fields are counted from the last ')'.
func parseStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("cannot parse /proc stat %q: no command name", truncate(b))
	}
	// After ")": field 3 (state) is fields[0]; utime is field 14, stime 15.
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("cannot parse /proc stat %q: %d fields after the command name, want at least 13", truncate(b), len(fields))
	}
	var ticks uint64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cannot parse /proc stat cpu field %q: %w", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / userHZ), nil
}

// Memory is a process's resident set size now (VmRSS) and its peak so far
// (VmHWM, the high-water mark), in bytes.
type Memory struct {
	RSS, HWM int64
}

// Mem reads VmRSS and VmHWM of the process pid.
func Mem(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, fmt.Errorf("cannot read memory of pid %d: %w", pid, err)
	}
	return parseStatus(b)
}

// parseStatus extracts VmRSS and VmHWM (written in kB) from the content
// of /proc/<pid>/status. Both must be present.
func parseStatus(b []byte) (Memory, error) {
	var m Memory
	var seen int
	for _, line := range strings.Split(string(b), "\n") {
		key, rest, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return Memory{}, fmt.Errorf("cannot parse /proc status line %q: want '<n> kB'", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("cannot parse /proc status line %q: %w", line, err)
		}
		if key == "VmRSS" {
			m.RSS = kb << 10
		} else {
			m.HWM = kb << 10
		}
		seen++
	}
	if seen != 2 {
		return Memory{}, fmt.Errorf("cannot parse /proc status: VmRSS or VmHWM missing (a kernel thread or an exited process?)")
	}
	return m, nil
}

// LoadAvg returns the 1-minute load average of the machine.
func LoadAvg() (float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, fmt.Errorf("cannot read load average: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("cannot parse load average %q", truncate(b))
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, fmt.Errorf("cannot parse load average %q: %w", truncate(b), err)
	}
	return v, nil
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}
