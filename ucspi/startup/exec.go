package startup

import (
	"encoding/binary"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// exe is a program to start and what it gets back of the process's start,
// prepared by Exec or Spawn and applied by execve or spawn (proc_*.s), where
// no Go code runs: between lowering the limits and execve(2) the runtime could
// no longer map memory, and in spawn's child, which shares the server's
// memory, it must not run at all. Its layout is the assembly's, through
// go_asm.h.
type exe struct {
	path *byte  // execve's arguments
	argv **byte //
	envp **byte //

	nlim   uint64                    // how many entries of res, lim and back are used
	res    [nlimits]uint64           // resources whose limits the program gets back
	lim    [nlimits]rlimit           // ... their limits at start, for the program
	back   [nlimits]rlimit           // ... their limits now, set again if execve fails (execve)
	mask   uint64                    // the program's signal mask
	old    uint64                    // the calling thread's mask before, set again after (both)
	all    uint64                    // the signals blocked during spawn's clone: every one a Go handler catches
	shut   uint64                    // execve: bit n, descriptor n (0-2) to close first
	nfd    uint64                    // spawn: how many of fds are used; the rest of 0-2 are closed
	fds    [maxFiles]int64           // spawn: the descriptors that become the program's 0, 1, 2...; -1 closed
	dfl    sigaction                 // spawn's child: SIG_DFL
	ign    sigaction                 // ... SIG_IGN
	act    sigaction                 // ... a disposition read
	pipe   int64                     // ... where it writes err, its errno, if it cannot exec
	err    uint64                    //
	shared uint64                    // ... set to 1 first thing: the child runs in our memory
	cargs  [cloneArgsSize / 8]uint64 // spawn: clone3's struct clone_args
}

// clone3's struct clone_args (its first version: flags, pidfd, child_tid,
// parent_tid, exit_signal, stack, stack_size, tls), for a vfork-style child
// whose caught signals start at their default.
const (
	cloneArgsSize     = 64
	cloneVM           = 0x100
	cloneVfork        = 0x4000
	cloneClearSighand = 0x100000000
)

// cloneFlags are clone3's flags; the tests add CLONE_SIGHAND, which clone3
// refuses with them, to take the path of the systems without it.
var cloneFlags uint64 = cloneVM | cloneVfork | cloneClearSighand

// Exec runs path in place of this process (execve(2): the same pid), the way
// pathexec does, with the resource limits, signal mask and closed standard
// descriptors the process was started with. It returns only on failure.
func Exec(path string, argv, env []string) error {
	if !Recorded() {
		return syscall.Exec(path, argv, env)
	}
	var x exe
	if err := x.prepare(path, argv, env, new(execStrings)); err != nil {
		return err
	}
	x.mask = rec.mask
	for fd := 0; fd < 3; fd++ {
		if ClosedAtStart(fd) && isNull(fd) {
			x.shut |= 1 << fd
		}
	}
	// When there are limits to lower, no Go code may run anywhere in the
	// process between lowering them and execve: any new mapping the runtime
	// made meanwhile (a collection's mark bits, a sweep's, another chunk of
	// its own metadata) would be refused, and the runtime dies ("fatal
	// error: runtime: cannot allocate memory", seen about once in 40 runs of
	// tcpclient under softlimit -a on two busy cores). So: no collection
	// (SetGCPercent(-1) waits for one in progress to end), and one processor,
	// which this goroutine holds through execve (it never enters the
	// scheduler there), so that no other goroutine, nor the runtime's
	// sweeper, scavenger or collector, runs on another.
	if x.nlim > 0 {
		defer debug.SetGCPercent(debug.SetGCPercent(-1))
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	}
	errno := execve(&x)
	reopen(x.shut)
	return syscall.Errno(errno)
}

// maxFiles is how many descriptors Spawn places (tcpserver's 0, 1, 2 and
// sslserver's three more).
const maxFiles = 8

// Spawn starts path as a new process with files as its descriptors 0, 1, 2...
// (^uintptr(0) for one closed; with fewer than three, the others closed), as
// syscall.ForkExec does, and with what tcpserver was started with: the
// program gets its resource limits in the child, before it execs, as 0.88's
// forked child had them; the signal mask without SIGCHLD, as 0.88's child
// unblocked it; every caught signal back to its default and ignored ones
// ignored.
func Spawn(path string, argv, env []string, files []uintptr) (int, error) {
	if !Recorded() || len(files) > maxFiles {
		return syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: env, Files: files})
	}
	// Back to the pool once spawn has returned: the child has exec'd or
	// exited by then, and no longer reads them.
	m := spawnMemory.Get().(*execStrings)
	defer spawnMemory.Put(m)
	var x exe
	if err := x.prepare(path, argv, env, m); err != nil {
		return 0, err
	}
	x.mask = rec.mask &^ (1 << (syscall.SIGCHLD - 1))
	x.cargs[0] = cloneFlags
	x.cargs[4] = uint64(syscall.SIGCHLD) // exit_signal
	x.all = ^uint64(0)
	if childSignals {
		// Our SIGCHLD handler is safe to run even in the child, and the
		// kernel sends the signal to the thread that forked the child:
		// blocked here, it would wake another thread, asleep, instead.
		x.all &^= 1 << (syscall.SIGCHLD - 1)
	}
	x.ign.handler = sigIGN
	x.nfd = uint64(len(files))
	for i, f := range files {
		fd := int(f) // ^uintptr(0): -1
		if fd >= 0 && fd != i && fd < len(files) {
			// The child places them in order: one whose place comes first
			// would be gone before it is moved. It moves a copy instead.
			c, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, len(files))
			if err != nil {
				return 0, err
			}
			defer unix.Close(c)
			fd = c
		}
		x.fds[i] = int64(fd)
	}
	// The child's failure comes back in x.err, which it shares with us. A
	// child that does not share it (qemu-user runs vfork as fork) sends it on
	// a close-on-exec pipe instead, at the end of which we read nothing if
	// the exec worked: until a child has been seen to share our memory, there
	// is a pipe. No descriptor is made without close-on-exec meanwhile.
	p := [2]int{-1, -1}
	if !vforkShares.Load() {
		if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
			return 0, err
		}
		// Raw system calls from here: entering the runtime's system call
		// state would wake its monitor thread, at every connection.
		defer rawClose(p[0])
	}
	x.pipe = int64(p[1])
	syscall.ForkLock.RLock()
	pid, errno := spawn(&x)
	syscall.ForkLock.RUnlock()
	if p[1] >= 0 {
		rawClose(p[1])
	}
	if errno != 0 {
		return 0, syscall.Errno(errno)
	}
	// clone returned once the child had exec'd (x.err untouched) or exited
	// (x.err its errno), without waiting for the kernel to close the child's
	// descriptors after its exec as the pipe's EOF would.
	failed := x.err
	if x.shared != 0 {
		vforkShares.Store(true)
	} else {
		// The child ran in a copy of our memory, and may not even have
		// exec'd yet: its errno comes on the pipe, or EOF at its exec.
		var b [8]byte
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(p[0]), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		for e == syscall.EINTR {
			n, _, e = syscall.RawSyscall(syscall.SYS_READ, uintptr(p[0]), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		}
		if e == 0 && n == uintptr(len(b)) {
			failed = binary.NativeEndian.Uint64(b[:])
		}
	}
	if failed == 0 {
		return int(pid), nil
	}
	// The child has exited (or is about to): reap it, as syscall.ForkExec
	// does, so that nobody else takes its status for a program's.
	var ws syscall.WaitStatus
	for {
		if _, err := syscall.Wait4(int(pid), &ws, 0, nil); err != syscall.EINTR {
			break
		}
	}
	return 0, syscall.Errno(failed)
}

