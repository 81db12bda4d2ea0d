package startup

import (
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ChildSignals makes every SIGCHLD add one to an eventfd(2) counter and
// returns the eventfd, non-blocking and in Go's poller: a server reaping its
// children (tcpserver) then wakes from the same poll that waits for its
// connections, on whichever thread is already waiting there. With
// os/signal, each SIGCHLD woke the runtime's signal thread, which woke
// another to run the reaper, and the system calls on the way woke the
// runtime's monitor thread into a 20 µs polling loop: most of the server's
// CPU per connection. The handler (childsignal_*.s) makes one write(2) on
// the signal stack and returns; it replaces the runtime's handler for
// SIGCHLD, which only os/signal used. A program the server spawns gets
// SIGCHLD's default back, as every caught signal's. An eventfd, not a pipe:
// one descriptor, not two, for a server short of them.
func ChildSignals() (syscall.RawConn, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, err
	}
	childEvents = int64(fd)
	const (
		saNoCldStop = 0x1 // stopped children do not matter: wait4 asks for ended ones
		saOnStack   = 0x08000000
		saRestart   = 0x10000000
		saRestorer  = 0x04000000
	)
	act := sigaction{flags: saNoCldStop | saOnStack | saRestart}
	act.handler, act.restorer = childHandler()
	if act.restorer != 0 {
		act.flags |= saRestorer
	}
	_, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(syscall.SIGCHLD),
		uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	if e != 0 {
		syscall.Close(fd)
		return nil, e
	}
	childSignals = true
	return os.NewFile(uintptr(fd), "sigchld").SyscallConn()
}

var (
	childEvents  int64      // the eventfd the SIGCHLD handler writes to
	childOne     uint64 = 1 // what it writes
	childSignals bool       // the handler is installed
)

// childHandler returns the addresses of the SIGCHLD handler and of the
// restorer that returns from it (0 where the kernel provides one: arm64).
func childHandler() (handler, restorer uint64)
