package ssl

import (
	"io"
	"syscall"
	"unsafe"
)

// The relay's reads and writes go straight to the kernel (RawSyscall) on
// descriptors that never block, waiting for readiness in Go's poller through
// their syscall.RawConn. os.File's Read and Write go through the runtime's
// system call entry, which wakes its monitor thread (sysmon) into polling
// every 20 µs whenever the server was idle: several wake-ups a connection,
// as tcpserver found (docs/process.md, "SIGCHLD in tcpserver").

// rawReader reads one descriptor through its RawConn. Its method value is
// made once, so that a read allocates nothing; one read at a time.
type rawReader struct {
	raw   syscall.RawConn
	b     []byte
	n     int
	errno syscall.Errno
	f     func(fd uintptr) bool
}

func newRawReader(raw syscall.RawConn) *rawReader {
	r := &rawReader{raw: raw}
	r.f = r.read
	return r
}

func (r *rawReader) read(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&r.b[0])), uintptr(len(r.b)))
		if e == syscall.EINTR {
			continue
		}
		r.n, r.errno = int(n), e
		return e != syscall.EAGAIN
	}
}

// Read is os.File's Read without the runtime's system call entry: what is
// there, waiting for it (within the deadline) if nothing is; io.EOF at the
// end; a timeout is os.ErrDeadlineExceeded itself.
func (r *rawReader) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	r.b = b
	err := r.raw.Read(r.f)
	r.b = nil
	switch {
	case err != nil:
		return 0, err
	case r.errno != 0:
		return 0, r.errno
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
}

// rawWriter writes all of a buffer to a socket through its RawConn, without
// SIGPIPE (a peer gone is EPIPE); one write at a time.
type rawWriter struct {
	raw   syscall.RawConn
	b     []byte
	n     int
	errno syscall.Errno
	f     func(fd uintptr) bool
}

func newRawWriter(raw syscall.RawConn) *rawWriter {
	w := &rawWriter{raw: raw}
	w.f = w.write
	return w
}

func (w *rawWriter) write(fd uintptr) bool {
	for w.n < len(w.b) {
		p := w.b[w.n:]
		n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
			syscall.MSG_NOSIGNAL, 0, 0)
		switch e {
		case 0:
			w.n += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			w.errno = e
			return true
		}
	}
	return true
}

// Write is os.File's Write on a socket without the runtime's system call
// entry: all of b, waiting for room (within the deadline) as needed.
func (w *rawWriter) Write(b []byte) (int, error) {
	w.b, w.n, w.errno = b, 0, 0
	err := w.raw.Write(w.f)
	n := w.n
	w.b = nil
	switch {
	case err != nil:
		return n, err
	case w.errno != 0:
		return n, w.errno
	}
	return n, nil
}

// shutdown shuts a socket down for reading, writing or both (how).
func shutdown(fd uintptr, how int) error {
	if _, _, e := syscall.RawSyscall(syscall.SYS_SHUTDOWN, fd, uintptr(how), 0); e != 0 {
		return e
	}
	return nil
}
