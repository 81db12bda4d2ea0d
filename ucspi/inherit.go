package ucspi

import (
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ucspi-go/ucspi/ucspi/exit"
)

// A listening socket opened by someone else: --listen-fd n (a parent, s6's
// s6-tcpserver-socketbinder, ...) or --systemd (a socket unit with
// Accept=no). The service manager then owns the socket: the server may exit
// and start again without a single connection being refused, the kernel
// queueing them meanwhile.

// inherits says whether the listener is inherited, refusing the options that
// only make sense for a socket the server binds itself.
func (s *Server) inherits() (bool, error) {
	if s.ListenFD == nil && !s.Systemd {
		return false, nil
	}
	if (s.ListenFD != nil && s.Systemd) || s.IPv4Only || s.Interface != "" || s.ReusePort {
		return true, exit.Usage()
	}
	return true, nil
}

// inherit takes the inherited listener.
func (s *Server) inherit() (*Listener, error) {
	if !s.Systemd {
		return Inherited(*s.ListenFD, s.Backlog, s.BacklogGiven)
	}
	fd, err := systemdFD()
	if err != nil {
		return nil, err
	}
	return Inherited(fd, s.Backlog, s.BacklogGiven)
}

// systemdFD is descriptor 3 when the service manager passed this very process
// exactly one socket, as sd_listen_fds(3) says it does: LISTEN_PID is our
// pid and LISTEN_FDS is 1. The LISTEN_* variables are then removed, so that
// no program takes them for its own.
func systemdFD() (int, error) {
	pid, ok := os.LookupEnv("LISTEN_PID")
	if !ok {
		return -1, exit.Fatal(exit.Temporary, "LISTEN_PID is not set: no socket from systemd")
	}
	if pid != strconv.Itoa(os.Getpid()) {
		return -1, exit.Fatal(exit.Temporary, "LISTEN_PID is ", pid, ", not this process (", strconv.Itoa(os.Getpid()), ")")
	}
	if fds := os.Getenv("LISTEN_FDS"); fds != "1" {
		return -1, exit.Fatal(exit.Temporary, "LISTEN_FDS is ", strconv.Quote(fds), ", not 1 (one socket, Accept=no)")
	}
	for _, name := range []string{"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"} {
		os.Unsetenv(name)
	}
	return 3, nil
}

// Inherited serves the listening socket on descriptor fd. It must be a
// listening TCP socket over IPv4 or IPv6; it is made non-blocking (for Go's
// poller) and close-on-exec (no program inherits it in turn). relisten calls
// listen again with backlog (-b given).
func Inherited(fd int, backlog uint64, relisten bool) (*Listener, error) {
	notTCP := exit.Fatal(exit.Temporary, "descriptor ", strconv.Itoa(fd), " is not a listening TCP socket")
	if fd < 0 || fd > 1<<30 {
		return nil, notTCP
	}
	opt := func(level, name int) int {
		v, err := unix.GetsockoptInt(fd, level, name)
		if err != nil {
			return -1
		}
		return v
	}
	// MPTCP is TCP to the peers that do not speak it (and Go listens with
	// it by default).
	domain, proto := opt(syscall.SOL_SOCKET, unix.SO_DOMAIN), opt(syscall.SOL_SOCKET, unix.SO_PROTOCOL)
	if (domain != syscall.AF_INET && domain != syscall.AF_INET6) || opt(syscall.SOL_SOCKET, syscall.SO_TYPE) != syscall.SOCK_STREAM ||
		(proto != syscall.IPPROTO_TCP && proto != unix.IPPROTO_MPTCP) || opt(syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN) != 1 {
		return nil, notTCP
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		return nil, exit.FatalSys(exit.Temporary, err, "unable to listen: ")
	}
	l := &Listener{fd: fd, inet6: domain == syscall.AF_INET6}
	var err error
	if l.Addr, _, err = sockName(fd); err != nil {
		return nil, exit.FatalSys(exit.Temporary, err, "unable to get local address: ")
	}
	if relisten {
		if err := syscall.Listen(fd, int(min(backlog, 1<<30))); err != nil {
			return nil, exit.FatalSys(exit.Temporary, err, "unable to listen: ")
		}
	}
	if err := l.poll(); err != nil {
		return nil, err
	}
	return l, nil
}
