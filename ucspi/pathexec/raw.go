package pathexec

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Stat is stat(2) as the search makes it: straight to the kernel
// (RawSyscall), for tcpserver searches at every connection, and a system call
// made through the runtime wakes its monitor thread into a polling loop
// (startup.ChildSignals). A file system that hangs holds the server up, as
// 0.88's execvp in its child would have held that connection up.
func Stat(path string, st *syscall.Stat_t) error {
	p, err := syscall.BytePtrFromString(path)
	if err != nil {
		return err
	}
	_, _, e := syscall.RawSyscall6(unix.SYS_NEWFSTATAT, atFDCWD, uintptr(unsafe.Pointer(p)),
		uintptr(unsafe.Pointer(st)), 0, 0, 0)
	return errnoErr(e)
}

// executable is access(path, X_OK), as Stat.
func executable(path string) error {
	p, err := syscall.BytePtrFromString(path)
	if err != nil {
		return err
	}
	_, _, e := syscall.RawSyscall6(unix.SYS_FACCESSAT, atFDCWD, uintptr(unsafe.Pointer(p)),
		unix.X_OK, 0, 0, 0)
	return errnoErr(e)
}

// atFDCWD is AT_FDCWD (-100) as a system call's argument.
var atFDCWD = ^uintptr(-unix.AT_FDCWD - 1)

func errnoErr(e syscall.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}