// vforkShares is set once a child of spawn has run in our memory: every
// child will, and reports its exec failure there.
var vforkShares atomic.Bool

func rawClose(fd int) { syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0) }

// prepare converts path, argv and env for execve, into one buffer and one
// array of pointers (for tcpserver, the garbage of every connection), and fills
// in the limits to give back.
func (x *exe) prepare(path string, argv, env []string, m *execStrings) error {
	n := len(path) + 1
	for _, s := range argv {
		n += len(s) + 1
	}
	for _, s := range env {
		n += len(s) + 1
	}
	if cap(m.buf) < n {
		m.buf = make([]byte, 0, n)
	}
	if np := len(argv) + 1 + len(env) + 1; cap(m.ptrs) < np {
		m.ptrs = make([]*byte, 0, np)
	}
	buf := m.buf[:0] // never grown: the pointers into it stay good
	ptrs := m.ptrs[:0]
	cstring := func(s string) *byte {
		i := len(buf)
		buf = append(append(buf, s...), 0)
		return &buf[i]
	}
	if strings.IndexByte(path, 0) >= 0 {
		return syscall.EINVAL
	}
	x.path = cstring(path)
	for _, list := range [][]string{argv, env} {
		start := len(ptrs)
		for _, s := range list {
			if strings.IndexByte(s, 0) >= 0 {
				return syscall.EINVAL
			}
			ptrs = append(ptrs, cstring(s))
		}
		ptrs = append(ptrs, nil)
		if start == 0 {
			x.argv = &ptrs[start]
		} else {
			x.envp = &ptrs[start]
		}
	}
	if !Recorded() {
		return nil // nothing to give back
	}
	changed.once.Do(findChanged)
	x.nlim = uint64(changed.n)
	x.res = changed.res
	x.lim = changed.start
	x.back = changed.now
	return nil
}

// execStrings is prepare's memory: the strings execve reads and the pointers to
// them.
type execStrings struct {
	buf  []byte
	ptrs []*byte
}

// spawnMemory keeps execStrings from one spawn to the next: made anew, at
// thousands of connections a second, they were most of tcpserver's garbage
// (the server's whole environment, copied for every program).
var spawnMemory = sync.Pool{New: func() any { return new(execStrings) }}

// changed is every resource whose limits differ from those at start: of the
// address space and data limits, which the stub may have raised, and the
// descriptor limit, which the runtime may have (syscall's init); nothing
// changes the others.
var changed struct {
	once       sync.Once
	n          int
	res        [nlimits]uint64
	start, now [nlimits]rlimit
}

func findChanged() {
	for _, r := range []int{rlimitAS, rlimitData, rlimitNofile} {
		var now rlimit
		if prlimit(0, r, nil, &now) != nil || now == rec.limits[r] {
			continue
		}
		changed.res[changed.n] = uint64(r)
		changed.start[changed.n] = rec.limits[r]
		changed.now[changed.n] = now
		changed.n++
	}
}

func prlimit(pid, r int, set, old *rlimit) error {
	_, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(r),
		uintptr(unsafe.Pointer(set)), uintptr(unsafe.Pointer(old)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// isNull reports whether descriptor fd is /dev/null: for a descriptor closed at
// start, still the runtime's, not something the process put there since.
func isNull(fd int) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == unix.Mkdev(1, 3)
}

// reopen puts /dev/null back on the descriptors in bits, closed for an execve
// that failed.
func reopen(bits uint64) {
	for fd := 0; fd < 3; fd++ {
		if bits&(1<<fd) == 0 {
			continue
		}
		n, err := unix.Open("/dev/null", unix.O_RDWR, 0)
		if err == nil && n != fd {
			unix.Dup3(n, fd, 0)
			unix.Close(n)
		}
	}
}
