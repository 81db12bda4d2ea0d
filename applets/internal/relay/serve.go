package relay

import (
	"golang.org/x/sys/unix"
)

// A Convert appends src, changed as it should be on its way, to dst. A Convert
// may keep state from one piece to the next.
type Convert func(dst, src []byte) []byte

// Options says what the relay does to each direction.
type Options struct {
	// ToProgram and FromProgram change the bytes going in and out; nil copies
	// them unchanged.
	ToProgram, FromProgram Convert
	// Record asks for recordio's records of every piece read in either
	// direction and of the end of each, on descriptor 2, each written before
	// the bytes move on.
	Record bool
}

// readSize is the most one read takes in: a pipe's capacity.
const readSize = 64 << 10

// pipeBuf is the most written to a descriptor the relay shares with others
// (standard output) after poll says it is writable: a blocking write of that
// much to a pipe with room cannot block.
const pipeBuf = 4096

// A flow is one direction of the relay.
type flow struct {
	from, to int
	dir      byte // '<' for what the program reads, '>' for what it writes
	convert  Convert
	limit    int // the most one write may carry
	buf      []byte
	out      []byte // converted bytes not yet written, out[pos:]
	pos      int
	state    int
}

const (
	reading = iota
	writing
	done
)

// Serve is the relay: it copies descriptor 0 to the program's input and the
// program's output to descriptor 1, each direction on its own, until both are
// over. The input is over when descriptor 0 ends (the program then sees the end
// of its input) or when the program can no longer read it; the output is over
// when the program's output ends (descriptor 1 is then closed, and shut down for
// writing if it is a socket, so the end reaches the other side) or when
// descriptor 1 can no longer be written (the program then gets SIGPIPE). So a
// program may close its output and go on reading, or read to the end and go on
// writing, and a program that exits ends the relay at once. A program that
// writes before it reads cannot deadlock the relay: each direction waits only
// for its own descriptors.
//
// pid is the program's process id, for the records.
func Serve(pid string, opt Options) {
	in := &flow{from: 0, to: toProgram, dir: '<', convert: opt.ToProgram, limit: readSize * 2}
	out := &flow{from: fromProgram, to: 1, dir: '>', convert: opt.FromProgram, limit: pipeBuf}
	// The relay alone holds these two open file descriptions, so they may be
	// non-blocking; 0 and 1 are shared with others and stay as they are.
	unix.SetNonblock(toProgram, true)
	unix.SetNonblock(fromProgram, true)
	if isRegular(1) {
		out.limit = readSize * 2
	}
	for _, f := range []*flow{in, out} {
		f.buf = make([]byte, readSize)
		if f.convert != nil {
			f.out = make([]byte, 0, 2*readSize)
		}
	}
	var rec *Recorder
	if opt.Record {
		rec = NewRecorder(fdWriter(2), pid)
	}

	fds := make([]unix.PollFd, 0, 4)
	for in.state != done || out.state != done {
		fds = fds[:0]
		inFrom, inTo, outFrom, outTo := -1, -1, -1, -1
		switch in.state {
		case reading:
			inFrom = len(fds)
			fds = append(fds, unix.PollFd{Fd: 0, Events: unix.POLLIN})
			// No events asked: poll still says POLLERR once the program's end
			// of the pipe is closed.
			inTo = len(fds)
			fds = append(fds, unix.PollFd{Fd: toProgram})
		case writing:
			inTo = len(fds)
			fds = append(fds, unix.PollFd{Fd: toProgram, Events: unix.POLLOUT})
		}
		switch out.state {
		case reading:
			outFrom = len(fds)
			fds = append(fds, unix.PollFd{Fd: fromProgram, Events: unix.POLLIN})
		case writing:
			outTo = len(fds)
			fds = append(fds, unix.PollFd{Fd: 1, Events: unix.POLLOUT})
		}
		if _, err := unix.Poll(fds, -1); err == unix.EINTR {
			continue // the Go runtime's own signals interrupt poll
		} else if err != nil {
			return // out of memory, say: give up rather than spin
		}
		ready := func(i int) bool { return i >= 0 && fds[i].Revents != 0 }

		switch {
		case in.state == reading && ready(inFrom):
			// First, as in 0.88: what is there already is read and recorded
			// even if the program has gone, and fails when passed on.
			in.read(rec)
		case in.state == reading && ready(inTo):
			// The program closed its input (or exited): what is still to come
			// on descriptor 0 has nowhere to go.
			in.stop()
		case in.state == writing && ready(inTo):
			in.write()
		}
		switch {
		case out.state == reading && ready(outFrom):
			out.read(rec)
		case out.state == writing && ready(outTo):
			out.write()
		}
	}
}

// read takes in what is there, records it and converts it; at the end of the
// input, it passes the end on.
func (f *flow) read(rec *Recorder) {
	n, err := unix.Read(f.from, f.buf)
	if err == unix.EINTR || err == unix.EAGAIN {
		return
	}
	if n <= 0 {
		if rec != nil {
			rec.EOF(f.dir)
		}
		if f.to == 1 {
			unix.Shutdown(1, unix.SHUT_WR) // fails harmlessly on a non-socket
		}
		unix.Close(f.to)
		f.state = done
		return
	}
	data := f.buf[:n]
	if rec != nil {
		rec.Data(f.dir, data)
	}
	if f.convert != nil {
		data = f.convert(f.out[:0], data)
	}
	f.out, f.pos, f.state = data, 0, writing
}

// write sends on what it can of the converted bytes.
func (f *flow) write() {
	chunk := f.out[f.pos:]
	if len(chunk) > f.limit {
		chunk = chunk[:f.limit]
	}
	n, err := unix.Write(f.to, chunk)
	if err == unix.EINTR || err == unix.EAGAIN {
		return
	}
	if err != nil || n <= 0 {
		f.stop()
		return
	}
	f.pos += n
	if f.pos == len(f.out) {
		f.state = reading
	}
}

// stop gives up a direction whose far end is gone: closing the other end passes
// that on (the program gets the end of its input, or SIGPIPE on its output).
func (f *flow) stop() {
	if f.to == toProgram {
		unix.Close(toProgram)
	} else {
		unix.Close(fromProgram)
	}
	f.state = done
}

func isRegular(fd int) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG
}

// fdWriter writes to a descriptor directly: a failed write to standard error
// is then just an error, where os.Stderr would kill the relay with SIGPIPE.
type fdWriter int

func (fd fdWriter) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		n, err := unix.Write(int(fd), p[written:])
		switch {
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, -1)
		case err != nil:
			return written, err
		default:
			written += n
		}
	}
	return written, nil
}
