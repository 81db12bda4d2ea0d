package ucspi

import (
	"errors"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Why a header could not be read, as the log says it.
var errProxyClosed = errors.New("connection closed")

// readProxy reads the PROXY header at the start of connection fd (a blocking
// socket) and not one byte more: the client's first bytes, which a balancer
// sends in the same segment, stay in the socket for the program. It peeks at
// what has arrived, frames it (proxyLength), and reads exactly the header's
// bytes, or, while the header's end has not arrived, all there is: those are
// the header's too. Once the length is known (v2), the rest is read without
// peeking. A header arriving in pieces waits in Go's poller, so it holds a
// goroutine rather than a thread, until deadline.
func readProxy(fd int, deadline time.Time) (ProxyHeader, error) {
	b := make([]byte, 0, 256)
	var w pollWait
	defer w.close(fd)
	for {
		n, err := proxyLength(b)
		if err != nil {
			return ProxyHeader{}, err
		}
		if n > 0 && len(b) == n {
			return ParseProxy(b)
		}
		flags, room := syscall.MSG_PEEK, b[len(b):cap(b)]
		if n > 0 {
			if n > cap(b) {
				b = append(make([]byte, 0, n), b...)
			}
			flags, room = 0, b[len(b):n]
		}
		got, err := recvRaw(fd, room, flags)
		if err == syscall.EAGAIN {
			if err = w.wait(fd, deadline); err == nil {
				continue // something arrived: read it
			}
		}
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return ProxyHeader{}, syscall.ETIMEDOUT
		case err == syscall.ECONNRESET || (err == nil && got == 0):
			return ProxyHeader{}, errProxyClosed
		case err != nil:
			return ProxyHeader{}, err
		}
		if flags == syscall.MSG_PEEK {
			take := got
			m, err := proxyLength(b[:len(b)+got])
			if err != nil {
				return ProxyHeader{}, err
			}
			if m > 0 {
				take = min(got, m-len(b))
			}
			// What was peeked is there: this read returns exactly take bytes.
			if got, err = recvRaw(fd, room[:take], 0); err != nil || got != take {
				return ProxyHeader{}, errProxyClosed
			}
		}
		b = b[:len(b)+got]
	}
}

// recvRaw is recv(2) that never waits.
func recvRaw(fd int, p []byte, flags int) (int, error) {
	for {
		r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&p[0])),
			uintptr(len(p)), uintptr(flags|syscall.MSG_DONTWAIT), 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(r), nil
	}
}

// pollWait waits in Go's poller for a connection to become readable. The
// poller takes only non-blocking descriptors, so the first wait makes the
// connection non-blocking and registers a duplicate of it; close undoes both,
// leaving the connection blocking, as programs expect it.
type pollWait struct {
	f  *os.File
	rc syscall.RawConn
}

// wait returns once the connection has something to read (or has ended), or
// with the deadline's error. It only peeks, from inside the poller's read,
// after the poller has armed itself, so that bytes arriving just before the
// wait are not missed; readProxy reads them itself, so that its buffer stays
// on its stack (a closure the poller calls would move it to the heap).
func (w *pollWait) wait(fd int, deadline time.Time) error {
	if w.f == nil {
		if err := syscall.SetNonblock(fd, true); err != nil {
			return err
		}
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return err
		}
		w.f = os.NewFile(uintptr(dup), "connection")
		if w.rc, err = w.f.SyscallConn(); err != nil {
			return err
		}
	}
	if err := w.f.SetReadDeadline(deadline); err != nil {
		return err
	}
	return w.rc.Read(func(uintptr) bool {
		var probe [1]byte
		_, err := recvRaw(fd, probe[:], syscall.MSG_PEEK)
		return err != syscall.EAGAIN
	})
}

func (w *pollWait) close(fd int) {
	if w.f != nil {
		w.f.Close()
		syscall.SetNonblock(fd, false)
	}
}
