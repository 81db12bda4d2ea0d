//go:build amd64 || arm64

package startup

import (
	"syscall"
	"unsafe"
)

// catchChildren installs the assembly SIGCHLD handler (childsignal_*.s) in
// place of the runtime's.
func catchChildren() error {
	const (
		saNoCldStop = 0x1 // stopped children do not matter: wait4 asks for ended ones
		saOnStack   = 0x08000000
		saRestart   = 0x10000000
		saRestorer  = 0x04000000
	)
	act := sigaction{flags: saNoCldStop | saOnStack | saRestart}
	act.handler, act.restorer = childHandler()
	if act.restorer != 0 {
		act.flags |= saRestorer
	}
	_, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(syscall.SIGCHLD),
		uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	if e != 0 {
		return e
	}
	childSignals = true
	return nil
}

// childHandler returns the addresses of the SIGCHLD handler and of the
// restorer that returns from it (0 where the kernel provides one: arm64).
func childHandler() (handler, restorer uint64)
