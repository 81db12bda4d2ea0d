package startup

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ucspi-go/ucspi/internal/fakeserver"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

// ulimit is a prefix running the rest under sh after the ulimit commands.
func ulimit(cmds string) []string {
	return []string{"/bin/sh", "-c", cmds + `; exec "$@"`, "sh"}
}

// A chain is what runs under the limits, ending in a program that prints
// /proc/self/limits: one of ours (or Debian's) at the top, run as a
// supervisor's run script would.
type chain struct {
	name string
	env  []string
	run  func(t *testing.T, prefix []string, dir string, env []string) string
}

// limitChains are the chains ending in cat /proc/self/limits, or in prog
// when given (a program that prints it, started by path).
func limitChains(t *testing.T, prog ...string) []chain {
	cat, path := []string{"cat", "/proc/self/limits"}, "/bin/cat"
	if prog != nil {
		cat, path = prog, prog[0]
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "RBLSMTPD="} // RBLSMTPD set and empty: let through, no lookup
	direct := func(args ...string) func(*testing.T, []string, string, []string) string {
		return func(t *testing.T, prefix []string, dir string, env []string) string {
			argv := append(append(prefix[:len(prefix):len(prefix)], filepath.Join(dir, args[0])), args[1:]...)
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Env = env
			// Standard error too: what a failing chain said shows in the diff.
			out, _ := cmd.CombinedOutput()
			return string(out)
		}
	}
	ln := fakeserver.Serve(t, "127.0.0.1:0", func(c net.Conn) { c.Read(make([]byte, 1)) })
	port := strconv.Itoa(int(fakeserver.Port(ln)))
	server := func(args ...string) func(*testing.T, []string, string, []string) string {
		return func(t *testing.T, prefix []string, dir string, env []string) string {
			argv := append(prefix[:len(prefix):len(prefix)], filepath.Join(dir, "tcpserver"), "-1", "-RHl0", "127.0.0.1", "0")
			for _, a := range args {
				if a == "rblsmtpd" {
					a = filepath.Join(dir, a) // the implementation's own
				}
				argv = append(argv, a)
			}
			p := start(t, env, argv...)
			out, _ := p.connect()
			return out
		}
	}
	return []chain{
		{"argv0", env, direct(append([]string{"argv0", path}, cat...)...)},
		{"rblsmtpd", env, direct(append([]string{"rblsmtpd"}, cat...)...)},
		{"tcpclient", env, direct(append([]string{"tcpclient", "-RHl0", "127.0.0.1", port}, cat...)...)},
		{"tcpserver", env, server(cat...)},
		{"tcpserver rblsmtpd", env, server(append([]string{"rblsmtpd"}, cat...)...)},
	}
}

// TestLimitsAgainstReference: the program at the end of each chain sees the
// limits it sees under Debian's, however they were set.
func TestLimitsAgainstReference(t *testing.T) {
	need(t, "softlimit")
	setups := []struct {
		name   string
		prefix []string
	}{
		{"softlimit -m 5000000", []string{"softlimit", "-m", "5000000"}},
		{"softlimit -m 8000000", []string{"softlimit", "-m", "8000000"}},
		{"softlimit -m 20000000", []string{"softlimit", "-m", "20000000"}},
		{"softlimit -m 30000000", []string{"softlimit", "-m", "30000000"}},
		{"softlimit -m 512000000", []string{"softlimit", "-m", "512000000"}},
		{"softlimit -a 20000000", []string{"softlimit", "-a", "20000000"}},
		{"softlimit -d 20000000", []string{"softlimit", "-d", "20000000"}},
		{"softlimit -s 1000000", []string{"softlimit", "-s", "1000000"}},
		{"softlimit -o 100", []string{"softlimit", "-o", "100"}},
		{"softlimit -l 100000", []string{"softlimit", "-l", "100000"}},
		{"ulimit -v 2000000", ulimit("ulimit -v 2000000")},
		{"ulimit -d 500000", ulimit("ulimit -d 500000")},
		{"ulimit -S -v 50000 -H -v 4000000", ulimit("ulimit -S -v 50000; ulimit -H -v 4000000")},
		{"ulimit -S -d 20000 -H -d 1000000", ulimit("ulimit -S -d 20000; ulimit -H -d 1000000")},
	}
	chains := limitChains(t)
	impls := impls(t)
	for _, s := range setups {
		for _, c := range chains {
			t.Run(s.name+"/"+c.name, func(t *testing.T) {
				want := c.run(t, s.prefix, impls[0].dir, c.env)
				got := c.run(t, s.prefix, impls[1].dir, c.env)
				if !strings.Contains(want, "Max address space") {
					t.Fatalf("Debian's printed no limits: %q", want)
				}
				if got != want {
					t.Errorf("limits differ\nDebian's:\n%s\nours:\n%s", want, got)
				}
			})
		}
	}
}

