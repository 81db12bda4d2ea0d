package dns

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// The exchange, as djb's dns_transmit.c does it for a recursive question: over
// UDP, each server in turn, in three rounds waiting 3, 11 and 45 seconds for
// each (djb's schedule 1, 3, 11, 45 starts at its second step for recursive
// questions); over TCP, each server for 10 seconds, when an answer comes back
// truncated. Every attempt has a new random id and a new socket bound to a
// random port. What makes an attempt fail, and which error the lookup ends
// with, follows djb's code too: a refused port or a SERVFAIL moves on to the
// next server at once, except in the second round, where the attempt waits out
// its 11 seconds in case a good answer follows.

// schedule is the wait for each UDP round, and tcpWait the time for each TCP
// stage (connect and send, then receive).
var (
	schedule = [3]time.Duration{3 * time.Second, 11 * time.Second, 45 * time.Second}
	tcpWait  = 10 * time.Second
)

// patientRound is the round whose attempts ignore errors and failures and wait
// for their whole time (djb's udploop == 2).
const patientRound = 1

// maxUDP is the size of djb's receive buffer: a datagram that fills it is
// ignored, as one longer than 512 bytes.
const maxUDP = 513

// exchange is one question on its way.
type exchange struct {
	ctx      context.Context
	servers  []netip.Addr
	q        []byte // the question's name, wire form
	qtype    uint16
	query    []byte // the packet with TCP's length in front; the id at [2:4]
	schedule [3]time.Duration
	tcpWait  time.Duration
}

// run asks the servers until one answers, and returns the answer.
func (x *exchange) run() ([]byte, error) {
	x.query = appendQuery(make([]byte, 0, 2+12+len(x.q)+4), 0, x.q, x.qtype)
	if len(x.query)-2 > 512 {
		return x.overTCP()
	}
	var err error = syscall.EIO // no server to ask
	for round, wait := range x.schedule {
		for _, server := range x.servers {
			if server.IsUnspecified() {
				continue
			}
			answer, tc, e := x.udp(server, wait, round == patientRound)
			switch {
			case answer != nil:
				return answer, nil
			case tc:
				return x.overTCP()
			case errors.Is(e, errFatal):
				return nil, errors.Unwrap(e)
			case x.ctx.Err() != nil:
				return nil, x.ctxErr()
			}
			err = e
		}
	}
	return nil, err
}

// errFatal marks an error that ends the whole lookup: no socket could be
// made or bound (djb's library gives up then too).
var errFatal = errors.New("fatal")

type fatal struct{ err error }

func (f fatal) Error() string        { return f.err.Error() }
func (f fatal) Is(target error) bool { return target == errFatal }
func (f fatal) Unwrap() error        { return f.err }

// udp makes one attempt over UDP: the answer, or tc when the server wants the
// question over TCP, or why the attempt failed.
func (x *exchange) udp(server netip.Addr, wait time.Duration, patient bool) (answer []byte, tc bool, err error) {
	id := x.newID()
	f, err := x.open(server, syscall.SOCK_DGRAM, time.Time{})
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	if _, err := f.Write(x.query[2:]); err != nil {
		return nil, false, errnoOf(err)
	}
	f.SetReadDeadline(x.deadline(wait))
	buf := make([]byte, maxUDP)
	for {
		n, err := f.Read(buf)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, false, syscall.ETIMEDOUT
		case err != nil && patient:
			continue
		case err != nil:
			return nil, false, x.timeoutOr(err)
		case n == maxUDP || x.irrelevant(buf[:n], id):
			continue
		}
		p := buf[:n]
		h, _ := readHeader(p)
		switch {
		case h.tc:
			return nil, true, nil
		case failed(h) && patient:
			continue
		case failed(h):
			return nil, false, syscall.EAGAIN
		}
		return append([]byte(nil), p...), false, nil
	}
}

// overTCP asks each server in turn over TCP, from the first.
func (x *exchange) overTCP() ([]byte, error) {
	var err error = syscall.EIO
	for _, server := range x.servers {
		if server.IsUnspecified() {
			continue
		}
		answer, e := x.tcp(server)
		switch {
		case answer != nil:
			return answer, nil
		case errors.Is(e, errFatal):
			return nil, errors.Unwrap(e)
		case x.ctx.Err() != nil:
			return nil, x.ctxErr()
		}
		err = e
	}
	return nil, err
}

// tcp makes one attempt over TCP: connect and send within tcpWait, then
// receive the answer within tcpWait.
func (x *exchange) tcp(server netip.Addr) ([]byte, error) {
	id := x.newID()
	deadline := x.deadline(x.tcpWait)
	f, err := x.open(server, syscall.SOCK_STREAM, deadline)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	f.SetDeadline(deadline)
	if _, err := f.Write(x.query); err != nil {
		return nil, x.timeoutOr(err)
	}
	f.SetDeadline(x.deadline(x.tcpWait))
	var size [2]byte
	if _, err := io.ReadFull(f, size[:]); err != nil {
		return nil, x.timeoutOr(err)
	}
	p := make([]byte, int(size[0])<<8|int(size[1]))
	if _, err := io.ReadFull(f, p); err != nil || len(p) == 0 {
		return nil, x.timeoutOr(err)
	}
	h, _ := readHeader(p)
	switch {
	case x.irrelevant(p, id), h.tc:
		return nil, syscall.EIO
	case failed(h):
		return nil, syscall.EAGAIN
	}
	return p, nil
}

