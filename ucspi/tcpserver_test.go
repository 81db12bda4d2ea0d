package ucspi

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/fakedns"
	"github.com/ucspi-go/ucspi/internal/fakeserver"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

// Differential tests: the same scenario against Debian's tcpserver and ours,
// comparing what each connection got and the log, pids and ports normalised.

func pathEnv(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH")}, extra...)
}

func TestEnvironmentAndOptions(t *testing.T) {
	ref := reftest.Ref(t, "tcpserver")
	dir := t.TempDir()
	print := script(t, dir, "print", printEnv)
	for _, args := range [][]string{
		{"-v", "-R", "-H", "-l", "Local", "127.0.0.1", "0", print},
		{"-vRHl0", "-B", "hello\r\n", "-D", "-o", "-b5", "-c3", "127.0.0.1", "0", print, "ignored", "args"},
		{"-v", "-RH", "-dO", "-Bx", "-l", "odd name:%\x01", "-c", "7", "127.000.000.001", "0", print},
		{"-q", "-v", "-RHl0", "127.0.0.1", "0", print},
		{"-v", "-q", "-RHl0", "127.0.0.1", "0", print},
		{"-RHl0", "-Q", "[127.0.0.1]", "0", "sh", "-c", "echo $0 $1 $#; " + printEnv, "zero", "one"},
	} {
		sc := scenario{args: args, env: pathEnv("FOO=kept", "TCPREMOTEHOST=stale", "TCPREMOTEINFO=stale"),
			conns: []exchange{{send: "data\n"}, {send: ""}}}
		sc.compare(t, ref)
	}
}

func TestRemoteHostAndParanoia(t *testing.T) {
	ref := reftest.Ref(t, "tcpserver")
	dns := fakedns.Start(t,
		"1.0.0.127.in-addr.arpa. PTR localhost.",
		"localhost. A 127.0.0.1",
		"3.2.1.127.in-addr.arpa. PTR client.test.",
		"client.test. A 127.1.2.3",
		"4.2.1.127.in-addr.arpa. PTR liar.test.",
		"liar.test. A 10.9.8.7",
		"6.2.1.127.in-addr.arpa. PTR a:b%c.test.",
	)
	dir := t.TempDir()
	print := script(t, dir, "print", printEnv)
	conns := []exchange{{from: "127.1.2.3"}, {from: "127.1.2.4"}, {from: "127.1.2.5"}, {from: "127.1.2.7"}, {}}
	for _, args := range [][]string{
		{"-v", "-R", "127.0.0.1", "0", print},
		{"-v", "-Rp", "127.0.0.1", "0", print},
		{"-v", "-RpP", "-l", "me", "127.0.0.1", "0", print},
		{"-v", "-RHh", "-p", "-Bbanner", "127.0.0.1", "0", print},
		{"-v", "-RH", "127.0.0.1", "0", print}, // TCPLOCALHOST still looked up
	} {
		scenario{args: args, env: pathEnv("DNSCACHEIP=" + dns.IP), conns: conns}.compare(t, ref)
	}
	// Failing DNS servers: see TestDNSAgainstReference.
}

func TestRemoteInfo(t *testing.T) {
	ref := reftest.Ref(t, "tcpserver")
	fakeserver.Ident(t, "127.1.3.1", "USERID : UNIX : joe")
	fakeserver.Ident(t, "127.1.3.2", "USERID : UNIX :  long name: with%odd \x01chars")
	fakeserver.Ident(t, "127.1.3.3", "ERROR : NO-USER")
	fakeserver.Ident(t, "127.1.3.4", "")
	dir := t.TempDir()
	print := script(t, dir, "print", printEnv)
	sc := scenario{
		args:  []string{"-v", "-H", "-l0", "-t", "5", "127.0.0.1", "0", print},
		conns: []exchange{{from: "127.1.3.1"}, {from: "127.1.3.2"}, {from: "127.1.3.3"}, {from: "127.0.0.1"}},
	}
	sc.compare(t, ref)
	// A silent ident server: -t bounds the wait.
	sc = scenario{args: []string{"-v", "-H", "-l0", "-t1", "127.0.0.1", "0", print}, conns: []exchange{{from: "127.1.3.4"}}}
	start := time.Now()
	sc.compare(t, ref)
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("two runs with -t1 and a silent ident server took %v", d)
	}
}

