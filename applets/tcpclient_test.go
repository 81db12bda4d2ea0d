package applets

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ucspi-go/ucspi/internal/fakedns"
	"github.com/ucspi-go/ucspi/internal/fakeserver"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

// The program tcpclient runs in these tests is the test binary itself, as a
// probe: with UCSPI_TEST_PROBE set it reports what it was given (process,
// environment, descriptors) and talks to the server through 6 and 7.
func init() {
	if os.Getenv("UCSPI_TEST_PROBE") != "" {
		os.Exit(probe())
	}
}

func probe() int {
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintf(w, "same process as tcpclient: %v\n", strconv.Itoa(os.Getppid()) == os.Getenv("UCSPI_TEST_PARENT"))
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PROTO=") || strings.HasPrefix(kv, "TCP") {
			env = append(env, kv)
		}
	}
	sort.Strings(env)
	for _, kv := range env {
		fmt.Fprintln(w, kv)
	}
	var st6 unix.Stat_t
	for _, fd := range []int{6, 7} {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			fmt.Fprintf(w, "fd %d: %v\n", fd, err)
			continue
		}
		if fd == 6 {
			st6 = st
		}
		fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		fdfl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		nodelay, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
		fmt.Fprintf(w, "fd %d: socket %v, same as 6 %v, rdwr %v, nonblocking %v, close-on-exec %v, nodelay %v\n", fd,
			st.Mode&unix.S_IFMT == unix.S_IFSOCK, st.Ino == st6.Ino, fl&unix.O_ACCMODE == unix.O_RDWR,
			fl&unix.O_NONBLOCK != 0, fdfl&unix.FD_CLOEXEC != 0, nodelay != 0)
	}
	if dir, err := os.Open("/proc/self/fd"); err == nil {
		names, _ := dir.Readdirnames(-1)
		var fds []int
		for _, n := range names {
			if fd, _ := strconv.Atoi(n); fd != int(dir.Fd()) {
				fds = append(fds, fd)
			}
		}
		dir.Close()
		slices.Sort(fds)
		fmt.Fprintf(w, "open descriptors: %v\n", fds)
	}
	// The server speaks first, then answers our line, then hangs up.
	fmt.Fprintf(w, "server: %q\n", probeReadLine(6))
	unix.Write(7, []byte("ping\n"))
	fmt.Fprintf(w, "server: %q\n", probeReadLine(6))
	return 0
}

// probeReadLine reads fd a byte at a time up to a newline, so nothing past it is
// taken away from whoever reads next.
func probeReadLine(fd int) string {
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := unix.Read(fd, b)
		if n <= 0 || err != nil {
			return string(line)
		}
		line = append(line, b[0])
		if b[0] == '\n' {
			return string(line)
		}
	}
}

// probeServer is a server on addr (port 0: any) that greets, answers a line, and
// hangs up: the probe's counterpart.
func probeServer(t *testing.T, addr string) uint16 {
	t.Helper()
	return fakeserver.Port(fakeserver.Serve(t, addr, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte("hello from " + c.LocalAddr().String() + "\n"))
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Write([]byte("got " + line))
	}))
}

// clientTestPort is a port on ip that nothing uses at the moment.
func clientTestPort(t *testing.T, ip string) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	return netip.MustParseAddrPort(ln.Addr().String()).Port()
}

// clientDNS is the fake DNS both tcpclients ask: names for the test
// addresses, a name with two addresses, one whose server fails.
func clientDNS(t *testing.T) *fakedns.Server {
	srv := fakedns.Start(t,
		"1.0.0.127.in-addr.arpa. PTR localhost.",
		"1.44.0.127.in-addr.arpa. PTR server.test.",
		"2.44.0.127.in-addr.arpa. PTR client.test.",
		"9.44.0.127.in-addr.arpa. PTR slow.test.",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa. PTR six.test.",
		"server.test. A 127.0.44.1",
		"two.test. A 127.0.44.7", "two.test. A 127.0.44.8",
		"six.test. AAAA ::1",
	)
	srv.ServFail("broken.test.")
	srv.ServFail("4.44.0.127.in-addr.arpa.")
	return srv
}