// TestSmallLimits: under the smallest limits a C program starts under, 2 MB
// of address space or data, ours starts (the kernel maps only the stub's
// window of text at exec, internal/lazybss) and the program at the end of
// each chain sees the limits it would have seen started directly. Debian's
// dynamic programs cannot start there (libc does not fit), so the reference
// is a static C program that prints /proc/self/limits, started by softlimit
// without us.
func TestSmallLimits(t *testing.T) {
	need(t, "softlimit")
	prog := staticLimits(t)
	dir := ours(t)
	setups := [][]string{
		{"softlimit", "-m", "2000000"},
		{"softlimit", "-a", "2000000"},
		{"softlimit", "-d", "2000000"},
		{"softlimit", "-m", "5000000"},
		{"softlimit", "-m", "20000000"},
	}
	chains := limitChains(t, prog)
	for _, prefix := range setups {
		out, err := exec.Command(prefix[0], append(prefix[1:], prog)...).Output()
		want := string(out)
		if err != nil || !strings.Contains(want, "Max address space") {
			t.Fatalf("%q %s: %v, %q", prefix, prog, err, out)
		}
		for _, c := range chains {
			t.Run(strings.Join(prefix, " ")+"/"+c.name, func(t *testing.T) {
				if got := c.run(t, prefix, dir, c.env); got != want {
					t.Errorf("limits differ\nstarted directly:\n%s\nat the end of the chain:\n%s", want, got)
				}
			})
		}
	}
	// Debian's own cannot start there.
	if ref := filepath.Join(reftest.Dir(), "argv0"); exists(ref) {
		if out, err := exec.Command("softlimit", "-m", "2000000", ref, prog, "limits").CombinedOutput(); err == nil {
			t.Errorf("Debian's argv0 started under softlimit -m 2000000: %q", out)
		}
	}
}

// TestSmallest: ours runs its Go code (argv0's message) under a soft limit
// far below anything a C program with libc starts under; below about 300 kB
// the kernel cannot even set up the stack and the data segment, and kills the
// exec, as it does any program's.
func TestSmallest(t *testing.T) {
	need(t, "softlimit")
	dir := ours(t)
	for _, mem := range []string{"500000", "1000000"} {
		p := start(t, nil, "softlimit", "-m", mem, filepath.Join(dir, "argv0"), "/nonexistent", "x")
		want := "argv0: fatal: unable to run /nonexistent: file does not exist\n"
		if st := p.wait(); st != "exit 111" || p.stderr() != want {
			t.Errorf("argv0 under softlimit -m %s: %s, %q", mem, st, p.stderr())
		}
	}
}

// staticLimits builds a static C program that prints /proc/self/limits: one
// that starts under 2 MB of address space, where Debian's dynamic cat cannot.
func staticLimits(t *testing.T) string {
	t.Helper()
	need(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "limits.c")
	os.WriteFile(src, []byte(`#include <fcntl.h>
#include <unistd.h>
int main(void) {
	char b[4096];
	ssize_t n;
	int fd = open("/proc/self/limits", O_RDONLY);
	if (fd < 0) return 111;
	while ((n = read(fd, b, sizeof b)) > 0) write(1, b, n);
	return 0;
}
`), 0o644)
	prog := filepath.Join(dir, "limits")
	if out, err := exec.Command("gcc", "-static", "-Os", "-o", prog, src).CombinedOutput(); err != nil {
		t.Skipf("no static C program (libc6-dev's libc.a): %v %s", err, out)
	}
	return prog
}