// open makes the socket for one attempt, bound to a random port and
// connected to server's port 53 (over TCP, by deadline). Failing to make or
// bind the socket is fatal to the lookup; failing to connect is not. Its
// waits end early when the lookup is cancelled.
func (x *exchange) open(server netip.Addr, sotype int, deadline time.Time) (*socket, error) {
	family := syscall.AF_INET
	var sa syscall.Sockaddr = &syscall.SockaddrInet4{Port: 53, Addr: server.As4()}
	if server.Is6() {
		family = syscall.AF_INET6
		sa = &syscall.SockaddrInet6{Port: 53, Addr: server.As16()}
	}
	fd, err := syscall.Socket(family, sotype|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fatal{err}
	}
	if err := randomBind(fd, family); err != nil {
		syscall.Close(fd)
		return nil, fatal{err}
	}
	f := &socket{File: os.NewFile(uintptr(fd), "dns")}
	if x.ctx.Done() != nil {
		f.stop = context.AfterFunc(x.ctx, func() { f.SetDeadline(time.Unix(1, 0)) })
	}
	if sotype == syscall.SOCK_DGRAM {
		if err := syscall.Connect(fd, sa); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
	if err := connectTCP(f.File, sa, deadline); err != nil {
		f.Close()
		return nil, x.timeoutOr(err)
	}
	return f, nil
}

// randomBind is djb's randombind: ten tries at a random port from 1025 up,
// then any port.
func randomBind(fd, family int) error {
	sa := func(port int) syscall.Sockaddr {
		if family == syscall.AF_INET6 {
			return &syscall.SockaddrInet6{Port: port}
		}
		return &syscall.SockaddrInet4{Port: port}
	}
	for range 10 {
		if syscall.Bind(fd, sa(1025+rand.IntN(64510))) == nil {
			return nil
		}
	}
	return syscall.Bind(fd, sa(0))
}

// connectTCP connects f's socket to sa, waiting in Go's poller until
// deadline.
func connectTCP(f *os.File, sa syscall.Sockaddr, deadline time.Time) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	f.SetWriteDeadline(deadline)
	var result error
	err = rc.Write(func(fd uintptr) bool {
		// A second connect reports how the first one went.
		switch err := syscall.Connect(int(fd), sa); err {
		case syscall.EINPROGRESS, syscall.EALREADY, syscall.EINTR:
			return false
		case nil, syscall.EISCONN:
			result = nil
		default:
			result = err
		}
		return true
	})
	if err != nil {
		return err
	}
	return result
}

// newID puts a random id into the query, for this attempt alone.
func (x *exchange) newID() uint16 {
	id := uint16(rand.Uint32())
	x.query[2], x.query[3] = byte(id>>8), byte(id)
	return id
}

// irrelevant is djb's test of whether p answers our question: the same id,
// one question, our name (in any case), our type, class IN.
func (x *exchange) irrelevant(p []byte, id uint16) bool {
	h, ok := readHeader(p)
	if !ok || h.id != id || h.qdcount != 1 {
		return true
	}
	name, pos, ok := getName(p, 12)
	if !ok || !equalNames(name, x.q) || pos+4 > len(p) {
		return true
	}
	return int(p[pos])<<8|int(p[pos+1]) != int(x.qtype) || p[pos+2] != 0 || p[pos+3] != classIN
}

// failed is djb's serverfailed: an error other than NXDOMAIN (which is an
// answer: there are no records).
func failed(h header) bool { return h.rcode != 0 && h.rcode != 3 }

// deadline is wait from now, or the lookup's own deadline when that comes
// first.
func (x *exchange) deadline(wait time.Duration) time.Time {
	d := time.Now().Add(wait)
	if cd, ok := x.ctx.Deadline(); ok && cd.Before(d) {
		return cd
	}
	return d
}

// socket is an attempt's socket, in Go's poller.
type socket struct {
	*os.File
	stop func() bool // stops watching for the lookup's cancellation
}

func (s *socket) Close() error {
	if s.stop != nil {
		s.stop()
	}
	return s.File.Close()
}

// ctxErr is why the lookup was cut short: a timeout for its deadline.
func (x *exchange) ctxErr() error {
	if errors.Is(x.ctx.Err(), context.DeadlineExceeded) {
		return syscall.ETIMEDOUT
	}
	return x.ctx.Err()
}

// timeoutOr is err as djb's library reports it: a deadline is "timed out",
// the end of a stream "input/output error", else the system error.
func (x *exchange) timeoutOr(err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return syscall.ETIMEDOUT
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return syscall.EIO
	}
	return errnoOf(err)
}

// errnoOf is the system error inside err, or err.
func errnoOf(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}