// clientEnv is the environment both tcpclients run in: the fake DNS, no
// rewriting of names by djb's library, a stale variable tcpclient must remove,
// and what the probe needs.
func clientEnv(dns *fakedns.Server) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"DNSCACHEIP=" + dns.IP,
		"DNSREWRITEFILE=/dev/null",
		"TCPREMOTEHOST=stale",
		"UCSPI_TEST_PROBE=1",
		"UCSPI_TEST_PARENT=" + strconv.Itoa(os.Getpid()),
	}
}

var (
	anyLocalPort = reftest.Replace(`TCPLOCALPORT=\d+`, "TCPLOCALPORT=N")
	sortedLines  = func(b []byte) []byte {
		lines := strings.SplitAfter(string(b), "\n")
		sort.Strings(lines)
		return []byte(strings.Join(lines, ""))
	}
)

// compareClientRuns runs the reference and ours, each with a command line of its
// own (fresh local ports), and fails on any difference after normalising.
func compareClientRuns(t *testing.T, ref, ours string, cmd func() reftest.Cmd, norm ...reftest.Normalizer) reftest.Result {
	t.Helper()
	want := reftest.Run(t, ref, cmd())
	got := reftest.Run(t, ours, cmd())
	for _, n := range norm {
		want.Stdout, want.Stderr = n(want.Stdout), n(want.Stderr)
		got.Stdout, got.Stderr = n(got.Stdout), n(got.Stderr)
	}
	if !bytes.Equal(want.Stdout, got.Stdout) {
		t.Errorf("stdout differs\nreference:\n%s\nours:\n%s", want.Stdout, got.Stdout)
	}
	if !bytes.Equal(want.Stderr, got.Stderr) {
		t.Errorf("stderr differs\nreference: %q\nours:      %q", want.Stderr, got.Stderr)
	}
	if want.Code != got.Code {
		t.Errorf("exit status: reference %d, ours %d", want.Code, got.Code)
	}
	return got
}

