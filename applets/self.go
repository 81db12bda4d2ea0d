package applets

import (
	"path/filepath"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Which applet a process is. djb's programs are separate files and do not care
// what argv[0] says; ucspi is one file with many names, and argv[0] is the
// caller's choice (runit's chpst -b, djb's argv0, the shell's exec -a and
// supervisors that rename processes for ps set it freely). So the name of the
// file that was executed decides first, argv[0] second, and a binary called by
// neither name is ucspi itself, whose first argument names the applet.

// Select returns the applet named by the last element of execPath (the file the
// kernel executed, see ExecPath), else by argv[0]'s, else nil: the caller is
// then `ucspi APPLET ...`.
func Select(execPath string, argv []string) *Applet {
	if a := Lookup(filepath.Base(execPath)); a != nil {
		return a
	}
	if len(argv) > 0 {
		return Lookup(filepath.Base(argv[0]))
	}
	return nil
}

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

// Self returns the applet that running path would start, when path is this very
// binary (the same file as /proc/self/exe, through any symlinks) under an
// applet's name; else nil. tcpserver can use it to recognise its own applets in
// a chain such as tcpserver ... rblsmtpd ... and run them without a new
// process. A copy of the binary is not this binary.
func Self(path string) *Applet {
	a := Lookup(filepath.Base(path))
	if a == nil {
		return nil
	}
	var me, it unix.Stat_t
	if unix.Stat("/proc/self/exe", &me) != nil || unix.Stat(path, &it) != nil {
		return nil
	}
	if me.Dev != it.Dev || me.Ino != it.Ino {
		return nil
	}
	return a
}
