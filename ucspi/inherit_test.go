package ucspi

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ucspi-go/ucspi/internal/reftest"
)

// Listeners the server does not bind itself (--listen-fd, --systemd) and
// listeners shared (--reuse-port).

// fdsAndEnv is a program printing its pid and its LISTEN_*, TCP* and PROTO
// variables, then waiting for EOF: programFDs looks at its descriptors
// meanwhile.
var fdsAndEnv = []string{"/bin/sh", "-c", "echo $$; /usr/bin/env | /usr/bin/grep -E '^(LISTEN|TCP|PROTO)' | /usr/bin/sort; echo .; exec /usr/bin/cat"}

// programFDs connects to a server running fdsAndEnv and returns the
// program's descriptors beyond 0, 1 and 2 that the test itself did not hand
// down (descriptors it inherited without close-on-exec reach every program,
// as under 0.88), and what the program printed.
func programFDs(t *testing.T, addr string) (extra []string, out string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	for !strings.HasSuffix(out, "\n.\n") {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("the program said %q, then %v", out, err)
		}
		out += line
	}
	pid, _, _ := strings.Cut(out, "\n")
	entries, err := os.ReadDir("/proc/" + pid + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if fd, _ := strconv.Atoi(e.Name()); fd > 2 && !inheritedByTest(fd) {
			link, _ := os.Readlink("/proc/" + pid + "/fd/" + e.Name())
			extra = append(extra, e.Name()+" "+link)
		}
	}
	return extra, out
}

// inheritedByTest says whether fd is one the test process itself holds
// without close-on-exec.
func inheritedByTest(fd int) bool {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil && flags&unix.FD_CLOEXEC == 0
}

// listening is a TCP socket listening on ip, port chosen by the kernel.
func listening(t *testing.T, network, addr string) (*os.File, string) {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return f, port
}

func TestListenFD(t *testing.T) {
	ours := reftest.Ours(t, "tcpserver")
	f, port := listening(t, "tcp4", "127.0.0.1:0")
	cmd := exec.Command(ours, append([]string{"-1", "-v", "-RHl0", "--listen-fd", "3"}, fdsAndEnv...)...)
	cmd.ExtraFiles = []*os.File{f}
	s := startCmd(t, cmd, nil)
	if s.port != port {
		t.Errorf("-1 printed %s; the socket's port is %s", s.port, port)
	}
	extra, out := programFDs(t, s.addr("127.0.0.1"))
	if extra != nil {
		t.Errorf("the program has more than descriptors 0, 1 and 2: %q", extra)
	}
	hasVars(t, "IPv4 listener", out, "PROTO=TCP", "TCPLOCALIP=127.0.0.1", "TCPLOCALPORT="+port, "TCP6REMOTEIP")

	// An IPv6 listener gives the TCP6* variables.
	f6, port6 := listening(t, "tcp6", "[::1]:0")
	cmd = exec.Command(ours, append([]string{"-1", "-RHl0", "--listen-fd", "3"}, fdsAndEnv...)...)
	cmd.ExtraFiles = []*os.File{f6}
	s = startCmd(t, cmd, nil)
	_, out = programFDs(t, net.JoinHostPort("::1", port6))
	hasVars(t, "IPv6 listener", out, "PROTO=TCP6", "TCP6LOCALIP=::1", "TCPREMOTEIP=::1")
}