// TestTCPClientAgainstReference runs Debian's tcpclient and ours with the
// same options against the same servers, the probe reporting what the
// program was given.
func TestTCPClientAgainstReference(t *testing.T) {
	ref, ours := reftest.Ref(t, "tcpclient"), reftest.Ours(t, "tcpclient")
	dns := clientDNS(t)
	fakeserver.Ident(t, "127.0.44.1", "USERID : UNIX :  joe")
	fakeserver.Ident(t, "127.0.44.9", "")
	env := clientEnv(dns)
	probe, _ := os.Executable()
	p1 := probeServer(t, "127.0.44.1:0")
	p3 := probeServer(t, "127.0.44.3:0")
	p9 := probeServer(t, "127.0.44.9:0")
	port := func(p uint16) string { return strconv.Itoa(int(p)) }
	for _, tc := range []struct {
		name string
		args func() []string
		norm []reftest.Normalizer
		want []string // in what ours printed, so that agreeing on nothing fails
	}{
		{"defaults: names looked up, ident asked", func() []string { return []string{"127.0.44.1", port(p1), probe} }, nil,
			[]string{"TCPREMOTEINFO=joe\n", "TCPREMOTEHOST=server.test\n", "TCPLOCALHOST=localhost\n", `server: "got ping\n"`}},
		{"-H -R -l", func() []string { return []string{"-H", "-R", "-l", "Local", "127.0.44.1", port(p1), probe} }, nil,
			[]string{"TCPLOCALHOST=Local\n", "PROTO=TCP\nTCPLOCALHOST"}},
		{"-RHl0 combined", func() []string { return []string{"-RHl0", "127.0.44.1", port(p1), probe} }, nil, nil},
		{"-Hh: the last wins", func() []string { return []string{"-HhRl0", "127.0.44.1", port(p1), probe} }, nil, nil},
		{"-rR: the last wins", func() []string { return []string{"-rRl0", "127.0.44.1", port(p1), probe} }, nil, nil},
		{"-i -p", func() []string {
			return []string{"-i", "127.0.44.2", "-p", port(clientTestPort(t, "127.0.44.2")), "-R", "127.0.44.1", port(p1), probe}
		}, []reftest.Normalizer{anyLocalPort}, nil},
		{"-i read like ip4_scan", func() []string { return []string{"-i127.0.44.2junk", "-RH", "127.0.44.1", port(p1), probe} }, nil,
			[]string{"TCPLOCALIP=127.0.44.2\n", "TCPLOCALHOST=client.test\n"}},
		{"-D", func() []string { return []string{"-DRHl0", "127.0.44.1", port(p1), probe} }, nil,
			[]string{"nodelay true\nfd 7", "nodelay true\nopen"}},
		{"-Dd: the last wins", func() []string { return []string{"-DdRHl0", "127.0.44.1", port(p1), probe} }, nil, nil},
		{"-v", func() []string { return []string{"-vRHl0", "127.0.44.1", port(p1), probe} }, nil, nil},
		{"-vQ", func() []string { return []string{"-vQRHl0", "127.0.44.1", port(p1), probe} }, nil, nil},
		{"-q", func() []string { return []string{"-qRHl0", "127.0.44.1", port(p1), probe} }, nil, nil},
		{"-t: a silent ident server", func() []string { return []string{"-t1", "-H", "127.0.44.9", port(p9), probe} }, nil,
			[]string{"TCPREMOTEPORT=" + port(p9) + "\nfd 6"}},
		{"no PTR record: TCPREMOTEHOST empty", func() []string { return []string{"-R", "127.0.44.3", port(p3), probe} }, nil,
			[]string{"TCPREMOTEHOST=\n"}},
		{"a name", func() []string { return []string{"-R", "server.test.", port(p1), probe} }, nil,
			[]string{"TCPREMOTEIP=127.0.44.1\n"}},
		{"program arguments", func() []string {
			return []string{"-RHl0", "127.0.44.1", port(p1), "sh", "-c", "echo \"$@\"; head -1 <&6", "zero", "a b", "-c"}
		}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			norm := append([]reftest.Normalizer{anyLocalPort}, tc.norm...)
			got := compareClientRuns(t, ref, ours, func() reftest.Cmd { return reftest.Cmd{Args: tc.args(), Env: env} }, norm...)
			for _, w := range tc.want {
				if !bytes.Contains(got.Stdout, []byte(w)) {
					t.Errorf("output lacks %q:\n%s", w, got.Stdout)
				}
			}
			if args := tc.args(); args[len(args)-1] == probe && !bytes.Contains(got.Stdout, []byte("same process as tcpclient: true")) {
				t.Errorf("the program did not replace tcpclient:\n%s", got.Stdout)
			}
		})
	}
}

// TestTCPClientLocalPort checks that -p binds the port asked for (the
// comparison above has to hide it).
func TestTCPClientLocalPort(t *testing.T) {
	ours := reftest.Ours(t, "tcpclient")
	dns := clientDNS(t)
	probe, _ := os.Executable()
	p1 := probeServer(t, "127.0.44.1:0")
	local := clientTestPort(t, "127.0.44.2")
	r := reftest.Run(t, ours, reftest.Cmd{
		Args: []string{"-RHl0", "-i", "127.0.44.2", "-p", strconv.Itoa(int(local)), "127.0.44.1", strconv.Itoa(int(p1)), probe},
		Env:  clientEnv(dns),
	})
	for _, want := range []string{"TCPLOCALIP=127.0.44.2\n", fmt.Sprintf("TCPLOCALPORT=%d\n", local), "same process as tcpclient: true\n",
		"fd 6: socket true, same as 6 true, rdwr true, nonblocking false, close-on-exec false",
		"fd 7: socket true, same as 6 true, rdwr true, nonblocking false, close-on-exec false",
		`server: "got ping\n"`} {
		if !strings.Contains(string(r.Stdout), want) {
			t.Errorf("output lacks %q:\n%s", want, r.Stdout)
		}
	}
}

