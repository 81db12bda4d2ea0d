package ssl

import (
	"io"
	"os"
	"sync/atomic"
	"syscall"
)

// UCSPI-TLS's control descriptor, the server's side: the program's one-byte
// request, and the variables sent back after "Y".

// Command waits for the program's request on ctl and returns it ('y' or 'Y'
// start TLS; anything else is the program's mistake), or io.EOF when the
// program closed ctl without one. It sets seen before taking the byte in, so
// that someone asking Pending in between learns that a request came.
func Command(ctl *os.File, seen *atomic.Bool) (byte, error) {
	raw, err := ctl.SyscallConn()
	if err != nil {
		return 0, err
	}
	var b [1]byte
	var n int
	var rerr error
	err = raw.Read(func(fd uintptr) bool {
		n, _, rerr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return rerr != syscall.EAGAIN
	})
	switch {
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, rerr
	case n == 0:
		return 0, io.EOF
	}
	seen.Store(true)
	if _, err := io.ReadFull(ctl, b[:]); err != nil {
		return 0, err
	}
	return b[0], nil
}

// Pending reports whether a request waits unread on ctl.
func Pending(ctl *os.File) bool {
	raw, err := ctl.SyscallConn()
	if err != nil {
		return false
	}
	pending := false
	raw.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		pending = err == nil && n == 1
	})
	return pending
}

// AppendEnv appends vars as "VAR=value" NUL ... NUL: the form the program
// reads from SSLCTLFD after "Y" (and ucspi-ssl's pathexec_multienv takes).
func AppendEnv(b []byte, vars []string) []byte {
	for _, kv := range vars {
		b = append(b, kv...)
		b = append(b, 0)
	}
	return append(b, 0)
}
