package exit

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// reasons holds the text djb's error_str gives each errno; ours prints the same words
// so that scripts and people grepping logs see what they saw under 0.88.
var reasons = map[syscall.Errno]string{
	syscall.EINTR:           "interrupted system call",
	syscall.ENOMEM:          "out of memory",
	syscall.ENOENT:          "file does not exist",
	syscall.ETXTBSY:         "text busy",
	syscall.EIO:             "input/output error",
	syscall.EEXIST:          "file already exists",
	syscall.ETIMEDOUT:       "timed out",
	syscall.EINPROGRESS:     "operation in progress",
	syscall.EAGAIN:          "temporary failure",
	syscall.EPIPE:           "broken pipe",
	syscall.EPERM:           "permission denied",
	syscall.EACCES:          "access denied",
	syscall.ENXIO:           "device not configured",
	syscall.EPROTO:          "protocol error",
	syscall.EISDIR:          "is a directory",
	syscall.ESRCH:           "no such process",
	syscall.E2BIG:           "argument list too long",
	syscall.ENOEXEC:         "exec format error",
	syscall.EBADF:           "file descriptor not open",
	syscall.ECHILD:          "no child processes",
	syscall.EDEADLK:         "operation would cause deadlock",
	syscall.EFAULT:          "bad address",
	syscall.ENOTBLK:         "not a block device",
	syscall.EBUSY:           "device busy",
	syscall.EXDEV:           "cross-device link",
	syscall.ENODEV:          "device does not support operation",
	syscall.ENOTDIR:         "not a directory",
	syscall.EINVAL:          "invalid argument",
	syscall.ENFILE:          "system cannot open more files",
	syscall.EMFILE:          "process cannot open more files",
	syscall.ENOTTY:          "not a tty",
	syscall.EFBIG:           "file too big",
	syscall.ENOSPC:          "out of disk space",
	syscall.ESPIPE:          "unseekable descriptor",
	syscall.EROFS:           "read-only file system",
	syscall.EMLINK:          "too many links",
	syscall.EDOM:            "input out of range",
	syscall.ERANGE:          "output out of range",
	syscall.EALREADY:        "operation already in progress",
	syscall.ENOTSOCK:        "not a socket",
	syscall.EDESTADDRREQ:    "destination address required",
	syscall.EMSGSIZE:        "message too long",
	syscall.EPROTOTYPE:      "incorrect protocol type",
	syscall.ENOPROTOOPT:     "protocol not available",
	syscall.EPROTONOSUPPORT: "protocol not supported",
	syscall.ESOCKTNOSUPPORT: "socket type not supported",
	syscall.EOPNOTSUPP:      "operation not supported",
	syscall.EPFNOSUPPORT:    "protocol family not supported",
	syscall.EAFNOSUPPORT:    "address family not supported",
	syscall.EADDRINUSE:      "address already used",
	syscall.EADDRNOTAVAIL:   "address not available",
	syscall.ENETDOWN:        "network down",
	syscall.ENETUNREACH:     "network unreachable",
	syscall.ENETRESET:       "network reset",
	syscall.ECONNABORTED:    "connection aborted",
	syscall.ECONNRESET:      "connection reset",
	syscall.ENOBUFS:         "out of buffer space",
	syscall.EISCONN:         "already connected",
	syscall.ENOTCONN:        "not connected",
	syscall.ESHUTDOWN:       "socket shut down",
	syscall.ETOOMANYREFS:    "too many references",
	syscall.ECONNREFUSED:    "connection refused",
	syscall.ELOOP:           "symbolic link loop",
	syscall.ENAMETOOLONG:    "file name too long",
	syscall.EHOSTDOWN:       "host down",
	syscall.EHOSTUNREACH:    "host unreachable",
	syscall.ENOTEMPTY:       "directory not empty",
	syscall.EUSERS:          "too many users",
	syscall.EDQUOT:          "disk quota exceeded",
	syscall.ESTALE:          "stale NFS file handle",
	syscall.EREMOTE:         "too many levels of remote in path",
}

// Reason is djb's error_str for err: the errno's words when err wraps one,
// "timed out" for a deadline, otherwise Go's own text.
func Reason(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if s, ok := reasons[errno]; ok {
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