// TestTCPClientFailuresAgainstReference compares messages and exit codes
// when tcpclient cannot get as far as running the program.
func TestTCPClientFailuresAgainstReference(t *testing.T) {
	ref, ours := reftest.Ref(t, "tcpclient"), reftest.Ours(t, "tcpclient")
	dns := clientDNS(t)
	env := clientEnv(dns)
	probe, _ := os.Executable()
	p1 := probeServer(t, "127.0.44.1:0")
	closed := strconv.Itoa(int(clientTestPort(t, "127.0.44.7")))
	busy := strconv.Itoa(int(probeServer(t, "127.0.44.2:0")))
	port := strconv.Itoa(int(p1))
	long := strings.Repeat("x", 64) + ".test."
	for _, tc := range []struct {
		name string
		args []string
		norm []reftest.Normalizer
	}{
		{"usage: no arguments", nil, nil},
		{"usage: no program", []string{"0", "0"}, nil},
		{"usage: -q silences it", []string{"-q", "0"}, nil},
		{"illegal option", []string{"-x", "0", "0", "true"}, nil},
		{"illegal option despite -q", []string{"-qx", "0", "0", "true"}, nil},
		{"missing option argument", []string{"-p"}, nil},
		{"bad -i", []string{"-i", "1.2.3", "0", "0", "true"}, nil},
		{"bad -i despite -q", []string{"-q", "-i", "bogus", "0", "0", "true"}, nil},
		{"refused", []string{"127.0.44.7", closed, "true"}, nil},
		{"refused, quietly", []string{"-q", "127.0.44.7", closed, "true"}, nil},
		{"refused, bracketed", []string{"[127.000.044.007]", closed, "true"}, nil},
		{"two addresses refused, in order", []string{"127.0.44.7.127.0.44.8", closed, "true"}, nil},
		{"two addresses of a name refused", []string{"two.test.", closed, "true"}, []reftest.Normalizer{sortedLines}},
		{"a service name", []string{"127.0.44.7", "smtp", "true"}, nil},
		{"an unknown service name", []string{"127.0.44.7", "nonexistentport", "true"}, nil},
		{"empty port is 0", []string{"127.0.44.7", "", "true"}, nil},
		{"unknown host", []string{"nonexistent.test.", closed, "true"}, nil},
		{"unknown host, quietly", []string{"-q", "nonexistent.test.", closed, "true"}, nil},
		{"a label too long", []string{long, closed, "true"}, nil},
		{"too few numbers", []string{"1.2.3", closed, "true"}, nil},
		{"bind to a used port", []string{"-i", "127.0.44.2", "-p", busy, "127.0.44.1", port, "true"}, nil},
		{"bind to a foreign address", []string{"-i", "192.0.2.1", "127.0.44.1", port, "true"}, nil},
		{"program not found", []string{"-RHl0", "127.0.44.1", port, "/nonexistent/program"}, nil},
		{"program not on PATH", []string{"-RHl0", "127.0.44.1", port, "nonexistent-program"}, nil},
		{"program not executable", []string{"-RHl0", "127.0.44.1", port, "/etc/passwd"}, nil},
		{"program is the probe", []string{"-RHl0", "127.0.44.1", port, probe}, []reftest.Normalizer{anyLocalPort}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			compareClientRuns(t, ref, ours, func() reftest.Cmd { return reftest.Cmd{Args: tc.args, Env: env} }, tc.norm...)
		})
	}
}

