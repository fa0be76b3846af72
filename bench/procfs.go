//go:build linux

package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// rssBytes is VmRSS from /proc/PID/status.
func rssBytes(pid int) (int64, error) {
	return statusField(pid, "VmRSS:")
}

// statusField reads one "Name:   1234 kB" line of /proc/PID/status, in
// bytes (or as a plain number for fields without a unit).
func statusField(pid int, name string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			break
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, err
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		return n, nil
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, name)
}

// cpuTime is utime+stime of the whole process (all its threads, live and
// gone) from /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces:
	// count the fields after its closing one.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	return time.Duration(u+st) * time.Second / clockTicks, nil
}

// openFiles counts the process's file descriptors.
func openFiles(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents), err
}

// machine describes where the figures were taken.
type machine struct {
	cpu    string
	cores  int
	kernel string
	goVer  string
	memory string
}

func describeMachine() machine {
	m := machine{cpu: "unknown", cores: runtime.NumCPU(), kernel: "unknown",
		goVer: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
						m.memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
					}
				}
				break
			}
		}
	}
	return m
}

// taskStat is what the bench reads of one thread.
type taskStat struct {
	run      time.Duration // on-CPU time, from schedstat (nanoseconds)
	switches int64         // voluntary and involuntary context switches
}

// taskStats reads every thread of the process.
func taskStats(pid int) (map[int]taskStat, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make(map[int]taskStat, len(ents))
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue // the thread is gone
		}
		f := strings.Fields(string(b))
		if len(f) < 1 {
			continue
		}
		ns, _ := strconv.ParseInt(f[0], 10, 64)
		var sw int64
		if st, err := os.ReadFile(dir + "/" + e.Name() + "/status"); err == nil {
			for line := range strings.SplitSeq(string(st), "\n") {
				if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
					n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					sw += n
				}
			}
		}
		out[tid] = taskStat{run: time.Duration(ns), switches: sw}
	}
	return out, nil
}

// cpuBreakdown is where a process's CPU time went over a window, by
// thread: the runtime's sysmon is the first thread the process creates,
// the lowest thread id after the process's own.
type cpuBreakdown struct {
	run, sysmon        time.Duration
	switches, sysmonSw int64
}

func breakdown(pid int, before, after map[int]taskStat) cpuBreakdown {
	var c cpuBreakdown
	sysmon := 0
	for tid := range after {
		if tid != pid && (sysmon == 0 || tid < sysmon) {
			sysmon = tid
		}
	}
	for tid, a := range after {
		b := before[tid] // a thread born in the window counts from zero
		c.run += a.run - b.run
		c.switches += a.switches - b.switches
		if tid == sysmon {
			c.sysmon += a.run - b.run
			c.sysmonSw += a.switches - b.switches
		}
	}
	return c
}
