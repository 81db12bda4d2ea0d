// Package startup gives the programs ucspi runs what ucspi itself was started
// with, as 0.88's C programs passed it on untouched: resource limits, signal
// dispositions and mask, and closed standard descriptors.
//
// The Go runtime changes all of these before main: it needs about 700 MB of
// address space and 40 MB of data segment just to start (softlimit -m 20000000
// would kill it), it catches most signals, and it opens /dev/null on a closed
// descriptor 0, 1 or 2. So the binary's entry point is a stub of our own
// (entry_*.s, chosen with the linker's -E _rt0_ucspi) that records those at
// exec into rec, raises the soft address space and data limits to the hard
// ones, maps what of the binary the kernel left to it (internal/lazybss: all
// but its own few pages of text and the data segment), and jumps to the
// runtime's entry. Go code then puts the record back:
// init (signals, stdio), Exec for the programs run in place (argv0, rblsmtpd,
// tcpclient, fixcrio, recordio) and Spawn for tcpserver's. docs/process.md
// tells the whole story.
//
// A binary linked without the stub (plain go build, or go test) finds rec
// empty: Recorded says so, and everything here leaves the process as the
// runtime made it.
package startup

import (
	"os"
	"syscall"
)

// The kernel's numbers, the same on every architecture with a stub (amd64,
// arm64). The stub reads them through go_asm.h.
const (
	nlimits = 16 // RLIMIT_NLIMITS
	nsig    = 64 // _NSIG

	rlimitData   = 2
	rlimitStack  = 3
	rlimitNofile = 7
	rlimitAS     = 9

	sigDFL = 0
	sigIGN = 1
)

// What the runtime needs (Linux, 64-bit) to start and run a busy tcpserver:
// the address space is mostly its reservations for heap metadata (the page
// allocator's summaries and the scavenger's index cover the whole 48-bit
// address space), the data segment the first heap arena it maps writable and
// the BSS (crypto's 32 MB buffer). A
// hard limit below either makes the stub print its one line and exit 111
// rather than let the runtime crash. TestNeeds measures both against a build
// without the stub.
const (
	needAS   = 768 << 20
	needData = 112 << 20
)

// The pieces of the line the stub prints when it cannot start the runtime,
// "NAME: fatal: unable to start: address space limit N is below what the Go
// runtime needs (about M)" or "NAME: fatal: unable to start: WHY". Byte
// slices, which the compiler lays out in the data segment, contents included
// (a string's bytes would be in the read-only data, which the kernel no longer
// maps at exec: the stub maps it, internal/lazybss), so that the stub can
// print them before anything but its window of text and the data segment is
// mapped. The stub reads a slice's pointer and length as a string's.
var (
	selfName  = []byte("ucspi")
	startText = []byte(": fatal: unable to start: ")
	asText    = []byte("address space limit ")
	dataText  = []byte("data limit ")
	needText  = []byte(" is below what the Go runtime needs (about ")
	endText   = []byte(")\n")
	nomemText = []byte("out of memory") // the BSS could not be mapped

	// The text and read-only data could not be mapped: neither
	// /proc/self/exe nor the path executed (AT_EXECFN) could be opened,
	// the file read, or mapped; or it is not the file the kernel executed.
	openText    = []byte("unable to open its own binary (/proc/self/exe or the path executed)")
	readText    = []byte("unable to read its own binary")
	changedText = []byte("its binary was replaced after it was executed")
	mapText     = []byte("unable to map its own binary")
)

type rlimit struct{ cur, max uint64 }

// sigaction is the kernel's struct sigaction for rt_sigaction(2) on amd64 and
// arm64 (a one-word mask: sigsetsize 8).
type sigaction struct{ handler, flags, restorer, mask uint64 }

// record is what the stub found at exec. Its layout is the stub's, through
// go_asm.h.
type record struct {
	stub    uint64              // notRun, then ran once the stub has run
	closed  uint64              // bit n: descriptor n (0, 1, 2) was not open
	raised  uint64              // bit r: the stub raised resource r's soft limit to the hard one
	mask    uint64              // the signal mask
	scratch rlimit              // the stub's own: the limit it sets
	limits  [nlimits]rlimit     // every resource's soft and hard limit
	actions [nsig + 1]sigaction // every signal's disposition (0 unused)
}

// rec's initial value is not zero, so that rec is in the data segment, which
// the kernel maps at exec: the stub writes it before it maps the BSS
// (internal/lazybss).
var rec = record{stub: notRun}

const (
	notRun = 1
	ran    = 2
)

// Recorded reports whether the entry stub ran: the binary was linked with
// -E _rt0_ucspi on an architecture that has one.
func Recorded() bool { return rec.stub == ran }

// Limit returns the soft and hard limit of resource r (RLIMIT_*) the process
// was started with; ok is false without the stub.
func Limit(r int) (cur, max uint64, ok bool) {
	if !Recorded() || r < 0 || r >= nlimits {
		return 0, 0, false
	}
	return rec.limits[r].cur, rec.limits[r].max, true
}

// Raised reports whether the stub raised resource r's soft limit.
func Raised(r int) bool { return Recorded() && rec.raised&(1<<r) != 0 }

// IgnoredAtStart reports whether sig was ignored (SIG_IGN) when the process
// started.
func IgnoredAtStart(sig syscall.Signal) bool {
	return Recorded() && sig > 0 && sig <= nsig && rec.actions[sig].handler == sigIGN
}

// ClosedAtStart reports whether descriptor fd (0, 1 or 2) was closed when the
// process started; the runtime has put /dev/null there since.
func ClosedAtStart(fd int) bool {
	return Recorded() && fd >= 0 && fd < 3 && rec.closed&(1<<fd) != 0
}

func init() {
	if !Recorded() {
		return
	}
	signals()
	stdio()
}

// stdio makes os.Stdin, os.Stdout and os.Stderr fail as the descriptors did
// where they were closed at start: reads and writes give EBADF, so that addcr
// <&- exits 111 and tcprules <&- says "file descriptor not open", as 0.88's
// did. The descriptors themselves stay on the runtime's /dev/null while Go
// runs, so that nothing the process opens (a socket, the poller's epoll
// descriptor) can land on 0, 1 or 2 and be taken for standard input or output;
// Exec closes them just before the program starts, and Spawn gives
// tcpserver's programs no descriptor 2 when tcpserver had none.
func stdio() {
	for fd, f := range []**os.File{&os.Stdin, &os.Stdout, &os.Stderr} {
		if ClosedAtStart(fd) {
			*f = os.NewFile(neverOpen, (*f).Name())
		}
	}
}

// neverOpen is a descriptor number no process can have open: the kernel's
// largest possible descriptor limit (fs.nr_open) is INT_MAX rounded down to a
// multiple of 64, below this.
const neverOpen = 1<<31 - 1