// TestTCPClientTimeoutsAgainstReference compares -T against a listener
// whose queue is full (connection attempts time out) and a closed port.
func TestTCPClientTimeoutsAgainstReference(t *testing.T) {
	ref, ours := reftest.Ref(t, "tcpclient"), reftest.Ours(t, "tcpclient")
	dns := clientDNS(t)
	env := clientEnv(dns)
	probe, _ := os.Executable()
	full := fakeserver.BacklogFull(t, "127.0.44.6")
	p := strconv.Itoa(int(full))
	probeServerOn(t, "127.0.44.1", full) // the same port, answering
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"one address gets x+y", []string{"-T1+1", "-RHl0", "127.0.44.6", p, probe}},
		{"the slow one is retried last", []string{"-T", "1+1", "-RHl0", "127.0.44.6.127.0.44.7", p, probe}},
		{"no second round with y of 0", []string{"-T1", "-RHl0", "127.0.44.6.127.0.44.7", p, probe}},
		{"the slow one waits while the next answers", []string{"-T1+1", "-RHl0", "127.0.44.6.127.0.44.1", p, probe}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			compareClientRuns(t, ref, ours, func() reftest.Cmd { return reftest.Cmd{Args: tc.args, Env: env} }, anyLocalPort)
		})
	}
}

// probeServerOn is probeServer on a given port, skipping the test if it is taken.
func probeServerOn(t *testing.T, ip string, port uint16) {
	t.Helper()
	probeServer(t, net.JoinHostPort(ip, strconv.Itoa(int(port))))
}

// TestTCPClientIPv6AgainstReference compares the IPv6 options with Debian's
// ucspi-tcp-ipv6 tcpclient.
func TestTCPClientIPv6AgainstReference(t *testing.T) {
	ref, ours := reftest.Ref6(t, "tcpclient"), reftest.Ours(t, "tcpclient")
	dns := clientDNS(t)
	env := clientEnv(dns)
	probe, _ := os.Executable()
	p6 := strconv.Itoa(int(probeServer(t, "[::1]:0")))
	p4 := strconv.Itoa(int(probeServer(t, "127.0.44.1:0")))
	closed6 := strconv.Itoa(int(clientTestPort(t, "::1")))
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"::1", []string{"-R", "::1", p6, probe}},
		{"::1, -6", []string{"-6R", "::1", p6, probe}},
		{"-6 0 is ::1", []string{"-6R", "0", p6, probe}},
		{"-4 0 is 127.0.0.1", []string{"-4RHl0", "0", p4, probe}},
		{"-6 to IPv4: mapped", []string{"-6R", "127.0.44.1", p4, probe}},
		{"-6 -v to IPv4", []string{"-6vRHl0", "127.0.44.1", p4, probe}},
		{"IPv4 without -6", []string{"-R", "127.0.44.1", p4, probe}},
		{"-i ::1", []string{"-i", "::1", "-RHl0", "::1", p6, probe}},
		{"-v", []string{"-vRHl0", "::1", p6, probe}},
		{"a name with an IPv6 address, -6", []string{"-6RHl0", "six.test.", p6, probe}},
		{"refused", []string{"::1", closed6, "true"}},
		{"refused, -6", []string{"-6", "0", closed6, "true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			compareClientRuns(t, ref, ours, func() reftest.Cmd { return reftest.Cmd{Args: tc.args, Env: env} }, anyLocalPort)
		})
	}
}

// BenchmarkTCPClient is one whole tcpclient run: start, connect, exec a
// program that exits at once; ours and Debian's side by side.
func BenchmarkTCPClient(b *testing.B) {
	ln := fakeserver.Serve(b, "127.0.44.1:0", func(net.Conn) {})
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, which := range []string{"ours", "reference"} {
		b.Run(which, func(b *testing.B) {
			prog := reftest.Ours(b, "tcpclient")
			if which == "reference" {
				prog = reftest.Ref(b, "tcpclient")
			}
			for b.Loop() {
				if out, err := exec.Command(prog, "-RHl0", "127.0.44.1", port, "/bin/true").CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, out)
				}
			}
		})
	}
}

