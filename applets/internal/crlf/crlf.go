// Package crlf converts between the network's CR LF line ends and Unix's LF, as
// addcr, delcr and fixcrio do, on streams of any bytes (NULs and binary pass
// through) in constant memory.
//
// The streaming copies write what each read produced before reading again, as
// djb's buffer_0 flushes standard output before every read: a line typed at an
// interactive pipeline comes out at once, not when a buffer fills.
package crlf

import (
	"bytes"
	"errors"
	"io"
	"slices"
)

// bufSize is how much one read asks for: large enough that a gigabyte costs a few
// thousand system calls, small enough to stay in the CPU's cache.
const bufSize = 128 << 10

// AppendAddCR appends src to dst with a CR inserted before every LF.
func AppendAddCR(dst, src []byte) []byte {
	// Counting first lets the loop copy into place without append's checks,
	// which matter when lines are short.
	start, size := len(dst), len(src)+bytes.Count(src, lf)
	dst = slices.Grow(dst, size)[:start+size]
	out := dst[start:]
	for {
		i := bytes.IndexByte(src, '\n')
		if i < 0 {
			copy(out, src)
			return dst
		}
		n := copy(out, src[:i])
		out[n] = '\r'
		out[n+1] = '\n'
		out = out[n+2:]
		src = src[i+1:]
	}
}

var lf = []byte{'\n'}

// A Deleter removes the CR of every CR LF pair in a stream fed to it in pieces.
// A CR that ends one piece is held until the next piece shows what follows it.
type Deleter struct {
	heldCR bool
}

// Append appends src to dst with every CR LF turned into LF.
func (d *Deleter) Append(dst, src []byte) []byte {
	if d.heldCR && len(src) > 0 {
		d.heldCR = false
		if src[0] == '\n' {
			dst = append(dst, '\n')
			src = src[1:]
		} else {
			dst = append(dst, '\r')
		}
	}
	for {
		i := bytes.IndexByte(src, '\r')
		if i < 0 {
			return append(dst, src...)
		}
		dst = append(dst, src[:i]...)
		switch {
		case i+1 == len(src):
			d.heldCR = true
			return dst
		case src[i+1] == '\n':
			dst = append(dst, '\n')
			src = src[i+2:]
		default:
			// This CR stays; a CR right after it is looked at afresh, so
			// CR CR LF becomes CR LF.
			dst = append(dst, '\r')
			src = src[i+1:]
		}
	}
}

// Finish appends the CR still held at the end of the stream: a partial final
// line keeps its CR.
func (d *Deleter) Finish(dst []byte) []byte {
	if d.heldCR {
		d.heldCR = false
		dst = append(dst, '\r')
	}
	return dst
}

// A Fixer inserts a CR before every LF that does not already follow a CR, as
// fixcrio does in both directions, remembering the last byte of one piece for the
// next.
type Fixer struct {
	afterCR bool
}

// Append appends src to dst with a CR inserted before each bare LF.
func (f *Fixer) Append(dst, src []byte) []byte {
	if len(src) == 0 {
		return dst
	}
	afterCR := f.afterCR
	f.afterCR = src[len(src)-1] == '\r'
	for {
		i := bytes.IndexByte(src, '\n')
		if i < 0 {
			return append(dst, src...)
		}
		if i > 0 {
			afterCR = src[i-1] == '\r'
		}
		dst = append(dst, src[:i]...)
		if !afterCR {
			dst = append(dst, '\r')
		}
		dst = append(dst, '\n')
		src = src[i+1:]
		afterCR = false
	}
}

// AddCR copies src to dst inserting a CR before every LF, until src ends. It
// returns the number of bytes written and the first read or write error (not
// io.EOF).
func AddCR(dst io.Writer, src io.Reader) (int64, error) {
	return copyVia(dst, src, 2*bufSize, AppendAddCR, nil)
}

// DelCR copies src to dst removing the CR of every CR LF, until src ends. A CR
// that ends the stream is kept. It returns the number of bytes written and the
// first read or write error (not io.EOF).
func DelCR(dst io.Writer, src io.Reader) (int64, error) {
	var d Deleter
	return copyVia(dst, src, bufSize+1, d.Append, d.Finish)
}

// copyVia is the read, convert, write loop shared by AddCR and DelCR; outSize is
// the most one read of bufSize bytes can become.
func copyVia(dst io.Writer, src io.Reader, outSize int, convert func(dst, src []byte) []byte, finish func([]byte) []byte) (int64, error) {
	in := make([]byte, bufSize)
	out := make([]byte, 0, outSize)
	var written int64
	write := func(b []byte) error {
		if len(b) == 0 {
			return nil
		}
		n, err := dst.Write(b)
		written += int64(n)
		if err == nil && n < len(b) {
			err = io.ErrShortWrite
		}
		return err
	}
	for {
		n, rerr := src.Read(in)
		if n > 0 {
			if err := write(convert(out[:0], in[:n])); err != nil {
				return written, err
			}
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				return written, rerr
			}
			if finish != nil {
				if err := write(finish(out[:0])); err != nil {
					return written, err
				}
			}
			return written, nil
		}
	}
}
