package rblsmtpd

import (
	"bufio"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// MaxText is how much of a rejection text reaches the client: 0.88's cap.
const MaxText = 200

// Reply is the rejection line (without CRLF) as 0.88 sends and logs it: the code,
// a space, the text cut to MaxText bytes, every byte outside ' '..'~' made '?'.
func (v Verdict) Reply() string {
	text := v.Text
	if len(text) > MaxText {
		text = text[:MaxText]
	}
	b := []byte(strconv.Itoa(v.Code) + " " + text)
	for i, c := range b {
		if c < 32 || c > 126 {
			b[i] = '?'
		}
	}
	return string(b)
}

// The answers of the conversation, word for word 0.88's.
const (
	Greeting = "220 rblsmtpd.local\r\n"
	OK       = "250 rblsmtpd.local\r\n"
	Goodbye  = "221 rblsmtpd.local\r\n"
)

// Converse holds 0.88's limited SMTP conversation with a blocked client: a
// greeting, 250 to HELO, EHLO, MAIL, RSET and NOOP, the reply (a rejection line
// with its CRLF) to every other command, 221 to QUIT. It ends at QUIT, at the
// end of the input, or when timeout has passed since it began, whatever the
// client is doing, or at SIGALRM; a zero timeout sends the reply alone,
// reading nothing. When it returns on the timeout, a goroutine may still be
// blocked reading in or writing out: the caller is expected to exit, as 0.88
// did on SIGALRM.
func Converse(in io.Reader, out io.Writer, reply string, timeout time.Duration) {
	if timeout <= 0 {
		io.WriteString(out, reply)
		return
	}
	// 0.88 timed the conversation with alarm() and caught SIGALRM to end it:
	// one sent by anyone else (svc -a) ends it too, and rblsmtpd exits 0.
	alarm := make(chan os.Signal, 1)
	signal.Notify(alarm, syscall.SIGALRM)
	done := make(chan struct{})
	go func() {
		defer close(done)
		converse(in, out, reply)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
	case <-alarm:
	}
}

func converse(in io.Reader, out io.Writer, reply string) {
	if _, err := io.WriteString(out, Greeting); err != nil {
		return
	}
	r := bufio.NewReaderSize(in, 512)
	for {
		verb, err := ReadVerb(r)
		if err != nil {
			return
		}
		answer := reply
		switch {
		case is(verb, "quit"):
			io.WriteString(out, Goodbye)
			return
		case is(verb, "helo"), is(verb, "ehlo"), is(verb, "mail"), is(verb, "rset"), is(verb, "noop"):
			answer = OK
		}
		if _, err := io.WriteString(out, answer); err != nil {
			return
		}
	}
}

// maxVerb bounds what ReadVerb keeps of a line: a verb longer than any of ours
// matches none, however long it goes on.
const maxVerb = 8

// ReadVerb reads one command line, as 0.88's commands() does, and returns its
// verb: the line up to its LF, less one CR before the LF, up to the first space;
// a NUL in the line counts as a line feed (so it matches no verb). A line cut
// short by the end of the input is no command: the error is io.EOF. Only the
// first maxVerb+1 bytes of the verb are kept, so a client cannot grow memory by
// sending an endless line.
func ReadVerb(r *bufio.Reader) (string, error) {
	var verb [maxVerb + 2]byte
	n := 0 // bytes of the verb kept, the last perhaps a CR
	inVerb := true
	for {
		c, err := r.ReadByte()
		if err != nil {
			return "", err
		}
		switch {
		case c == '\n':
			if inVerb && n > 0 && verb[n-1] == '\r' {
				n--
			}
			return string(verb[:n]), nil
		case !inVerb:
		case c == ' ':
			inVerb = false
		case n < len(verb):
			if c == 0 {
				c = '\n'
			}
			verb[n] = c
			n++
		default:
			// Keep the verb one byte too long for any match, and its last byte
			// a non-CR so that dropping a CR cannot shorten it.
			verb[n-1] = 'x'
		}
	}
}

// is reports whether verb is word (lower case) in ASCII letters of either
// case, as djb's case_equals compares.
func is(verb, word string) bool {
	if len(verb) != len(word) {
		return false
	}
	for i := 0; i < len(verb); i++ {
		c := verb[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != word[i] {
			return false
		}
	}
	return true
}