// TestListenFDBacklog: -b listens again with its backlog; without it, the
// socket's own stands.
func TestListenFDBacklog(t *testing.T) {
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skip("no ss")
	}
	for _, c := range []struct {
		args []string
		want string
	}{{nil, "4096"}, {[]string{"-b", "7"}, "7"}} {
		f, port := listening(t, "tcp4", "127.0.0.1:0") // Go listens with the system's maximum, 4096 here
		cmd := exec.Command(reftest.Ours(t, "tcpserver"), append(append([]string{"-1", "--listen-fd", "3"}, c.args...), "true")...)
		cmd.ExtraFiles = []*os.File{f}
		startCmd(t, cmd, nil)
		out, err := exec.Command("ss", "-Hltn", "sport = :"+port).Output()
		fields := strings.Fields(string(out))
		max, _ := os.ReadFile("/proc/sys/net/core/somaxconn")
		want := c.want
		if c.args == nil {
			want = strings.TrimSpace(string(max))
		}
		if err != nil || len(fields) < 3 || fields[2] != want {
			t.Errorf("%q: ss says %q (%v), want backlog %s", c.args, out, err, want)
		}
	}
}

func TestListenFDRefusals(t *testing.T) {
	ours := reftest.Ours(t, "tcpserver")
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	udpFile, _ := udp.(*net.UDPConn).File()
	defer udpFile.Close()
	unixLn, err := net.Listen("unix", t.TempDir()+"/s")
	if err != nil {
		t.Fatal(err)
	}
	defer unixLn.Close()
	unixFile, _ := unixLn.(*net.UnixListener).File()
	defer unixFile.Close()
	fd, _ := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0) // bound, not listening
	syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	unlistened := os.NewFile(uintptr(fd), "unlistened")
	defer unlistened.Close()
	null, _ := os.Open(os.DevNull)
	defer null.Close()
	for _, extra := range []*os.File{udpFile, unixFile, unlistened, null} {
		cmd := exec.Command(ours, "--listen-fd", "3", "true")
		cmd.ExtraFiles = []*os.File{extra}
		out, err := cmd.CombinedOutput()
		if code := exitCode(err); code != 111 || string(out) != "tcpserver: fatal: descriptor 3 is not a listening TCP socket\n" {
			t.Errorf("%s on descriptor 3: exit %d, %q", extra.Name(), code, out)
		}
	}
	// Nothing on descriptor 9.
	r := reftest.Run(t, ours, reftest.Cmd{Args: []string{"--listen-fd", "9", "true"}})
	if r.Code != 111 || string(r.Stderr) != "tcpserver: fatal: descriptor 9 is not a listening TCP socket\n" {
		t.Errorf("nothing on 9: exit %d, %q", r.Code, r.Stderr)
	}
	// Options that only a socket bound by the server can honour, and no program.
	for _, args := range [][]string{
		{"--listen-fd", "3", "-4", "true"}, {"--listen-fd", "3", "-I", "lo", "true"},
		{"--listen-fd", "3", "--reuse-port", "true"}, {"--listen-fd", "3", "--systemd", "true"},
		{"--systemd", "-4", "true"}, {"--listen-fd", "3"}, {"--listen-fd", "x", "true"}, {"--listen-fd", "-1", "true"},
	} {
		r := reftest.Run(t, ours, reftest.Cmd{Args: args})
		if r.Code != 100 || !strings.Contains(string(r.Stderr), "tcpserver: usage: tcpserver [ -1UXpPhHrRoOdDqQv ]") {
			t.Errorf("%q: exit %d, %q", args, r.Code, r.Stderr)
		}
	}
}

