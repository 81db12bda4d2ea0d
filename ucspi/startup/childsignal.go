package startup

import (
	"os"
	"syscall"

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
	if err := catchChildren(); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "sigchld").SyscallConn()
}

var (
	childEvents  int64      // the eventfd the SIGCHLD handler writes to
	childOne     uint64 = 1 // what it writes
	childSignals bool       // our assembly handler is installed
)
