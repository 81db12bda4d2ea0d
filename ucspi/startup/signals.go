package startup

import (
	"os"
	"os/signal"
	"syscall"
	"unsafe"
)

// signals puts back the dispositions a C program has, as far as the runtime
// lets it run:
//
//   - A signal ignored at start is ignored again (signal.Ignore sets SIG_IGN in
//     the kernel), so that the programs ucspi runs inherit it, as from a shell's
//     background job or nohup. The runtime itself respects only an inherited
//     SIG_IGN of SIGHUP and SIGINT.
//   - A signal whose default action ends the process, but which the runtime
//     catches and ignores (SIGUSR1, SIGALRM, ...) or turns into a goroutine dump
//     and exit 2 (SIGQUIT, SIGABRT), gets its default action back (SIG_DFL in
//     the kernel): the process dies from it, as 0.88's did, with the same wait
//     status and nothing printed. (Not the real-time signals: see dies.)
//
// signal.Ignore first also tells the runtime it no longer handles the signal,
// so that a later signal.Notify (rblsmtpd's SIGALRM) installs its handler
// again as it would for any signal.
//
// The runtime keeps its own handlers for what it needs: the faults it turns
// into panics (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSTKFLT, SIGSYS),
// SIGURG (goroutine preemption), SIGPROF, and signals 32 to 34 (its threads'
// own). SIGHUP, SIGINT and SIGTERM already end a Go program with the signal,
// and SIGPIPE stays with the runtime too: a write to a broken pipe on
// descriptor 1 or 2 ends the process with SIGPIPE as in C, while on a socket it
// is an error the applet handles, which is what 0.88's relays (fixcrio's,
// recordio's, mconnect-io) got by ignoring SIGPIPE.
func signals() {
	var ignore, dflt []os.Signal
	for sig := syscall.Signal(1); sig <= nsig; sig++ {
		switch {
		case runtimeOwns(sig):
		case IgnoredAtStart(sig):
			ignore = append(ignore, sig)
		case dies(sig):
			dflt = append(dflt, sig)
		}
	}
	signal.Ignore(append(ignore, dflt...)...)
	for _, sig := range dflt {
		setDefault(sig.(syscall.Signal))
	}
}

// runtimeOwns reports whether the runtime must keep handling sig (or nobody can
// change it: SIGKILL, SIGSTOP).
func runtimeOwns(sig syscall.Signal) bool {
	switch sig {
	case syscall.SIGKILL, syscall.SIGSTOP,
		syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL, syscall.SIGTRAP,
		syscall.SIGSTKFLT, syscall.SIGSYS, syscall.SIGURG, syscall.SIGPROF, 32, 33, 34:
		return true
	}
	return false
}

// dies reports whether sig's default action ends the process while the
// runtime, left alone, would ignore it or dump goroutines instead. The
// real-time signals (35 to 64) would be too, but nobody sends them to a
// server, and two system calls each at every start of every applet (rblsmtpd
// runs once per connection) are not worth it.
func dies(sig syscall.Signal) bool {
	switch sig {
	case syscall.SIGQUIT, syscall.SIGABRT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGALRM,
		syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGVTALRM, syscall.SIGIO, syscall.SIGPWR:
		return true
	}
	return false
}

// setDefault sets sig's disposition to SIG_DFL with a raw rt_sigaction: the
// runtime offers no call for that, signal.Reset puts its own handler back.
func setDefault(sig syscall.Signal) {
	var act sigaction // handler 0: SIG_DFL
	syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
}
