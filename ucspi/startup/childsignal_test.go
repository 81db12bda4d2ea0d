package startup

import (
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// TestChildSignals: with the handler installed, a child's exit is counted on
// the eventfd, the poller wakes the reader, and the program spawned meanwhile
// has SIGCHLD at its default, not our handler. The spawn's exec failure still
// comes back without the pipe, once a child has shared our memory.
func TestChildSignals(t *testing.T) {
	recorded(t)
	events, err := ChildSignals()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The eventfd stays open: its os.File, unreachable, closes it
		// when collected, and closing it here would let that close a
		// descriptor of someone else's.
		setDefault(syscall.SIGCHLD)
		childSignals = false
	})

	// head catches no signal: in its child, neither path leaves a handler
	// of ours (the SIGCHLD one, the runtime's) in place.
	head := need(t, "head")
	for _, flags := range []uint64{cloneFlags, cloneFlags | syscall.CLONE_SIGHAND} {
		saved := cloneFlags
		cloneFlags = flags // with CLONE_SIGHAND, clone3 refuses: clone and the loop
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		_, err = Spawn(head, []string{"head", "-c", "100000", "/proc/self/status"}, nil, []uintptr{0, w.Fd(), 2})
		cloneFlags = saved
		w.Close()
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(r)
		r.Close()
		_, line, _ := strings.Cut(string(out), "SigCgt:")
		line, _, _ = strings.Cut(line, "\n")
		caught, err := strconv.ParseUint(strings.TrimSpace(line), 16, 64)
		if err != nil || caught != 0 {
			t.Errorf("clone flags %#x: the program's caught signals: %q, %v; want none", flags, line, err)
		}
	}

	counted := make(chan uint64, 1)
	go events.Read(func(fd uintptr) bool {
		var n uint64
		_, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&n)), 8)
		if e == syscall.EAGAIN {
			return false
		}
		counted <- n
		return true
	})
	select {
	case n := <-counted:
		if n < 1 {
			t.Errorf("the eventfd counted %d", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no SIGCHLD counted 10 s after the child started")
	}
	var ws syscall.WaitStatus
	for range 2 {
		if got, err := syscall.Wait4(-1, &ws, 0, nil); got <= 0 || !ws.Exited() || ws.ExitStatus() != 0 {
			t.Errorf("wait4: %d %v %v", got, ws, err)
		}
	}

	if !vforkShares.Load() {
		t.Fatal("the child did not run in our memory")
	}
	if _, err := Spawn("/nonexistent", []string{"x"}, nil, []uintptr{0, 1}); err != syscall.ENOENT {
		t.Errorf("spawning /nonexistent without the pipe: %v", err)
	}
	if _, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); err != syscall.ECHILD {
		t.Errorf("a child left after a failed spawn: %v", err)
	}
}
