package startup

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The stub maps the text and read-only data itself, from its own file
// (internal/lazybss). These tests take that step's failures one by one.

// The start of _rt0_ucspi_table (entry_*.s, internal/lazybss), and where the
// nonce's file offset is in it.
var (
	tableMagic = []byte{0x75, 0x63, 0x73, 0x70, 0x69, 0x2d, 0x69, 0x6d, 0x61, 0x67, 0x65, 0xc3, 0x9e, 0x51, 0x07, 0xa4}
	nonceOffAt = 32
)

// copyOurs copies our binary into dir (mode perm) with a link argv0 to it, and
// returns the copy's contents and the offset of its table.
func copyOurs(t *testing.T, src, dir string, perm os.FileMode) ([]byte, int) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(b, tableMagic)
	if at < 0 || binary.LittleEndian.Uint64(b[at+nonceOffAt:]) == 0 {
		t.Fatalf("%s: no table filled by lazybss", src)
	}
	if err := os.WriteFile(filepath.Join(dir, "ucspi"), b, perm); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, "ucspi"), perm)
	os.Symlink("ucspi", filepath.Join(dir, "argv0"))
	return b, at
}

// fatalLine is the stub's line for a failure to map the binary.
func fatalLine(name string, why []byte) string {
	return name + ": fatal: unable to start: " + string(why) + "\n"
}

// TestImageChanged: the bytes the stub reads back from the file are not the
// nonce it has in memory, as when the binary was replaced between exec and
// open: here the table points the stub one byte off, and past the file's end.
func TestImageChanged(t *testing.T) {
	for _, shift := range []uint64{1, 1 << 40} {
		dir := t.TempDir()
		b, at := copyOurs(t, filepath.Join(ours(t), "ucspi"), dir, 0o755)
		off := binary.LittleEndian.Uint64(b[at+nonceOffAt:])
		binary.LittleEndian.PutUint64(b[at+nonceOffAt:], off+shift)
		os.WriteFile(filepath.Join(dir, "ucspi"), b, 0o755)
		p := start(t, nil, filepath.Join(dir, "argv0"), "/bin/true", "true")
		if st, want := p.wait(), fatalLine("argv0", changedText); st != "exit 111" || p.stderr() != want {
			t.Errorf("the nonce's offset moved by %d: %s, %q; want exit 111, %q", shift, st, p.stderr(), want)
		}
	}
}

// TestImageWithoutProc: in a chroot without /proc the stub opens the path it
// was executed by (AT_EXECFN); and if that is another binary by then (renamed
// over it while the stub waits in its open, held there by strace), it stops.
func TestImageWithoutProc(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("chroot needs root")
	}
	need(t, "chroot")
	root := t.TempDir()
	copyOurs(t, filepath.Join(ours(t), "ucspi"), root, 0o755)
	p := start(t, nil, "chroot", root, "/argv0", "/nonexistent", "x")
	if st, want := p.wait(), "argv0: fatal: unable to run /nonexistent: file does not exist\n"; st != "exit 111" || p.stderr() != want {
		t.Fatalf("in a chroot without /proc: %s, %q; want exit 111, %q", st, p.stderr(), want)
	}

	need(t, "strace")
	other := append([]byte(nil), must(os.ReadFile(filepath.Join(root, "ucspi")))...)
	at := bytes.Index(other, tableMagic)
	other[at+16] ^= 0xff // the nonce: another build
	os.WriteFile(filepath.Join(root, "other"), other, 0o755)
	// Every open(2) of the traced process held 0.5 s at its entry: the
	// stub's, of /proc/self/exe (missing) and then of /argv0. chroot's own
	// are openat(2).
	p = start(t, nil, "strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=open", "-e", "inject=open:delay_enter=500000",
		"chroot", root, "/argv0", "/nonexistent", "x")
	until(t, "the exec", func() bool {
		for _, kid := range children(p.cmd.Process.Pid) {
			if exe, _ := os.Readlink("/proc/" + strconv.Itoa(kid) + "/exe"); exe == filepath.Join(root, "ucspi") {
				return true
			}
		}
		return false
	})
	if err := os.Rename(filepath.Join(root, "other"), filepath.Join(root, "ucspi")); err != nil {
		t.Fatal(err)
	}
	if st, want := p.wait(), fatalLine("argv0", changedText); st != "exit 111" || p.stderr() != want {
		t.Errorf("replaced between exec and open: %s, %q; want exit 111, %q", st, p.stderr(), want)
	}
}

// TestImageUnreadable: a binary its user may execute but not read (mode 711)
// cannot be mapped by the stub, which says so. (The kernel maps an unreadable
// binary; ours needs read permission, as a script does.)
func TestImageUnreadable(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("runs as nobody: needs root")
	}
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // nobody may reach it
	}
	copyOurs(t, filepath.Join(ours(t), "ucspi"), dir, 0o711)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "argv0"), "/bin/true", "true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if want := fatalLine("argv0", openText); err == nil || cmd.ProcessState.ExitCode() != 111 || stderr.String() != want {
		t.Errorf("mode 711, run as nobody: %v, %q; want exit 111, %q", err, stderr.String(), want)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
