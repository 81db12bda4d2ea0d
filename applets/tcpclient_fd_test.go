package applets

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ucspi-go/ucspi/internal/reftest"
)

// TestHoldDescriptors: an inherited descriptor is closed and held; one this
// process opened itself (close-on-exec) is left as it is, and said so.
func TestHoldDescriptors(t *testing.T) {
	const own, inherited, free = 100, 101, 102
	var p [2]int
	if err := unix.Pipe2(p[:], 0); err != nil {
		t.Fatal(err)
	}
	unix.Dup3(p[0], own, unix.O_CLOEXEC)
	unix.Dup3(p[1], inherited, 0)
	unix.Close(p[0])
	unix.Close(p[1])
	t.Cleanup(func() { unix.Close(own); unix.Close(inherited); unix.Close(free) })
	var before unix.Stat_t
	unix.Fstat(own, &before)

	taken, err := holdDescriptors(inherited, free)
	if taken || err != nil {
		t.Errorf("inherited and free: taken %v, %v", taken, err)
	}
	taken, err = holdDescriptors(own, inherited)
	if !taken || err != nil {
		t.Errorf("own: taken %v, %v", taken, err)
	}
	var after unix.Stat_t
	if unix.Fstat(own, &after); after.Ino != before.Ino {
		t.Error("the process's own descriptor was replaced")
	}
	for _, fd := range []int{inherited, free} {
		var st unix.Stat_t
		flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if unix.Fstat(fd, &st); st.Mode&unix.S_IFMT != unix.S_IFSOCK || flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("fd %d: mode %o, flags %x: not a close-on-exec placeholder", fd, st.Mode, flags)
		}
	}
}

// TestTCPClientDescriptorsWith3To5Open: with 3, 4 and 5 inherited open, the Go
// runtime's own files (it keeps its cgroup files open) take 6 and 7 before
// main. tcpclient must not put the connection over them (an eventfd there took
// 8 bytes of the connection): strace shows what it does. The program sees what
// Debian's shows it.
func TestTCPClientDescriptorsWith3To5Open(t *testing.T) {
	ref, ours := reftest.Ref(t, "tcpclient"), reftest.Ours(t, "tcpclient")
	dns := clientDNS(t)
	probe, _ := os.Executable()
	port := strconv.Itoa(int(probeServer(t, "127.0.44.1:0")))
	args := []string{"-RHl0", "127.0.44.1", port, probe}
	var outs [2][]byte
	for i, prog := range []string{ref, ours} {
		outs[i] = runWith3To5(t, prog, args, clientEnv(dns))
	}
	norm := func(b []byte) []byte { return anyLocalPort(b) }
	if !bytes.Equal(norm(outs[0]), norm(outs[1])) {
		t.Errorf("reference:\n%s\nours:\n%s", outs[0], outs[1])
	}
	for _, want := range []string{"same process as tcpclient: true", "fd 6: socket true", "fd 7: socket true, same as 6 true", `server: "got ping\n"`} {
		if !bytes.Contains(outs[1], []byte(want)) {
			t.Errorf("ours lacks %q:\n%s", want, outs[1])
		}
	}

	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("no strace to watch the descriptors with")
	}
	trace := filepath.Join(t.TempDir(), "trace")
	runWith3To5(t, strace, append([]string{"-f", "-qq", "-o", trace, "-e", "trace=openat,open,epoll_create1,eventfd2,socket,dup3,dup2,close,execve", ours}, args...), clientEnv(dns))
	if msg := socketOverOwnDescriptor(t, trace); msg != "" {
		t.Error(msg)
	}
}

// runWith3To5 runs prog with /dev/null open on 3, 4 and 5 and returns its
// output.
func runWith3To5(t *testing.T, prog string, args, env []string) []byte {
	t.Helper()
	var extra []*os.File
	for range 3 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		extra = append(extra, f)
	}
	cmd := exec.Command(prog, args...)
	cmd.Env = env
	cmd.ExtraFiles = extra
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", prog, err, out.Bytes())
	}
	return out.Bytes()
}

// socketOverOwnDescriptor reads an strace of tcpclient and says where a TCP
// socket was put over a descriptor the process had opened itself in its
// current image (a close-on-exec file, epoll or eventfd, as the runtime opens
// them); "" when it never was.
func socketOverOwnDescriptor(t *testing.T, trace string) string {
	t.Helper()
	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	call := regexp.MustCompile(`^(\d+) +(\w+)\((.*)\) += (-?\d+)`)
	pending := map[string]string{} // pid -> an unfinished call's start
	own := map[string]bool{}       // descriptors the current image opened, close-on-exec
	tcp := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		pid, rest, _ := strings.Cut(line, " ")
		if head, ok := strings.CutSuffix(line, " <unfinished ...>"); ok {
			pending[pid] = head
			continue
		}
		if i := strings.Index(rest, " resumed>"); i >= 0 && strings.HasPrefix(strings.TrimSpace(rest), "<...") {
			line = pending[pid] + rest[i+len(" resumed>"):]
		}
		m := call.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(m[4], "-") {
			continue
		}
		name, params, result := m[2], m[3], m[4]
		first, _, _ := strings.Cut(params, ",")
		switch name {
		case "execve":
			own, tcp = map[string]bool{}, map[string]bool{}
		case "openat", "open", "epoll_create1", "eventfd2":
			if strings.Contains(params, "CLOEXEC") {
				own[result] = true
			}
		case "socket":
			if strings.Contains(params, "SOCK_STREAM") && !strings.HasPrefix(params, "AF_UNIX") {
				tcp[result] = true
			}
		case "close":
			delete(own, first)
			delete(tcp, first)
		case "dup3", "dup2":
			target := strings.TrimSpace(strings.Split(params, ",")[1])
			if tcp[first] && own[target] {
				return "the connection went over descriptor " + target + ", the process's own: " + line
			}
			delete(own, target)
		}
	}
	return ""
}
