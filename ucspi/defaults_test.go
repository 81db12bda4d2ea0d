package ucspi

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/reftest"
	"github.com/ucspi-go/ucspi/ucspi/exit"
)

// Defaults that cannot surprise a drop-in user (issue 15, §2): host 0 is IPv4
// only, as under 0.88; a port number out of range is an error, not a port
// modulo 65536; tcpserver's descriptors 0 and 1 become /dev/null once it listens,
// as its manual says.

func TestPortOutOfRange(t *testing.T) {
	// 0.88 took these modulo 65536 (70000 was 4464).
	for _, in := range []string{"65536", "70000", "18446744073709551617", "99999999999999999999999", "0065536"} {
		_, err := Port(in)
		if e := exit.As(err); e == nil || e.Kind != exit.UsageLine || e.Code != 100 || e.Text != "port out of range (0 to 65535): "+in {
			t.Errorf("Port(%q) = %v; want a usage error", in, err)
		}
	}
}

func TestWildcardIsIPv4(t *testing.T) {
	for host, want := range map[string]string{"0": "0.0.0.0", "": "0.0.0.0", "0.0.0.0": "0.0.0.0", "::": "::", "[::]": "::"} {
		ip, err := Host(nil, host, false) // literals: no resolver needed
		if err != nil || ip.String() != want {
			t.Errorf("Host(%q) = %v, %v; want %s", host, ip, err, want)
		}
	}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		ln.Close()
	}
	print := script(t, t.TempDir(), "print", printEnv)
	ours := reftest.Ours(t, "tcpserver")
	for _, c := range []struct {
		args []string
		six  bool // accepts IPv6 peers
	}{
		{[]string{"-RHl0", "0", "0", print}, false},
		{[]string{"-RHl0", "", "0", print}, false},
		{[]string{"-RHl0", "0.0.0.0", "0", print}, false},
		{[]string{"-RHl0", "::", "0", print}, true},
		{[]string{"-6", "-RHl0", "0", "0", print}, true},
		{[]string{"-6", "-4", "-RHl0", "0", "0", print}, false},
	} {
		s := startServer(t, ours, nil, c.args...)
		// An IPv4 peer sees the TCP6* variables only through an IPv6 socket.
		out, _ := talk(t, s.addr("127.0.0.1"), "", "")
		if strings.Contains(out, "\nTCP6REMOTEIP=") != c.six || !strings.Contains(out, "\nTCPREMOTEIP=") {
			t.Errorf("%q: an IPv4 peer saw %q", c.args, out)
		}
		conn, err := net.Dial("tcp", s.addr("::1"))
		if err == nil {
			conn.Close()
		}
		if (err == nil) != c.six {
			t.Errorf("%q: IPv6 connection: %v, want accepted %v", c.args, err, c.six)
		}
		s.stop()
	}
}

// TestStdioBecomesDevNull checks what the manual says tcpserver does with its
// descriptors 0 and 1 once it listens, with -1 and without.
func TestStdioBecomesDevNull(t *testing.T) {
	null, err := os.Stat("/dev/null")
	if err != nil {
		t.Skip(err)
	}
	for _, args := range [][]string{{"-RHl0", "127.0.0.1", "0", "true"}, {"-q", "-RHl0", "127.0.0.1", "0", "true"}} {
		s := startServer(t, reftest.Ours(t, "tcpserver"), nil, args...)
		select { // the pipe's reader saw its end: the server let go of it
		case <-s.stdout:
		case <-time.After(10 * time.Second):
			t.Fatalf("%q: stdout still open", args)
		}
		for _, fd := range []string{"0", "1"} {
			fi, err := os.Stat(filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "fd", fd))
			if err != nil || !os.SameFile(fi, null) {
				t.Errorf("%q: descriptor %s is %v (%v), want /dev/null", args, fd, fi, err)
			}
		}
		s.stop()
	}
}

// TestIDNames: -u and -g names switch to the same ids as the numbers they stand
// for under 0.88 (as root: the program runs with them).
func TestIDNames(t *testing.T) {
	ref := reftest.Ref(t, "tcpserver")
	passwd, _ := os.ReadFile("/etc/passwd")
	group, _ := os.ReadFile("/etc/group")
	if os.Getuid() != 0 || !strings.Contains("\n"+string(passwd), "\nnobody:x:65534:") ||
		!strings.Contains("\n"+string(group), "\nnogroup:x:65534:") {
		t.Skip("needs root, and nobody and nogroup as 65534")
	}
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755) // nobody must reach the script
	os.Chmod(dir, 0o755)
	id := script(t, dir, "id", "id\n")
	for _, c := range []struct {
		numbers, names []string
		want           string
	}{
		{[]string{"-g", "65534", "-u", "65534"}, []string{"-g", "nogroup", "-u", "nobody"}, "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n"},
		{[]string{"-u", "65534"}, []string{"--uid=nobody"}, "uid=65534(nobody) gid=0(root) groups=0(root)\n"},
	} {
		scenario{
			args:  append(append([]string{"-v", "-RHl0"}, c.numbers...), "127.0.0.1", "0", id),
			ours:  append(append([]string{"-v", "-RHl0"}, c.names...), "127.0.0.1", "0", id),
			conns: []exchange{{}},
		}.compare(t, ref)
		s := startServer(t, reftest.Ours(t, "tcpserver"), nil, append(append([]string{"-RHl0"}, c.names...), "127.0.0.1", "0", id)...)
		if out, _ := talk(t, s.addr("127.0.0.1"), "", ""); out != c.want {
			t.Errorf("%q: the program ran as %q, want %q", c.names, out, c.want)
		}
		s.stop()
	}
	// -U reads names too.
	s := startServer(t, reftest.Ours(t, "tcpserver"), pathEnv("UID=nobody", "GID=nogroup"), "-U", "-RHl0", "127.0.0.1", "0", id)
	if out, _ := talk(t, s.addr("127.0.0.1"), "", ""); out != "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n" {
		t.Errorf("-U with names: the program ran as %q", out)
	}
}