func TestRules(t *testing.T) {
	ref := reftest.Ref(t, "tcpserver")
	dir := t.TempDir()
	print := script(t, dir, "print", printEnv)
	cdb := filepath.Join(dir, "rules.cdb")
	rules := "127.1.4.1:deny\n127.0.0.1:allow,FOO=\"bar\",TCPREMOTEHOST=\"forged\",PROTO=\"X\"\n" +
		"127.1.4.:allow,EMPTY=\"\"\n:allow,OTHER=\"default\"\n"
	conns := []exchange{{from: "127.1.4.1"}, {from: "127.0.0.1"}, {from: "127.1.4.2"}, {from: "127.1.5.1"}}
	write := func() { tcprules(t, cdb, rules) }
	for _, args := range [][]string{
		{"-v", "-RHl0", "-B", "banner\n", "-x", cdb, "127.0.0.1", "0", print},
		{"-RHl0", "-x", cdb, "127.0.0.1", "0", print},
		{"-v", "-RHl0", "-X", "-x", cdb, "127.0.0.1", "0", print},
	} {
		scenario{args: args, setup: write, conns: conns}.compare(t, ref)
	}

	// A missing cdb drops every connection, unless -X.
	missing := filepath.Join(dir, "missing.cdb")
	for _, args := range [][]string{
		{"-v", "-RHl0", "-x", missing, "127.0.0.1", "0", print},
		{"-RHl0", "-x", missing, "127.0.0.1", "0", print},
		{"-v", "-RHl0", "-Xx", missing, "127.0.0.1", "0", print},
	} {
		scenario{args: args, conns: []exchange{{}, {}}}.compare(t, ref)
	}

	// The rules are read afresh for each connection.
	scenario{
		args:  []string{"-v", "-RHl0", "-x", cdb, "127.0.0.1", "0", print},
		setup: func() { tcprules(t, cdb, ":allow,N=\"1\"\n") },
		conns: []exchange{{}, {before: func() { tcprules(t, cdb, ":allow,N=\"2\"\n") }},
			{before: func() { tcprules(t, cdb, ":deny\n") }}, {before: func() { os.Remove(cdb) }}},
	}.compare(t, ref)
}

// TestProgramFailure: a program that cannot run costs its connection only.
func TestProgramFailure(t *testing.T) {
	ref := reftest.Ref(t, "tcpserver")
	dir := t.TempDir()
	noexec := filepath.Join(dir, "noexec")
	os.WriteFile(noexec, []byte("#!/bin/sh\necho hi\n"), 0o644)
	badinterp := script(t, dir, "badinterp", "")
	os.WriteFile(badinterp, []byte("#!/nonexistent/sh\n"), 0o755)
	for _, prog := range []string{"./nonexistent", "nonexistent-program", noexec, badinterp, dir} {
		for _, v := range []string{"-v", "-Q", "-q"} {
			scenario{args: []string{v, "-RHl0", "-B", "b", "127.0.0.1", "0", prog}, conns: []exchange{{}, {}}}.compare(t, ref)
		}
	}
	// $PATH is searched as djb's pathexec does, "" being the current directory.
	scenario{args: []string{"-v", "-RHl0", "127.0.0.1", "0", "print", "x"},
		env:   []string{},
		conns: []exchange{{}}}.compare(t, ref)
	script(t, dir, "print", printEnv)
	for _, path := range []string{"PATH=/nonexistent:" + dir, "PATH=/nonexistent::/bin", "PATH=" + noexec + ":" + dir} {
		scenario{args: []string{"-RHl0", "127.0.0.1", "0", "print"}, env: []string{path}, conns: []exchange{{}}}.compare(t, ref)
	}
}

