//go:build !amd64 && !arm64

package startup

import "syscall"

// Without the entry stub nothing is recorded (Recorded is false), so Exec and
// Spawn take syscall's way and never call these (docs/process.md).

func execve(*exe) (errno uintptr) { return uintptr(syscall.ENOSYS) }

func spawn(*exe) (pid, errno uintptr) { return 0, uintptr(syscall.ENOSYS) }
