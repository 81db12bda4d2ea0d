package ucspi

import (
	"syscall"
	"unsafe"
)

// The system calls of the per-connection path that never wait go straight to
// the kernel (RawSyscall). The runtime then does not mark the thread as in a
// system call, which spares that bookkeeping and, more, keeps its monitor
// thread from handing the goroutine's processor to another thread meanwhile:
// at thousands of connections a second that hand-off churn cost more than the
// calls themselves.

// closeFD closes a descriptor (no SO_LINGER is ever set: close never waits).
func closeFD(fd int) {
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0)
}

// setsockoptInt sets an int socket option.
func setsockoptInt(fd, level, opt, value int) {
	v := int32(value)
	syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&v)), 4, 0)
}

// killIPOptions clears the IP options of a connection, so that replies do not
// follow a source route the client chose (0.88's -O, its default).
func killIPOptions(fd int) {
	syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), syscall.IPPROTO_IP, syscall.IP_OPTIONS, 0, 0, 0)
}

// reapOne is wait4(-1, WNOHANG): an ended child's pid and wait status, 0 when
// none has ended yet, -1 when there are no children.
func reapOne() (int, syscall.WaitStatus) {
	var ws syscall.WaitStatus
	for {
		r, _, e := syscall.RawSyscall6(syscall.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(&ws)), syscall.WNOHANG, 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return -1, 0
		}
		return int(r), ws
	}
}
