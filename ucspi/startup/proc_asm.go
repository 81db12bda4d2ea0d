//go:build amd64 || arm64

package startup

// execve applies x and replaces the process with x's program; it returns only
// if execve(2) failed, with the process put back as it was but descriptors
// x.shut closed.
//
//go:noescape
func execve(x *exe) (errno uintptr)

// spawn starts x's program in a new process (clone3 with CLONE_VM|CLONE_VFORK|
// CLONE_CLEAR_SIGHAND, or where refused clone, as posix_spawn does: it returns
// once the child has exec'd or exited) and returns its pid, or the clone's
// errno. The child starts with, or sets, every caught signal at its default
// (ignored ones stay ignored), sets the limits, the descriptors and the signal
// mask, then execs; if anything fails, it writes the errno to x.err and
// x.pipe and exits 127.
//
//go:noescape
func spawn(x *exe) (pid, errno uintptr)
