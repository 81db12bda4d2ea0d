package exit

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// reason is the text djb's error_str gives errno; ours prints the same words
// so that scripts and people grepping logs see what they saw under 0.88. A
// switch, not a map: a map would be built at every start of every applet.
func reason(errno syscall.Errno) (string, bool) {
	switch errno {
	case syscall.EINTR:
		return "interrupted system call", true
	case syscall.ENOMEM:
		return "out of memory", true
	case syscall.ENOENT:
		return "file does not exist", true
	case syscall.ETXTBSY:
		return "text busy", true
	case syscall.EIO:
		return "input/output error", true
	case syscall.EEXIST:
		return "file already exists", true
	case syscall.ETIMEDOUT:
		return "timed out", true
	case syscall.EINPROGRESS:
		return "operation in progress", true
	case syscall.EAGAIN:
		return "temporary failure", true
	case syscall.EPIPE:
		return "broken pipe", true
	case syscall.EPERM:
		return "permission denied", true
	case syscall.EACCES:
		return "access denied", true
	case syscall.ENXIO:
		return "device not configured", true
	case syscall.EPROTO:
		return "protocol error", true
	case syscall.EISDIR:
		return "is a directory", true
	case syscall.ESRCH:
		return "no such process", true
	case syscall.E2BIG:
		return "argument list too long", true
	case syscall.ENOEXEC:
		return "exec format error", true
	case syscall.EBADF:
		return "file descriptor not open", true
	case syscall.ECHILD:
		return "no child processes", true
	case syscall.EDEADLK:
		return "operation would cause deadlock", true
	case syscall.EFAULT:
		return "bad address", true
	case syscall.ENOTBLK:
		return "not a block device", true
	case syscall.EBUSY:
		return "device busy", true
	case syscall.EXDEV:
		return "cross-device link", true
	case syscall.ENODEV:
		return "device does not support operation", true
	case syscall.ENOTDIR:
		return "not a directory", true
	case syscall.EINVAL:
		return "invalid argument", true
	case syscall.ENFILE:
		return "system cannot open more files", true
	case syscall.EMFILE:
		return "process cannot open more files", true
	case syscall.ENOTTY:
		return "not a tty", true
	case syscall.EFBIG:
		return "file too big", true
	case syscall.ENOSPC:
		return "out of disk space", true
	case syscall.ESPIPE:
		return "unseekable descriptor", true
	case syscall.EROFS:
		return "read-only file system", true
	case syscall.EMLINK:
		return "too many links", true
	case syscall.EDOM:
		return "input out of range", true
	case syscall.ERANGE:
		return "output out of range", true
	case syscall.EALREADY:
		return "operation already in progress", true
	case syscall.ENOTSOCK:
		return "not a socket", true
	case syscall.EDESTADDRREQ:
		return "destination address required", true
	case syscall.EMSGSIZE:
		return "message too long", true
	case syscall.EPROTOTYPE:
		return "incorrect protocol type", true
	case syscall.ENOPROTOOPT:
		return "protocol not available", true
	case syscall.EPROTONOSUPPORT:
		return "protocol not supported", true
	case syscall.ESOCKTNOSUPPORT:
		return "socket type not supported", true
	case syscall.EOPNOTSUPP:
		return "operation not supported", true
	case syscall.EPFNOSUPPORT:
		return "protocol family not supported", true
	case syscall.EAFNOSUPPORT:
		return "address family not supported", true
	case syscall.EADDRINUSE:
		return "address already used", true
	case syscall.EADDRNOTAVAIL:
		return "address not available", true
	case syscall.ENETDOWN:
		return "network down", true
	case syscall.ENETUNREACH:
		return "network unreachable", true
	case syscall.ENETRESET:
		return "network reset", true
	case syscall.ECONNABORTED:
		return "connection aborted", true
	case syscall.ECONNRESET:
		return "connection reset", true
	case syscall.ENOBUFS:
		return "out of buffer space", true
	case syscall.EISCONN:
		return "already connected", true
	case syscall.ENOTCONN:
		return "not connected", true
	case syscall.ESHUTDOWN:
		return "socket shut down", true
	case syscall.ETOOMANYREFS:
		return "too many references", true
	case syscall.ECONNREFUSED:
		return "connection refused", true
	case syscall.ELOOP:
		return "symbolic link loop", true
	case syscall.ENAMETOOLONG:
		return "file name too long", true
	case syscall.EHOSTDOWN:
		return "host down", true
	case syscall.EHOSTUNREACH:
		return "host unreachable", true
	case syscall.ENOTEMPTY:
		return "directory not empty", true
	case syscall.EUSERS:
		return "too many users", true
	case syscall.EDQUOT:
		return "disk quota exceeded", true
	case syscall.ESTALE:
		return "stale NFS file handle", true
	case syscall.EREMOTE:
		return "too many levels of remote in path", true
	}
	return "", false
}

// Reason is djb's error_str for err: the errno's words when err wraps one,
// "timed out" for a deadline, otherwise Go's own text.
func Reason(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if s, ok := reason(errno); ok {
			return s
		}
		return "error " + errno.Error()
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timed out"
	case errors.Is(err, fs.ErrNotExist):
		return "file does not exist"
	}
	return err.Error()
}
