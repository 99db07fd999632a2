//go:build linux

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime and stime in /proc/PID/stat (USER_HZ), 100 on every
// Linux this runs on.
const clockTick = 10 * time.Millisecond

// machineCPU is the CPU time every CPU of the machine spent busy so far (user,
// nice, system, irq, softirq, steal in /proc/stat), or 0 when unknown: set against
// processCPU, it shows how much of the machine other processes took.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0
		}
		busy += v
	}
	return time.Duration(busy) * clockTick
}

// processCPU is the CPU time (user and system) so far of this process ("bench") and of
// each of its children, named by what they are: "sopd s1", "nats n2", "redis". It is
// what a case reports instead of a profile when the work happens in other processes.
// Processes it cannot read are left out.
func processCPU() map[string]time.Duration {
	self := os.Getpid()
	out := map[string]time.Duration{}
	if cpu, _, ok := readStat(self); ok {
		out["bench"] = cpu
	}
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == self {
			continue
		}
		cpu, ppid, ok := readStat(pid)
		if !ok || ppid != self {
			continue
		}
		if name := processName(pid); name != "" {
			out[name] += cpu
		}
	}
	return out
}

// readStat reads a process's CPU time and parent from /proc/PID/stat.
func readStat(pid int) (cpu time.Duration, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return 0, 0, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	utime, err2 := strconv.ParseInt(f[11], 10, 64)
	stime, err3 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, false
	}
	return time.Duration(utime+stime) * clockTick, ppid, true
}

// processName names a child by its binary and the flag that tells its instances
// apart: sopd's --node-id, nats-server's -n.
func processName(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return ""
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	// redis-server rewrites its argv to "redis-server host:port".
	bin := filepath.Base(strings.Fields(args[0] + " x")[0])
	flag := map[string]string{"sopd": "--node-id", "nats-server": "-n"}[bin]
	short := map[string]string{"nats-server": "nats", "redis-server": "redis"}[bin]
	if short == "" {
		short = bin
	}
	for i, a := range args {
		if flag != "" && a == flag && i+1 < len(args) {
			return short + " " + args[i+1]
		}
	}
	return short
}
