package ucspi

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"

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
// far more than it works: a smaller heap goal, the start-up's garbage (option
// parsing, every applet's registration) returned to the system, and the
// start-up's code let go of: the pages of our binary's text and read-only data
// it has touched so far are dropped from our resident set, to come back from
// the page cache as the server uses them (a fraction: the runtime's hot paths
// and the connection's).
func settle() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	debug.FreeOSMemory()
	dropReadOnly()
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
