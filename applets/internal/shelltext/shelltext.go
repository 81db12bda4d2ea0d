// Package shelltext reproduces, byte for byte, what the shell tools in 0.88's
// sample-client scripts printed (cat -v, dash's echo, http@'s awk filter), so
// that those clients can run in-process where there is no shell.
package shelltext

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"syscall"
)

// AppendCatV appends src to dst in cat -v's notation: control characters as
// ^X (except tab and newline), DEL as ^?, bytes with the high bit as M- and
// the notation of the low seven bits.
func AppendCatV(dst, src []byte) []byte {
	for _, c := range src {
		switch {
		case c >= 32 && c < 127, c == '\t', c == '\n':
			dst = append(dst, c)
		case c < 32:
			dst = append(dst, '^', c+64)
		case c == 127:
			dst = append(dst, '^', '?')
		case c >= 128+32 && c < 128+127:
			dst = append(dst, 'M', '-', c-128)
		case c == 128+127:
			dst = append(dst, 'M', '-', '^', '?')
		default:
			dst = append(dst, 'M', '-', '^', c-128+64)
		}
	}
	return dst
}

// DashEcho is what Debian's /bin/sh (dash) prints for echo "s": backslash
// escapes interpreted (\a \b \e \f \n \r \t \v \\, octal \0nnn and \nnn, \c
// ending the output there, anything else kept as it is), then a newline. With
// option, an argument of exactly "-n" is echo's option and prints nothing.
func DashEcho(s string, option bool) []byte {
	if option && s == "-n" {
		return nil
	}
	out := make([]byte, 0, len(s)+1)
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			out = append(out, s[i])
			continue
		}
		c := s[i+1]
		if simple := strings.IndexByte("abefnrtv\\", c); simple >= 0 {
			out = append(out, "\a\b\x1b\f\n\r\t\v\\"[simple])
			i++
			continue
		}
		switch {
		case c == 'c':
			return out
		case c >= '0' && c <= '7':
			// Three octal digits at most, not counting the 0 of \0nnn.
			j := i + 1
			if c == '0' {
				j++
			}
			var v byte
			for digits := 3; digits > 0 && j < len(s) && s[j] >= '0' && s[j] <= '7'; digits, j = digits-1, j+1 {
				v = v<<3 | (s[j] - '0')
			}
			out = append(out, v)
			i = j - 1
		default:
			out = append(out, '\\')
		}
	}
	return append(out, '\n')
}

// BodyFilter is awk '/^$/ { body=1; next } { if (body) print }' on a stream:
// each line after the first empty one, empty lines dropped, a final partial
// line ended with a newline. It holds no more than one byte of state.
type BodyFilter struct {
	body   bool
	inLine bool // some of the current line has been seen
}

// Append appends the output for src to dst.
func (b *BodyFilter) Append(dst, src []byte) []byte {
	for len(src) > 0 {
		if !b.inLine {
			if src[0] == '\n' {
				b.body = true
				src = src[1:]
				continue
			}
			b.inLine = true
		}
		end := len(src)
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			end = i + 1
			b.inLine = false
		}
		if b.body {
			dst = append(dst, src[:end]...)
		}
		src = src[end:]
	}
	return dst
}

// Finish ends a final line that has no newline, as awk's print does.
func (b *BodyFilter) Finish(dst []byte) []byte {
	if b.inLine && b.body {
		dst = append(dst, '\n')
	}
	b.inLine = false
	return dst
}

// AwkOutput is the standard output of http@'s awk (mawk, Debian's awk): a
// stdio buffer the size of the output's blocks, written out when it
// overflows and at the end. So a failing output is noticed when the buffer
// first overflows (awk says "write failure" and stops) or only at the end
// ("close failed"); Err then holds awk's lines for stderr.
type AwkOutput struct {
	W    io.Writer
	Size int // the buffer's size: the output's block size (4096 for most)

	buf    []byte
	failed error
}

// Write keeps p, writing out the buffer when it holds more than Size bytes.
// After a failure it takes nothing more, and returns the failure.
func (a *AwkOutput) Write(p []byte) (int, error) {
	if a.failed != nil {
		return 0, a.failed
	}
	if a.buf = append(a.buf, p...); len(a.buf) > a.Size {
		if _, err := a.W.Write(a.buf); err != nil {
			a.failed = err
			return 0, err
		}
		a.buf = a.buf[:0]
	}
	return len(p), nil
}

// Close writes out what is left, as awk's exit does, and returns awk's
// messages if the output failed ("" if it did not).
func (a *AwkOutput) Close() string {
	var msg string
	if a.failed != nil {
		msg = "awk: write failure (" + Strerror(a.failed) + ")\n"
	}
	if len(a.buf) > 0 {
		if _, err := a.W.Write(a.buf); err != nil {
			msg += "awk: close failed on file /dev/stdout (" + Strerror(err) + ")\n"
		}
	}
	return msg
}

// Strerror is err's system message as the C library's strerror words it:
// "No space left on device" where Go says "no space left on device".
func Strerror(err error) string {
	var errno syscall.Errno
	msg := err.Error()
	if errors.As(err, &errno) {
		msg = errno.Error()
	}
	if msg != "" && msg[0] >= 'a' && msg[0] <= 'z' {
		msg = string(msg[0]-'a'+'A') + msg[1:]
	}
	return msg
}
