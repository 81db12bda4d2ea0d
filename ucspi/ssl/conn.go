package ssl

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// Conn is a connected stream socket as crypto/tls needs it (a net.Conn), made
// from a descriptor the server already holds: the descriptor turns
// non-blocking and waits in Go's poller, so a connection waiting for its peer
// holds no thread. It costs no dup and no address lookup, unlike
// net.FileConn. From NewConn on, the Conn owns the descriptor.
type Conn struct {
	f             *os.File
	raw           syscall.RawConn
	r             *rawReader
	w             *rawWriter
	local, remote netip.AddrPort
	// WantCert asks the handshake for a client certificate (sslserver -m, -z,
	// or CCAVERIFY): tls.Config.GetConfigForClient reads it.
	WantCert bool
	// Served is the certificate the handshake sent, set by
	// Store.GetCertificate; nil for a resumed session, which sends none.
	Served *tls.Certificate
}

// NewConn takes over fd, a connected socket (or a socketpair end) whose
// addresses are local and remote.
func NewConn(fd int, local, remote netip.AddrPort) (*Conn, error) {
	f, err := NewFile(fd, "connection")
	if err != nil {
		return nil, err
	}
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Conn{f: f, raw: raw, r: newRawReader(raw), w: newRawWriter(raw), local: local, remote: remote}, nil
}

// NewFile makes fd non-blocking and an *os.File that waits in the poller; on
// failure fd is closed. fd must be a socket: its status flags are set to
// O_NONBLOCK alone, in one call (a socket has no other flag to keep).
func NewFile(fd int, name string) (*os.File, error) {
	if _, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_SETFL, syscall.O_NONBLOCK); e != 0 {
		syscall.Close(fd)
		return nil, e
	}
	return os.NewFile(uintptr(fd), name), nil
}

// Read and Write make their system calls raw (raw.go). A timeout is
// os.ErrDeadlineExceeded itself, which crypto/tls takes as temporary (the
// *os.PathError os.File would wrap it in would break the connection for
// good).
func (c *Conn) Read(b []byte) (int, error) { return c.r.Read(b) }

// Write writes all of b, or fails: EPIPE, not SIGPIPE, once the peer is gone.
func (c *Conn) Write(b []byte) (int, error) { return c.w.Write(b) }

// Close closes the socket.
func (c *Conn) Close() error { return c.f.Close() }

// CloseWrite shuts the socket down for writing: the peer reads the end.
func (c *Conn) CloseWrite() error { return Shutdown(c.raw, syscall.SHUT_WR) }

// Control runs f on the descriptor, for socket options.
func (c *Conn) Control(f func(fd int)) error {
	return c.raw.Control(func(fd uintptr) { f(int(fd)) })
}

func (c *Conn) LocalAddr() net.Addr                { return net.TCPAddrFromAddrPort(c.local) }
func (c *Conn) RemoteAddr() net.Addr               { return net.TCPAddrFromAddrPort(c.remote) }
func (c *Conn) SetDeadline(t time.Time) error      { return c.f.SetDeadline(t) }
func (c *Conn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

// Shutdown shuts a socket down for reading, writing or both (how).
func Shutdown(raw syscall.RawConn, how int) error {
	var err error
	if cerr := raw.Control(func(fd uintptr) { err = shutdown(fd, how) }); cerr != nil {
		return cerr
	}
	return err
}

// Socketpair returns a connected pair of stream sockets, close-on-exec: ours,
// non-blocking in the poller, and theirs, a blocking descriptor for a program.
func Socketpair() (ours *os.File, theirs int, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, -1, err
	}
	if ours, err = NewFile(fds[0], "program"); err != nil {
		syscall.Close(fds[1])
		return nil, -1, err
	}
	return ours, fds[1], nil
}

// ErrTLSAhead is Plain's way of saying that what comes next is the start of a
// TLS handshake: the clear text is over.
var ErrTLSAhead = errors.New("TLS handshake ahead")

// Plain is the socket before UCSPI-TLS's switch, as a Pipe's Peer. It reads
// the client's clear text but never the start of a TLS handshake record: that
// stays in the socket for the server's handshake, whenever the program's
// request for TLS arrives. (A client sends its ClientHello as soon as it has
// the program's go-ahead, which may be before the server has the request.)
// Text protocols never send the bytes of a record header, 0x16 0x03.
type Plain struct{ *Conn }

func (p Plain) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	if rerr := p.raw.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
				syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
			if e != syscall.EINTR {
				n, errno = int(r), e
				return e != syscall.EAGAIN
			}
		}
	}); rerr != nil {
		return 0, rerr
	}
	switch {
	case errno != 0:
		return 0, errno
	case n == 0:
		return 0, io.EOF
	}
	if i := recordAhead(b[:n]); i >= 0 {
		if i == 0 {
			return 0, ErrTLSAhead
		}
		n = i
	}
	// Take in what was looked at: it is there, so this does not wait.
	return p.r.Read(b[:n])
}

// recordAhead is where in b a TLS handshake record may begin (0x16, 0x03,
// 0x00 to 0x04, or a prefix of that at the end of b), -1 if nowhere.
func recordAhead(b []byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] != 0x16 {
			continue
		}
		if i+1 == len(b) || b[i+1] == 0x03 && (i+2 == len(b) || b[i+2] <= 0x04) {
			return i
		}
	}
	return -1
}