// BenchmarkTcpcat moves 64 MB from a server to /dev/null through tcpcat;
// ours and Debian's (a script: tcpclient running sh running cat).
func BenchmarkTcpcat(b *testing.B) {
	const size = 64 << 20
	chunk := make([]byte, 1<<20)
	ln := fakeserver.Serve(b, "127.0.44.1:0", func(c net.Conn) {
		for range size / len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, which := range []string{"ours", "reference"} {
		b.Run(which, func(b *testing.B) {
			prog := reftest.Ours(b, "tcpcat")
			if which == "reference" {
				prog = reftest.Ref(b, "tcpcat")
			}
			b.SetBytes(size)
			for b.Loop() {
				cmd := exec.Command(prog, "127.0.44.1", port)
				var n countWriter
				cmd.Stdout = &n
				if err := cmd.Run(); err != nil || n != size {
					b.Fatalf("%v after %d bytes", err, n)
				}
			}
		})
	}
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// TestProxySend: --proxy-send writes a header naming the inherited client
// before the program runs, and nothing of the program's before it.
func TestProxySend(t *testing.T) {
	headers := make(chan string, 1)
	port := fakeserver.Port(fakeserver.Serve(t, "127.0.0.1:0", func(c net.Conn) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(c)
		headers <- string(b)
	}))
	inherited := []string{"TCPREMOTEIP=192.0.2.7", "TCPREMOTEPORT=4444", "TCPLOCALIP=198.51.100.1", "TCPLOCALPORT=25"}
	v2 := "\r\n\r\n\x00\r\nQUIT\n"
	for _, c := range []struct {
		version string
		env     []string
		want    string
	}{
		{"1", inherited, "PROXY TCP4 192.0.2.7 198.51.100.1 4444 25\r\n"},
		{"2", inherited, v2 + "\x21\x11\x00\x0c\xc0\x00\x02\x07\xc6\x33\x64\x01\x11\x5c\x00\x19"},
		{"1", []string{"TCPREMOTEIP=2001:db8::7", "TCPREMOTEPORT=1", "TCPLOCALIP=192.0.2.1", "TCPLOCALPORT=2"},
			"PROXY TCP6 2001:db8::7 ::ffff:192.0.2.1 1 2\r\n"},
		{"1", nil, "PROXY UNKNOWN\r\n"},
		{"2", nil, v2 + "\x20\x00\x00\x00"},
		{"1", []string{"TCPREMOTEIP=192.0.2.7", "TCPREMOTEPORT=70000", "TCPLOCALIP=198.51.100.1", "TCPLOCALPORT=25"}, "PROXY UNKNOWN\r\n"},
		{"2", []string{"TCPREMOTEIP=x", "TCPREMOTEPORT=1", "TCPLOCALIP=198.51.100.1", "TCPLOCALPORT=25"}, v2 + "\x20\x00\x00\x00"},
	} {
		r := reftest.Run(t, reftest.Ours(t, "tcpclient"), reftest.Cmd{
			Args: []string{"-RHl0", "--proxy-send", c.version, "127.0.0.1", strconv.Itoa(int(port)), "/bin/sh", "-c", "echo program >&7"},
			Env:  append([]string{"PATH=" + os.Getenv("PATH")}, c.env...)})
		got := <-headers
		if r.Code != 0 || got != c.want+"program\n" {
			t.Errorf("--proxy-send %s, %q: exit %d %s; the server read %q, want %q", c.version, c.env, r.Code, r.Stderr, got, c.want+"program\n")
		}
	}
	for _, v := range []string{"0", "3", "v2", ""} {
		r := reftest.Run(t, reftest.Ours(t, "tcpclient"), reftest.Cmd{Args: []string{"--proxy-send", v, "127.0.0.1", "1", "true"}})
		if r.Code != 100 || !strings.Contains(string(r.Stderr), "tcpclient: usage: ") {
			t.Errorf("--proxy-send %q: exit %d, %s", v, r.Code, r.Stderr)
		}
	}
}
