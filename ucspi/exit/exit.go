// Package exit carries a failure's 0.88 message and exit status from wherever it
// happens to the one place (the applet's entry point) that prints it and exits.
package exit

import (
	"errors"
	"strings"
)

// The two exit codes of ucspi-tcp: the caller asked for something wrong, or a
// temporary problem that may go away if the caller tries again.
const (
	Permanent = 100
	Temporary = 111
)

// Kind says how the entry point reports an Error before exiting with its Code.
type Kind uint8

const (
	// Message prints "prog: " + Text.
	Message Kind = iota
	// UsageLine prints "prog: " + Text when there is a Text (what was wrong,
	// as getopt's "illegal option -- z"), then the applet's usage line.
	UsageLine
	// Silent prints nothing: the exit status says all there is to say.
	Silent
)

// Error is a failure as 0.88 reports it: Kind says what is printed, Code is the
// exit status.
type Error struct {
	Code int
	Kind Kind
	Text string
}

func (e *Error) Error() string { return e.Text }

// Fatal is 0.88's strerr_die shape: "fatal: " followed by the parts.
func Fatal(code int, parts ...string) *Error {
	return &Error{Code: code, Text: "fatal: " + strings.Join(parts, "")}
}

// FatalSys is Fatal with the reason for err appended, as strerr_die*sys does.
func FatalSys(code int, err error, parts ...string) *Error {
	return Fatal(code, strings.Join(parts, "")+Reason(err))
}

// Usage asks the entry point to print the applet's usage line and exit 100.
func Usage() *Error { return &Error{Code: Permanent, Kind: UsageLine} }

// BadUsage is Usage with a line saying what was wrong printed first.
func BadUsage(parts ...string) *Error {
	return &Error{Code: Permanent, Kind: UsageLine, Text: strings.Join(parts, "")}
}

// Status is a silent exit with the given code, for programs like tcprulescheck or a
// failed tcpclient -q whose status says all there is to say.
func Status(code int) *Error { return &Error{Code: code, Kind: Silent} }

// As returns err as an *Error, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