// TestUsageAndFatalErrors compares the errors that stop tcpserver before it
// serves anything.
func TestUsageAndFatalErrors(t *testing.T) {
	dns := fakedns.Start(t, "host.test. A 127.0.0.1")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, busyPort, _ := net.SplitHostPort(busy.Addr().String())
	env := pathEnv("DNSCACHEIP=" + dns.IP)
	long := strings.Repeat("thislabelistoolong", 4) + "."
	for _, args := range [][]string{
		{}, {"0"}, {"0", "0"}, {"-z", "0", "0", "x"}, {"-c"}, {"-vq", "0"}, {"-v", "0", "0"},
		{"0", "nonexistentport", "x"}, {"0", "nonexistentport"}, {"-q", "0", "nonexistentport", "x"},
		{"nonexistent.test.", "0", "x"}, {long, "0", "x"},
		{"1.2.3.4", "0", "x"}, {"1.2.3", "0", "x"}, {"-q", "1.2.3.4", "0", "x"},
		{"127.0.0.1", busyPort, "x"}, {"-v", "127.000.000.001", busyPort, "x"},
	} {
		reftest.Compare(t, "tcpserver", reftest.Cmd{Args: args, Env: env})
	}
}

// nobodyCopy puts a copy of prog where user nobody can run it.
func nobodyCopy(t *testing.T, prog string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ucspi-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	b, err := os.ReadFile(prog)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "tcpserver")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestIDs: -g, -u and -U, as root (the program runs with the new ids) and as
// nobody (permission denied).
func TestIDs(t *testing.T) {
	ref := reftest.Ref(t, "tcpserver")
	setpriv, err := exec.LookPath("setpriv")
	if err != nil || os.Getuid() != 0 {
		t.Skip("needs root and setpriv")
	}
	ours, _ := filepath.EvalSymlinks(reftest.Ours(t, "tcpserver"))
	ours = nobodyCopy(t, ours)
	asNobody := []string{"--reuid=65534", "--regid=65534", "--clear-groups"}
	for _, args := range [][]string{
		{"-u", "1", "0", "0", "x"}, {"-g", "2", "0", "0", "x"}, {"-U", "0", "0", "x"},
		{"-U", "-u", "0", "0", "0", "x"}, {"-g", "0", "-u", "0", "127.0.0.1", "1", "x"},
	} {
		env := pathEnv("UID=1", "GID=2")
		want := reftest.Run(t, setpriv, reftest.Cmd{Args: append(append(asNobody, ref), args...), Env: env})
		got := reftest.Run(t, setpriv, reftest.Cmd{Args: append(append(asNobody, ours), args...), Env: env})
		if string(got.Stderr) != string(want.Stderr) || got.Code != want.Code {
			t.Errorf("as nobody, %q: reference %d %q, ours %d %q", args, want.Code, want.Stderr, got.Code, got.Stderr)
		}
	}
	// The script must be reachable by nobody: TempDir's parent is 0700.
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	id := script(t, dir, "id", "/usr/bin/id\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-v", "-RHl0", "-g", "65534", "-u", "65534", "127.0.0.1", "0", id}, "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"},
		{[]string{"-v", "-RHl0", "-U", "127.0.0.1", "0", id}, "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"},
		{[]string{"-v", "-RHl0", "-g", "3", "127.0.0.1", "0", id}, "uid=0(root) gid=3(sys) groups=3(sys)"},
	} {
		got := scenario{args: c.args, env: pathEnv("UID=65534", "GID=65534"), conns: []exchange{{}}}.compare(t, ref)
		if strings.TrimSpace(got.replies[0]) != c.want {
			t.Errorf("%q: the program ran as %q, want %q", c.args, got.replies[0], c.want)
		}
	}
}

