package applets

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Which applet a process is (see Identify). djb's programs are separate files
// and do not care what argv[0] says; ucspi is one file with many names, and
// argv[0] is the caller's choice (runit's chpst -b, djb's argv0, the shell's
// exec -a and supervisors that rename processes for ps set it freely). So the
// name of the file that was executed decides first, and ExecPath gives it.

// atExecFN is AT_EXECFN of linux/auxvec.h, which golang.org/x/sys/unix does not
// name: the auxiliary vector entry holding the address of the path given to
// execve.
const atExecFN = 31

// ExecPath is the path this process was started from, exactly as given to
// execve: for a symlink, the symlink's own name. It is "" when the kernel did not
// say. The runtime keeps the auxiliary vector it was started with, so this reads
// memory, not the file system.
func ExecPath() string {
	vec, err := unix.Auxv()
	if err != nil {
		return ""
	}
	for _, kv := range vec {
		if kv[0] == atExecFN && kv[1] != 0 {
			return cString(kv[1], syscall.PathMax)
		}
	}
	return ""
}

// cString is the NUL-terminated string of at most max bytes at address p, or ""
// if there is no NUL within max bytes. AT_EXECFN's string lies at the top of the
// process's initial stack, which the kernel mapped before the runtime started
// and which stays mapped, unmoved and outside Go's heap, for the life of the
// process. It is read a byte at a time, since the string ends the mapping and a
// wider read could fault.
func cString(p uintptr, max int) string {
	base := *(*unsafe.Pointer)(unsafe.Pointer(&p)) // p is not a Go pointer: no conversion rule to break
	for n := 0; n < max; n++ {
		if *(*byte)(unsafe.Add(base, n)) == 0 {
			return string(unsafe.Slice((*byte)(base), n))
		}
	}
	return ""
}
