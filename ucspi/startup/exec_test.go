package startup

import (
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/ucspi-go/ucspi/internal/reftest"
)

// readCStrings reads a NULL-ended array of C strings.
func readCStrings(p **byte) []string {
	var list []string
	for ; *p != nil; p = (**byte)(unsafe.Add(unsafe.Pointer(p), unsafe.Sizeof(p))) {
		list = append(list, cstring(*p))
	}
	return list
}

func cstring(b *byte) string {
	var s []byte
	for ; *b != 0; b = (*byte)(unsafe.Add(unsafe.Pointer(b), 1)) {
		s = append(s, *b)
	}
	return string(s)
}

// TestPrepare: execve's arguments as built for the assembly, in one buffer.
func TestPrepare(t *testing.T) {
	for _, c := range []struct{ path, argv, env []string }{
		{[]string{"/bin/x"}, []string{"x", "", "a b"}, []string{"A=1", "B="}},
		{[]string{"y"}, []string{"y"}, nil},
		{[]string{""}, nil, nil},
	} {
		var x exe
		if err := x.prepare(c.path[0], c.argv, c.env, new(execStrings)); err != nil {
			t.Fatal(err)
		}
		if got := cstring(x.path); got != c.path[0] {
			t.Errorf("path %q, want %q", got, c.path[0])
		}
		if got := readCStrings(x.argv); !slices.Equal(got, c.argv) {
			t.Errorf("argv %q, want %q", got, c.argv)
		}
		if got := readCStrings(x.envp); !slices.Equal(got, c.env) {
			t.Errorf("env %q, want %q", got, c.env)
		}
	}
	for _, bad := range [][3][]string{
		{{"a\x00b"}, nil, nil}, {{"a"}, {"a", "b\x00"}, nil}, {{"a"}, {"a"}, {"X=\x00"}},
	} {
		var x exe
		if err := x.prepare(bad[0][0], bad[1], bad[2], new(execStrings)); err != syscall.EINVAL {
			t.Errorf("%q: %v, want EINVAL", bad, err)
		}
	}
}

// TestArm64 builds for arm64 with make (the other stub and spawn) and, when
// qemu-user is installed, runs it: the stub maps the binary (every run) and
// refuses a file whose nonce is not its own, records (inherited SIG_IGN, a
// closed descriptor), and tcpserver's spawn, its exec failure included. The
// limits cannot be tried there: qemu keeps the address space and data limits
// for itself (the guest's setrlimit does not reach the kernel), and qemu
// itself does not start under softlimit -m 500000000.
func TestArm64(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "ucspi")
	if err := reftest.Make("bin/ucspi", "BIN="+bin, "GOARCH=arm64"); err != nil {
		t.Fatal(err)
	}
	qemu, err := exec.LookPath("qemu-aarch64")
	if err != nil {
		t.Skip("built; no qemu-aarch64 to run it (apt-get install qemu-user)")
	}
	for _, a := range []string{"argv0", "tcpserver"} {
		os.Symlink("ucspi", filepath.Join(dir, a))
	}

	sh := `trap "" QUIT USR1; exec "$@"`
	out, err := exec.Command("/bin/sh", "-c", sh, "sh", qemu, filepath.Join(dir, "argv0"),
		"/bin/sh", "sh", "-c", "grep SigIgn /proc/self/status").Output()
	// 0x204: signals 3 and 10. (qemu-user ignores a signal of its own, 32.)
	mask, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(string(out), "SigIgn:")), 16, 64)
	if err != nil || mask&^(1<<31) != 0x204 {
		t.Errorf("QUIT and USR1 ignored at start: the program has %q, %v", out, err)
	}
	prog, report := descriptors(t)
	closed := append(closing(0, ""), append([]string{qemu, filepath.Join(dir, "argv0"), prog[0], "sh"}, prog[1:]...)...)
	if err := exec.Command(closed[0], closed[1:]...).Run(); err != nil || !strings.HasPrefix(report(), "0 closed\n") {
		t.Errorf("descriptor 0 closed at start is not closed for the program: %v", err)
	}

	changed := t.TempDir()
	b, at := copyOurs(t, bin, changed, 0o755)
	binary.LittleEndian.PutUint64(b[at+nonceOffAt:], binary.LittleEndian.Uint64(b[at+nonceOffAt:])+1)
	os.WriteFile(filepath.Join(changed, "ucspi"), b, 0o755)
	p := start(t, nil, qemu, filepath.Join(changed, "argv0"), "/bin/true", "true")
	if st, want := p.wait(), fatalLine("argv0", changedText); st != "exit 111" || p.stderr() != want {
		t.Errorf("the nonce's offset moved: %s, %q; want exit 111, %q", st, p.stderr(), want)
	}

	p = start(t, nil, qemu, filepath.Join(dir, "tcpserver"), "-1", "-RHl0", "127.0.0.1", "0", "/bin/echo", "hello")
	if got, _ := p.connect(); got != "hello\n" {
		t.Errorf("tcpserver's program said %q", got)
	}
	p = start(t, nil, qemu, filepath.Join(dir, "tcpserver"), "-1", "-vRHl0", "127.0.0.1", "0", "/nonexistent")
	p.connect()
	until(t, "tcpserver's warning", func() bool {
		return strings.Contains(p.stderrNow(), "unable to run /nonexistent: file does not exist")
	})
}

// recorded fills rec as the stub would have, from this test process, so that
// Spawn takes its own path here.
func recorded(t *testing.T) {
	t.Helper()
	saved := rec
	t.Cleanup(func() { rec = saved })
	changed.once = sync.Once{} // found again, against this record
	changed.n = 0
	for r := range nlimits {
		if err := prlimit(0, r, nil, &rec.limits[r]); err != nil {
			t.Fatal(err)
		}
	}
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, 0, 0, uintptr(unsafe.Pointer(&rec.mask)), 8, 0, 0)
	rec.stub = ran
}

// TestSpawnPlaces: the child gets the files where they are asked for,
// closed where asked, even a descriptor that is itself one of the places.
func TestSpawnPlaces(t *testing.T) {
	t.Run("clone3", testSpawnPlaces)
	t.Run("clone", func(t *testing.T) {
		saved := cloneFlags
		defer func() { cloneFlags = saved }()
		cloneFlags |= syscall.CLONE_SIGHAND // refused with CLONE_CLEAR_SIGHAND: EINVAL
		testSpawnPlaces(t)
	})
}

func testSpawnPlaces(t *testing.T) {
	recorded(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stdin, _ := os.Readlink("/proc/self/fd/0")
	script := `echo one; echo "3 $(readlink /proc/$$/fd/4)" >&3; if [ -e /proc/$$/fd/2 ]; then echo "2 open" >&3; else echo "2 closed" >&3; fi`
	files := []uintptr{w.Fd(), w.Fd(), ^uintptr(0), w.Fd(), 0}
	pid, err := Spawn("/bin/sh", []string{"sh", "-c", script}, nil, files)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(r)
	var ws syscall.WaitStatus
	syscall.Wait4(pid, &ws, 0, nil)
	if want := "one\n3 " + stdin + "\n2 closed\n"; string(out) != want {
		t.Errorf("the child wrote %q, want %q", out, want)
	}

	// A program that cannot run: the error, and no child left.
	if _, err := Spawn("/nonexistent", []string{"x"}, nil, []uintptr{r.Fd(), r.Fd()}); err != syscall.ENOENT {
		t.Errorf("spawning /nonexistent: %v", err)
	}
	if _, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); err != syscall.ECHILD {
		t.Errorf("a child left after a failed spawn: %v", err)
	}
}
