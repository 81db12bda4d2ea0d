package relay

import (
	"bytes"
	"io"
)

// packetSize is how much of a packet one record holds at most, 0.88's read size:
// a record never carries more than this, whatever the relay reads at once, so the
// records are those 0.88 makes when it reads the same bytes.
const packetSize = 256

// atomicSize is the most written to the record descriptor at once: a write of at
// most PIPE_BUF bytes to a pipe is never interleaved with another writer's (the
// program's own standard error is often the same pipe), and only whole records
// are written, so each record line stays in one piece.
const atomicSize = 4096

// A Recorder writes recordio's records: for each packet the program read or
// wrote, "PID < " or "PID > ", then each of its lines with the newline shown as
// a trailing space, or with a "+" when the packet ends before the line does; and
// "PID < [EOF]" or "PID > [EOF]" at the end of each direction.
type Recorder struct {
	w   io.Writer
	pid string
	buf []byte
}

// NewRecorder makes a Recorder writing records for pid to w.
func NewRecorder(w io.Writer, pid string) *Recorder {
	return &Recorder{w: w, pid: pid, buf: make([]byte, 0, atomicSize)}
}

var (
	newline = []byte(" \n")
	partial = []byte("+\n")
	eof     = []byte("[EOF]")
)

// Data records a packet going in direction dir ('<' or '>').
func (r *Recorder) Data(dir byte, packet []byte) {
	for len(packet) > 0 {
		p := packet[:min(len(packet), packetSize)]
		packet = packet[len(p):]
		for len(p) > 0 {
			line, end := p, partial
			if i := bytes.IndexByte(p, '\n'); i >= 0 {
				line, end = p[:i], newline
			}
			p = p[min(len(line)+1, len(p)):]
			r.add(dir, line, end)
		}
	}
	r.flush()
}

// EOF records the end of direction dir.
func (r *Recorder) EOF(dir byte) {
	r.add(dir, eof, []byte{'\n'})
	r.flush()
}

func (r *Recorder) add(dir byte, text, end []byte) {
	if len(r.buf)+len(r.pid)+3+len(text)+len(end) > atomicSize {
		r.flush()
	}
	r.buf = append(r.buf, r.pid...)
	r.buf = append(r.buf, ' ', dir, ' ')
	r.buf = append(r.buf, text...)
	r.buf = append(r.buf, end...)
}

// flush writes the records gathered; like 0.88, a record that cannot be
// written is dropped and the data still flows.
func (r *Recorder) flush() {
	if len(r.buf) > 0 {
		r.w.Write(r.buf)
		r.buf = r.buf[:0]
	}
}