func TestSystemd(t *testing.T) {
	ours := reftest.Ours(t, "tcpserver")
	f, port := listening(t, "tcp4", "127.0.0.1:0")
	// As systemd would start us: LISTEN_PID is the pid that execs tcpserver.
	cmd := exec.Command("/bin/sh", append([]string{"-c", `LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=smtp exec "$@"`, "sh",
		ours, "-1", "-RHl0", "--systemd"}, fdsAndEnv...)...)
	cmd.ExtraFiles = []*os.File{f}
	s := startCmd(t, cmd, nil)
	extra, out := programFDs(t, s.addr("127.0.0.1"))
	if extra != nil || strings.Contains(out, "LISTEN") || !strings.Contains(out, "TCPLOCALPORT="+port+"\n") {
		t.Errorf("--systemd: the program has descriptors %q and says %q", extra, out)
	}

	// The variables must say this process and one socket.
	for _, c := range []struct {
		env, want string
	}{
		{``, "tcpserver: fatal: LISTEN_PID is not set: no socket from systemd\n"},
		{`LISTEN_PID=1 LISTEN_FDS=1`, "tcpserver: fatal: LISTEN_PID is 1, not this process (PID)\n"},
		{`LISTEN_PID=$$ LISTEN_FDS=2`, "tcpserver: fatal: LISTEN_FDS is \"2\", not 1 (one socket, Accept=no)\n"},
		{`LISTEN_PID=$$`, "tcpserver: fatal: LISTEN_FDS is \"\", not 1 (one socket, Accept=no)\n"},
	} {
		cmd := exec.Command("/bin/sh", "-c", c.env+` exec "$@"`, "sh", ours, "--systemd", "true")
		cmd.ExtraFiles = []*os.File{f}
		cmd.Env = []string{}
		out, err := cmd.CombinedOutput()
		got := regexpPids(string(out))
		if exitCode(err) != 111 || got != c.want {
			t.Errorf("%s: exit %d, %q", c.env, exitCode(err), got)
		}
	}
}

func regexpPids(s string) string {
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
		if len(f) > 1 {
			s = strings.ReplaceAll(s, f, "PID")
		}
	}
	return s
}

// TestSystemdSocketActivate: systemd's own tool, as a socket unit with
// Accept=no would start the server.
func TestSystemdSocketActivate(t *testing.T) {
	activate, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("no systemd-socket-activate (package systemd)")
	}
	addr := "127.0.0.1:" + freePort(t, "127.0.0.1")
	// It launches the server at the first connection, which the socket
	// holds meanwhile.
	cmd := exec.Command(activate, append([]string{"-l", addr, reftest.Ours(t, "tcpserver"), "-RHl0", "--systemd"}, fdsAndEnv...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	var stderr logBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for i := 0; !strings.Contains(stderr.String(), "Listening on") && i < 1000; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	for range 2 {
		extra, out := programFDs(t, addr)
		if extra != nil || strings.Contains(out, "LISTEN") || !strings.Contains(out, "TCPREMOTEIP=127.0.0.1\n") {
			t.Errorf("under systemd-socket-activate the program has descriptors %q and says %q; stderr: %s", extra, out, &stderr)
		}
	}
}

// TestReusePort: two servers with --reuse-port share a port, the kernel
// spreading connections over both; without it the second cannot bind.
func TestReusePort(t *testing.T) {
	ours := reftest.Ours(t, "tcpserver")
	ppid := []string{"/bin/sh", "-c", "echo $PPID"}
	a := startServer(t, ours, nil, append([]string{"-RHl0", "--reuse-port", "127.0.0.1", "0"}, ppid...)...)
	r := reftest.Run(t, ours, reftest.Cmd{Args: append([]string{"-RHl0", "127.0.0.1", a.port}, ppid...)})
	if r.Code != 111 || string(r.Stderr) != "tcpserver: fatal: unable to bind: address already used\n" {
		t.Errorf("a second server without --reuse-port: exit %d, %q", r.Code, r.Stderr)
	}
	b := startServer(t, ours, nil, append([]string{"-RHl0", "--reuse-port", "127.0.0.1", a.port}, ppid...)...)
	seen := map[string]int{}
	for i := 0; i < 200 && len(seen) < 2; i++ {
		out, _ := talk(t, a.addr("127.0.0.1"), "", "")
		seen[strings.TrimSpace(out)]++
	}
	want := map[string]bool{strconv.Itoa(a.cmd.Process.Pid): true, strconv.Itoa(b.cmd.Process.Pid): true}
	if len(seen) != 2 {
		t.Errorf("200 connections reached %v; want both servers %v", seen, want)
	}
	for pid := range seen {
		if !want[pid] {
			t.Errorf("a program's parent is %q, neither server", pid)
		}
	}
}
