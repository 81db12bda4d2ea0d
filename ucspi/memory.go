package ucspi

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// gcPercent is the server's GOGC. Its live heap is a few hundred kilobytes
// (the options, the listener, the connections in hand), and the default of
// 100, with the runtime's floor of a 4 MB heap goal, let it hold 4 MB of
// garbage between collections: most of its memory. At 10 the goal is about
// 1 MB; at 2,000 connections a second that is about ten collections a second,
// each about a millisecond of CPU on a heap that small (make bench measures
// the rate). $GOGC, when set, wins.
const gcPercent = 10

// settle readies the server for its life in the accept loop, where it waits
// far more than it works: a smaller heap goal (for tcpserver, kept without the
// sweeper's runway: see resetGoal), the start-up's garbage (option parsing,
// every applet's registration) returned to the system, and the start-up's code
// let go of: the pages of our binary's text and read-only data it has touched
// so far are dropped from our resident set, to come back from the page cache
// as the server uses them (a fraction: the runtime's hot paths and the
// connection's). sslserver sets its own goals (keepGCSlack).
func settle(plain bool) {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
		if plain {
			afterEachGC(func() { time.AfterFunc(sweepTime, resetGoal) })
		}
	}
	debug.FreeOSMemory()
	dropReadOnly()
}

// sweepTime is how long after a collection tcpserver takes its sweep to be
// over: a fraction of a millisecond on a heap of this size.
const sweepTime = 10 * time.Millisecond

// resetGoal has the runtime set its heap goal anew, sweepTime after a
// collection. It sets the goal as marking ends, with the sweep still to come,
// and then keeps it at least 1 MB above the live heap: runway for its
// sweeper. tcpserver's live heap is tens of KB, so that runway is most of its
// heap, and the pages it fills stay resident: about 1 MB of the server's 3 MB
// of anonymous memory under load. Set again once the sweep is over, the goal
// comes without the runway: a tenth over the live heap, at GOGC 10, and at
// least the runtime's floor of 400 KB. Nothing tells when the sweep is over;
// if it is not yet, the goal stays as the runtime set it.
func resetGoal() { debug.SetGCPercent(gcPercent) }

// afterEachGC calls f after every collection, from the finalizer (in the
// finalizer goroutine) of an object it drops, set again each time.
func afterEachGC(f func()) {
	type tick struct {
		_ *byte // not a tiny allocation, which may never be finalized
		_ [8]byte
	}
	var arm func()
	arm = func() {
		runtime.SetFinalizer(&tick{}, func(*tick) {
			f()
			arm()
		})
	}
	arm()
}

// dropReadOnly applies MADV_DONTNEED to the mappings of our binary that are
// not writable (text, rodata), as /proc/self/maps lists them; without /proc
// it does nothing. For a clean private file mapping that is only what memory
// pressure does at any time: the next touch of a page maps it again from the
// file, which the kernel keeps from being written while it runs (ETXTBSY).
func dropReadOnly() {
	var self unix.Stat_t
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil || unix.Stat("/proc/self/exe", &self) != nil {
		return
	}
	for line := range strings.Lines(string(maps)) {
		if start, end, ok := readOnlyMapping(line, self.Ino); ok {
			unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_DONTNEED)
		}
	}
}

// readOnlyMapping reads a line of /proc/self/maps ("start-end perms offset
// major:minor inode path") and returns the range if it maps the file with
// inode ino and is not writable.
func readOnlyMapping(line string, ino uint64) (start, end uintptr, ok bool) {
	f := strings.Fields(line)
	if len(f) < 6 || len(f[1]) != 4 || f[1][1] == 'w' || f[4] != strconv.FormatUint(ino, 10) {
		return 0, 0, false
	}
	from, to, ok := strings.Cut(f[0], "-")
	a, err1 := strconv.ParseUint(from, 16, 64)
	b, err2 := strconv.ParseUint(to, 16, 64)
	if !ok || err1 != nil || err2 != nil || b <= a {
		return 0, 0, false
	}
	return uintptr(a), uintptr(b), true
}
