package ssl

import (
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BufferSize is what a Pipe reads from the program at once: one TLS record
// of plaintext, so that a full read goes out as one record. The buffer comes
// from a pool for each read and goes back after the write, so that a
// connection waiting on its program holds none.
const BufferSize = 16 << 10

// InBufferSize is what a Pipe reads from the client at once. That buffer is
// held while the client is waited for (crypto/tls may hold records already
// read), so it is kept small; a larger record comes out in several reads.
const InBufferSize = 4 << 10

var buffers = sync.Pool{New: func() any { return new([BufferSize]byte) }}

// inBuffers hold toProgram's buffer, given back when that direction ends: a
// short connection takes one ready instead of making (and zeroing) its own.
var inBuffers = sync.Pool{New: func() any { return new([InBufferSize]byte) }}

// Peer is the network side of a Pipe: the *tls.Conn over the socket, or,
// before UCSPI-TLS's switch, the socket's Conn itself.
type Peer interface {
	Read([]byte) (int, error)
	Write([]byte) (int, error)
	CloseWrite() error // the end of what we send: close_notify, or FIN
}

// Pipe moves bytes between a Peer and the program's end of a socketpair, one
// goroutine per direction (see BufferSize and InBufferSize), until both
// directions are over. Each end passes on as a shutdown: the client's
// close_notify or FIN becomes the end of the program's input, the end of the
// program's output becomes close_notify and FIN, and the other direction
// goes on. A program that has let go of its end (exited) ends the connection
// even if the client says nothing more; a client that can no longer be
// written to makes the program's writes fail (EPIPE), as on a plain socket.
type Pipe struct {
	Net  Peer
	Sock *Conn    // the socket under Net: its deadlines, its final shutdown
	Prog *os.File // our end of the program's socketpair
	// Idle (0: none) ends the pipe when neither direction has moved a byte
	// for that long (up to half as long again: see arm), or when a write has
	// waited that long.
	Idle time.Duration
	// HoldEnd, if set, is asked when the program's output ends; true keeps
	// that end from the client (the program is switching to TLS and closed
	// its plaintext descriptors).
	HoldEnd func() bool
	// Fault, if set, sees what each read brought (tests inject failures).
	Fault func([]byte)
	// OnPanic is told of a panic in either direction, which is recovered
	// and ends this pipe only.
	OnPanic func(any)

	progRaw syscall.RawConn
	progW   *rawWriter
	// readProgram's state, its method value made once (no allocation a read)
	progBuf   *[BufferSize]byte
	progN     int
	progErrno syscall.Errno
	progRead  func(fd uintptr) bool
	armed     [4]time.Time // each wait's deadline, as arm last set it
	last      atomic.Int64 // when a byte last moved, in Unix nanoseconds
	stopped   atomic.Bool  // no new reads: Stop, or abort
	aborted   atomic.Bool  // nothing more at all: abort
}

// Run relays until both directions are over, and closes nothing.
func (p *Pipe) Run() {
	raw, err := p.Prog.SyscallConn()
	if err != nil {
		return
	}
	p.progRaw = raw
	p.progW = newRawWriter(raw)
	p.progRead = p.readOnce
	p.touch()
	done := make(chan struct{})
	go func() {
		recordStack()
		defer close(done)
		p.guard(p.fromProgram)
	}()
	p.guard(p.toProgram)
	<-done
}

// Stop ends both directions without losing what either has read: the waits
// for more input end at once, but what the program wrote before Stop still
// goes out (the reply it gave before asking for TLS). What the client sent
// meanwhile for the program's clear descriptor may be dropped: the program
// reads it no more. The deadlines stay in the past until the caller sets
// others.
func (p *Pipe) Stop() {
	p.stopped.Store(true)
	past := time.Unix(1, 0)
	p.Sock.SetReadDeadline(past)
	p.Prog.SetDeadline(past)
}

// abort ends both directions at once, writes in progress included.
func (p *Pipe) abort() {
	p.aborted.Store(true)
	p.Stop()
	p.Sock.SetWriteDeadline(time.Unix(1, 0))
}

// guard runs one direction and recovers a panic in it.
func (p *Pipe) guard(direction func()) {
	defer func() {
		if v := recover(); v != nil {
			p.abort()
			if p.OnPanic != nil {
				p.OnPanic(v)
			}
		}
	}()
	direction()
}

func (p *Pipe) touch() { p.last.Store(time.Now().UnixNano()) }

// The four waits of a Pipe, for arm: each side's reads and writes.
const (
	sockRead = iota
	sockWrite
	progRead
	progWrite
)

// arm readies a wait (one of the four above) and reports whether it may
// begin: reads not once the pipe is stopped, nothing once it is aborted. With
// Idle, the wait's deadline is set to Idle from now when less than half of
// Idle is left of it, so that a deadline is set about twice per Idle rather
// than for every read and write: a connection is dropped between Idle and
// 1.5 Idle after its last byte.
func (p *Pipe) arm(wait int) bool {
	if p.Idle > 0 {
		now := time.Now()
		if p.armed[wait].Sub(now) < p.Idle/2 {
			d := now.Add(p.Idle)
			switch wait {
			case sockRead:
				p.Sock.SetReadDeadline(d)
			case sockWrite:
				p.Sock.SetWriteDeadline(d)
			case progRead:
				p.Prog.SetReadDeadline(d)
			case progWrite:
				p.Prog.SetWriteDeadline(d)
			}
			p.armed[wait] = d
		}
	}
	// Checked after setting: Stop's and abort's deadlines in the past may
	// just have been overwritten.
	if wait == sockRead || wait == progRead {
		return !p.stopped.Load()
	}
	return !p.aborted.Load()
}

// ends reports whether err ends the direction that got it: anything but a
// timeout does; a timeout does if the pipe was stopped, or if neither
// direction moved for Idle (which aborts it). Otherwise the wait goes on.
func (p *Pipe) ends(err error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) || p.stopped.Load() {
		return true
	}
	if time.Since(time.Unix(0, p.last.Load())) >= p.Idle {
		p.abort()
		return true
	}
	return false
}