// TestFatalBelowNeeds: a hard limit below what the runtime needs gets one line
// from the stub and exit 111, whatever the soft limits.
func TestFatalBelowNeeds(t *testing.T) {
	dir := ours(t)
	line := func(name, what string, n, m uint64) string {
		return fmt.Sprintf("%s: fatal: unable to start: %s limit %d is below what the Go runtime needs (about %d)\n", name, what, n, m)
	}
	for _, c := range []struct {
		limits string
		argv   []string
		want   string
	}{
		{"ulimit -v 600000", []string{filepath.Join(dir, "tcpserver"), "0", "0", "x"}, line("tcpserver", "address space", 600000<<10, needAS)},
		{"ulimit -v 600000", []string{filepath.Join(dir, "ucspi"), "tcpserver", "0", "0", "x"}, line("tcpserver", "address space", 600000<<10, needAS)},
		{"ulimit -v 600000", []string{filepath.Join(dir, "ucspi"), "--version"}, line("ucspi", "address space", 600000<<10, needAS)},
		{"ulimit -S -v 20000; ulimit -H -v 700000", []string{filepath.Join(dir, "argv0"), "/bin/true", "true"}, line("argv0", "address space", 700000<<10, needAS)},
		{"ulimit -d 60000", []string{filepath.Join(dir, "rblsmtpd"), "true"}, line("rblsmtpd", "data", 60000<<10, needData)},
		// Hard limits too small for the text and read-only data: the
		// line is printed before they are mapped.
		{"ulimit -v 2000", []string{filepath.Join(dir, "tcpserver"), "0", "0", "x"}, line("tcpserver", "address space", 2000<<10, needAS)},
		{"ulimit -d 2000", []string{filepath.Join(dir, "argv0"), "/bin/true", "true"}, line("argv0", "data", 2000<<10, needData)},
	} {
		p := start(t, nil, append(ulimit(c.limits), c.argv...)...)
		if st := p.wait(); st != "exit 111" || p.stderr() != c.want {
			t.Errorf("%s; %q: %s, %q; want exit 111, %q", c.limits, c.argv, st, p.stderr(), c.want)
		}
	}
}

// TestNeeds measures what the runtime needs, with a build without the stub
// (which then fails the runtime's own way), and checks that the stub's
// figures cover it without being far above: they are what it prints.
func TestNeeds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary without the stub")
	}
	need(t, "prlimit")
	plain := filepath.Join(t.TempDir(), "ucspi")
	if err := reftest.Make("bin/ucspi", "BIN="+plain, "ENTRY="); err != nil {
		t.Fatal(err)
	}
	starts := func(resource string, n uint64) bool {
		arg := fmt.Sprintf("--%s=%d:%d", resource, n, n)
		return exec.Command("prlimit", arg, plain, "argv0", "/bin/true", "true").Run() == nil
	}
	// The least hard limit, to 1 MB, under which it starts.
	least := func(resource string) uint64 {
		lo, hi := uint64(1<<20), uint64(4<<30)
		if !starts(resource, hi) {
			t.Fatalf("no start with %s %d", resource, hi)
		}
		for hi-lo > 1<<20 {
			mid := lo + (hi-lo)/2
			if starts(resource, mid) {
				hi = mid
			} else {
				lo = mid
			}
		}
		return hi
	}
	for _, c := range []struct {
		resource    string
		need, slack uint64
	}{
		{"as", needAS, 128 << 20},
		{"data", needData, 64 << 20},
	} {
		got := least(c.resource)
		t.Logf("the runtime starts with a %s limit of %d MB (the stub asks for %d MB)", c.resource, got>>20, c.need>>20)
		if c.need < got || c.need > got+c.slack {
			t.Errorf("%s: the stub asks for %d, the runtime needs %d", c.resource, c.need, got)
		}
	}
}

// TestWithoutStub: a plain go build (no -E) works as before, without the
// fidelity: it serves, and it execs.
func TestWithoutStub(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary without the stub")
	}
	dir := t.TempDir()
	plain := filepath.Join(dir, "ucspi")
	if err := reftest.Make("bin/ucspi", "BIN="+plain, "ENTRY="); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(plain, "argv0", "/bin/echo", "echo", "hello").Output(); err != nil || string(out) != "hello\n" {
		t.Errorf("argv0: %v, %q", err, out)
	}
	p := start(t, nil, plain, "tcpserver", "-1", "-RHl0", "127.0.0.1", "0", "/bin/echo", "hello")
	if out, _ := p.connect(); out != "hello\n" {
		t.Errorf("tcpserver: %q", out)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