// TestIPv6 compares ours with Debian's ucspi-tcp-ipv6 where they mean to agree:
// IPv6 peers, the dual-stack wildcard, -6, rules with IPv6 keys; and -4 with
// 0.88 itself.
func TestIPv6(t *testing.T) {
	ref6 := reftest.Ref6(t, "tcpserver")
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		ln.Close()
	}
	dir := t.TempDir()
	print := script(t, dir, "print", printEnv)
	cdb := filepath.Join(dir, "rules6.cdb")
	rules := func() {
		r := reftest.Run(t, reftest.Ref6(t, "tcprules"), reftest.Cmd{Args: []string{cdb, cdb + ".tmp"},
			Stdin: []byte("::1:allow,SIX=\"yes\"\n127.0.0.1:allow,FOUR=\"yes\"\n:deny\n")})
		if r.Code != 0 {
			t.Fatalf("tcprules: %s", r.Stderr)
		}
	}
	for _, sc := range []scenario{
		{args: []string{"-v", "-RHl0", "::1", "0", print}, host: "::1", conns: []exchange{{}, {send: "x"}}},
		{args: []string{"-RHl0", "-I", "lo", "::1", "0", print}, host: "::1", conns: []exchange{{}}},
		// ucspi-tcp-ipv6's 0 is our :: (our 0 is 0.88's, IPv4 only).
		{args: []string{"-v", "-RHl0", "-B", "hi", "0", "0", print}, ours: []string{"-v", "-RHl0", "-B", "hi", "::", "0", print}, host: "::1", conns: []exchange{{}}},
		{args: []string{"-RHl0", "0", "0", print}, ours: []string{"-RHl0", "::", "0", print}, host: "127.0.0.1", conns: []exchange{{}}},
		{args: []string{"-RHl0", "", "0", print}, ours: []string{"-RHl0", "::", "0", print}, host: "::1", conns: []exchange{{}}},
		{args: []string{"-v", "-6", "-RHl0", "0", "0", print}, host: "127.0.0.1", conns: []exchange{{}}},
		{args: []string{"-v", "-6", "-RHl0", "0", "0", print}, host: "::1", conns: []exchange{{}}},
		{args: []string{"-v", "-RHl0", "-x", cdb, "0", "0", print}, ours: []string{"-v", "-RHl0", "-x", cdb, "::", "0", print}, host: "::1", setup: rules, conns: []exchange{{}}},
		{args: []string{"-RHl0", "-x", cdb, "0", "0", print}, ours: []string{"-RHl0", "-x", cdb, "::", "0", print}, host: "127.0.0.1", setup: rules, conns: []exchange{{}}},
	} {
		sc.compare(t, ref6)
	}
	// 0 and -4 are 0.88 itself, IPv6 peers turned away.
	ref := reftest.Ref(t, "tcpserver")
	scenario{args: []string{"-v", "-RHl0", "0", "0", print}, conns: []exchange{{}}}.compare(t, ref)
	scenario{args: []string{"-v", "-RHl0", "0", "0", print}, ours: []string{"-v", "-4", "-RHl0", "0", "0", print},
		conns: []exchange{{}}}.compare(t, ref)
	s := startServer(t, reftest.Ours(t, "tcpserver"), nil, "-4", "-RHl0", "0", "0", print)
	if c, err := net.Dial("tcp", s.addr("::1")); err == nil {
		c.Close()
		t.Error("-4 accepted an IPv6 connection")
	}
	// Bracketed literals, which the reference resolves through the DNS.
	s = startServer(t, reftest.Ours(t, "tcpserver"), nil, "-RHl0", "[::1]", "0", print)
	if out, _ := talk(t, s.addr("::1"), "", ""); !strings.Contains(out, "\nTCPLOCALIP=::1\n") {
		t.Errorf("[::1]: %s", out)
	}
}