// toProgram copies what the client sends to the program, then passes the end
// on.
func (p *Pipe) toProgram() {
	in := inBuffers.Get().(*[InBufferSize]byte)
	defer inBuffers.Put(in)
	buf := in[:]
	for p.arm(sockRead) {
		n, err := p.Net.Read(buf)
		if n > 0 {
			p.touch()
			if p.Fault != nil {
				p.Fault(buf[:n])
			}
			if !p.arm(progWrite) {
				return
			}
			if _, werr := p.progW.Write(buf[:n]); werr != nil {
				if errors.Is(werr, os.ErrDeadlineExceeded) && !p.stopped.Load() {
					p.abort() // the program stopped reading for Idle
				}
				return // the program reads no more
			}
			p.touch()
		}
		if err == ErrTLSAhead {
			return // the clear text is over; the handshake reads on
		}
		if err != nil && p.ends(err) {
			break // the client's end, a failure, or the pipe's
		}
	}
	if !p.stopped.Load() {
		Shutdown(p.progRaw, syscall.SHUT_WR)
	}
}

// fromProgram copies what the program writes to the client, then passes the
// end on and waits for the program to let go of its end altogether.
func (p *Pipe) fromProgram() {
	for p.arm(progRead) {
		n, buf, err := p.readProgram()
		if n > 0 {
			p.touch()
			if p.Fault != nil {
				p.Fault(buf[:n])
			}
			if !p.arm(sockWrite) {
				return
			}
			_, werr := p.Net.Write(buf[:n])
			buffers.Put(buf)
			if werr != nil {
				// The client is gone: the program's writes fail from now on,
				// and nothing more is read from the client either.
				Shutdown(p.progRaw, syscall.SHUT_RD)
				p.abort()
				return
			}
			p.touch()
		}
		if err == io.EOF {
			break
		}
		if err != nil && p.ends(err) {
			return
		}
	}
	if p.stopped.Load() || p.HoldEnd != nil && p.HoldEnd() {
		return
	}
	if !p.arm(sockWrite) {
		return
	}
	p.Net.CloseWrite()
	p.Sock.CloseWrite()
	p.Prog.SetReadDeadline(time.Time{}) // the wait for the hangup has none
	if p.waitHangup() {
		// The program let go of its end: what the client might still send
		// has nowhere to go.
		p.abort()
	}
}

// readProgram waits for the program's output and reads what there is into a
// buffer from the pool, which it returns with the bytes (the caller puts it
// back): the buffer is taken only once there is something to read.
func (p *Pipe) readProgram() (int, *[BufferSize]byte, error) {
	if err := p.progRaw.Read(p.progRead); err != nil {
		return 0, nil, err
	}
	n, buf, errno := p.progN, p.progBuf, p.progErrno
	p.progBuf = nil
	var err error
	switch {
	case errno == syscall.EINTR:
		n = 0 // read again
	case errno != 0:
		n, err = 0, errno
	case n == 0:
		err = io.EOF
	}
	if n == 0 {
		buffers.Put(buf)
	}
	return n, buf, err
}

// readOnce is readProgram's read, raw (raw.go): a buffer is taken from the
// pool for it, and put back if there was nothing to read.
func (p *Pipe) readOnce(fd uintptr) bool {
	buf := buffers.Get().(*[BufferSize]byte)
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), BufferSize)
	if e == syscall.EAGAIN {
		buffers.Put(buf)
		return false
	}
	p.progBuf, p.progN, p.progErrno = buf, int(n), e
	return true
}

// waitHangup waits until the program's end is shut down both ways (the
// program closed it, or closed its output after we passed the client's end
// on) and reports whether that happened, rather than the pipe stopping.
func (p *Pipe) waitHangup() bool {
	hup := false
	p.progRaw.Read(func(fd uintptr) bool {
		if p.stopped.Load() {
			return true
		}
		pfd := unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
		var none unix.Timespec // look, do not wait
		n, _, e := syscall.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&none)), 0, 0, 0)
		hup = e == 0 && n > 0 && pfd.Revents&unix.POLLHUP != 0
		return hup
	})
	return hup && !p.stopped.Load()
}

// Drain copies what the program has already written to prog, without
// waiting for more, to w: the reply a program writes just before it asks for
// TLS.
func Drain(prog *os.File, w io.Writer) error {
	raw, err := prog.SyscallConn()
	if err != nil {
		return err
	}
	buf := make([]byte, BufferSize)
	for {
		var n int
		var rerr error
		if err := raw.Read(func(fd uintptr) bool {
			n, rerr = syscall.Read(int(fd), buf)
			return true // never wait
		}); err != nil {
			return err
		}
		if n <= 0 {
			// Nothing more now, the end, or a reset: a program that closes
			// its descriptor with unread input in it (commands pipelined
			// after STARTTLS) resets it.
			if rerr == nil || rerr == syscall.EAGAIN || rerr == syscall.ECONNRESET {
				return nil
			}
			return rerr
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
	}
}
