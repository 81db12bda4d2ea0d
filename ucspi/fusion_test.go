package ucspi

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/ucspi-go/ucspi/internal/fakedns"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

// Fusion (tcpserver doing argv0's and rblsmtpd's work itself) must change
// nothing but speed: each chain runs under Debian's tcpserver, argv0 and
// rblsmtpd, under ours with fusion, and under ours with --no-fusion, and the
// three must agree on everything the program and the client see and on every
// log line: argv, environment, descriptors, the program's pid against the
// "pid N from" line, the replies, and the log.

// chainHandler prints what the program got: its argv, its pid, its open
// descriptors, its environment, then echoes the client.
const chainHandler = `echo "ARGV $0 $*"
echo "PID $$"
/usr/bin/ls -m /proc/$$/fd
` + printEnv

// chainBin makes a directory of argv0 and rblsmtpd for $PATH: links to ours
// (which fusion must recognise as this very binary) or to Debian's.
func chainBin(t *testing.T, ours bool) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"argv0", "rblsmtpd"} {
		target := filepath.Join(reftest.Dir(), name)
		if ours {
			target = reftest.Ours(t, name)
		} else {
			reftest.Ref(t, name)
		}
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var pidFrom = regexp.MustCompile(`tcpserver: pid (\d+) from`)

// chainRun runs sc on tcpserver prog with the chain's programs from bin, and
// checks that each program's pid is the one the log gave.
func chainRun(t *testing.T, sc scenario, prog, bin string, extra ...string) outcome {
	t.Helper()
	sc.env = append([]string{"PATH=" + bin + ":" + os.Getenv("PATH")}, sc.env...)
	sc.args = append(append([]string{}, extra...), sc.args...)
	o := sc.run(t, prog)
	logPids := pidFrom.FindAllStringSubmatch(o.rawLog, -1)
	for _, reply := range o.rawReplies {
		m := pidLine.FindStringSubmatch(reply)
		if m == nil {
			continue
		}
		found := false
		for _, lp := range logPids {
			found = found || "PID "+lp[1] == m[0]
		}
		if !found {
			t.Errorf("%s: the program's pid %s is not in any \"pid N from\" line:\n%s", prog, m[1], o.rawLog)
		}
	}
	for i, r := range o.replies {
		o.replies[i] = strings.ReplaceAll(pidLine.ReplaceAllString(r, "PID N"), bin, "BIN")
	}
	return o
}

var pidLine = regexp.MustCompile(`PID \d+`)

func TestFusionChangesNothingButSpeed(t *testing.T) {
	ref := reftest.Ref(t, "tcpserver")
	ours := reftest.Ours(t, "tcpserver")
	refBin, ourBin := chainBin(t, false), chainBin(t, true)
	dir := t.TempDir()
	handler := script(t, dir, "handler", chainHandler)
	dns := fakedns.Start(t,
		`2.0.0.127.bl.test. TXT "listed here"`,
		`3.0.0.127.bl.test. TXT "listed but whitelisted"`,
	)
	rules := filepath.Join(dir, "rules.cdb")
	tcprules(t, rules, "127.0.0.3:allow,RBLSMTPD=\"\"\n127.0.0.5:allow,PATH=\"/nonexistent\"\n:allow,FROMRULE=\"yes\"\n")
	smtp := "HELO x\r\nQUIT\r\n"
	everyone := []exchange{{send: smtp}, {from: "127.0.0.2", send: smtp}, {from: "127.0.0.3", send: smtp}}
	// No DNS server to ask: every lookup fails at once (a refused port or a
	// SERVFAIL would cost djb's resolver 11 s of retries).
	deadDNS := []string{"DNSCACHEIP=0.0.0.0"}

	for _, sc := range []scenario{
		{args: []string{"-vRHl0", "-x", rules, "127.0.0.1", "0", "argv0", handler, "name", "a", "b"},
			conns: []exchange{{send: "x\n"}, {from: "127.0.0.5", send: "y\n"}}},
		{args: []string{"-vRHl0", "-x", rules, "-c2", "-b5", "-t1", "127.0.0.1", "0", "rblsmtpd", "-r", "bl.test", handler, "arg"},
			conns: everyone},
		{args: []string{"-vRHl0", "-x", rules, "127.0.0.1", "0", "rblsmtpd", "-c", "-r", "bl.test", handler},
			conns: everyone},
		{args: []string{"-vRHl0", "-x", rules, "127.0.0.1", "0", "argv0", "rblsmtpd", "rblsmtpd", "-b", "-r", "bl.test", "argv0", handler, "zero"},
			conns: everyone},
		{args: []string{"-vRHl0", "127.0.0.1", "0", "rblsmtpd", "-r", "bl.test", handler},
			env: deadDNS, conns: everyone[:1]},
		{args: []string{"-vRHl0", "127.0.0.1", "0", "rblsmtpd", "-c", "-r", "bl.test", handler},
			env: deadDNS, conns: everyone[:1]},
		{args: []string{"-vRHl0", "127.0.0.1", "0", "rblsmtpd", "-t", "0", "-Z", handler},
			conns: []exchange{{send: smtp}}},
		{args: []string{"-vRHl0", "127.0.0.1", "0", "argv0", "/nonexistent/prog", "x"},
			conns: []exchange{{send: "x\n"}}},
	} {
		if sc.env == nil {
			sc.env = []string{"DNSCACHEIP=" + dns.IP}
		}
		t.Run(strings.Join(sc.args[4:], " "), func(t *testing.T) {
			t.Parallel()
			want := chainRun(t, sc, ref, refBin)
			for _, mode := range [][]string{nil, {"--no-fusion"}} {
				got := chainRun(t, sc, ours, ourBin, mode...)
				for i := range want.replies {
					if got.replies[i] != want.replies[i] {
						t.Errorf("%q %q: connection %d differs\nDebian's: %q\nours:     %q", mode, sc.args, i, want.replies[i], got.replies[i])
					}
				}
				if got.log != want.log {
					t.Errorf("%q %q: log differs\nDebian's:\n%s\nours:\n%s", mode, sc.args, want.log, got.log)
				}
			}
		})
	}
}

// The proof that fusion happens at all: with it, the server never executes our
// binary for a connection; without it, once per applet in the chain.
func TestFusionStartsOneProcess(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed (.ci/run installs it)")
	}
	ours := reftest.Ours(t, "tcpserver")
	bin := chainBin(t, true)
	handler := script(t, t.TempDir(), "handler", "echo ok\n")
	for _, c := range []struct {
		mode  []string
		execs int
	}{{nil, 0}, {[]string{"--no-fusion"}, 2}} {
		trace := filepath.Join(t.TempDir(), "trace")
		args := append([]string{"-f", "-qq", "-e", "trace=execve", "-o", trace, ours, "-1"}, c.mode...)
		args = append(args, "-RHl0", "127.0.0.1", "0", "argv0", "rblsmtpd", "rblsmtpd", handler)
		// strace and the server it traces in a group of their own: killed,
		// strace would leave its tracee running.
		cmd := exec.Command(strace, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		s := startCmd(t, cmd, []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "RBLSMTPD="})
		group := -cmd.Process.Pid
		t.Cleanup(func() { syscall.Kill(group, syscall.SIGKILL) })
		if reply, _ := talk(t, s.addr("127.0.0.1"), "", ""); reply != "ok\n" {
			t.Fatalf("%q: reply %q", c.mode, reply)
		}
		syscall.Kill(group, syscall.SIGKILL)
		s.kill()
		b, _ := os.ReadFile(trace)
		execs := 0
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "execve(\""+bin+"/") {
				execs++
			}
		}
		if execs != c.execs {
			t.Errorf("%q: our applets were executed %d times for one connection, want %d:\n%s", c.mode, execs, c.execs, b)
		}
	}
}

// A listed client under fusion: the server's lookup decides, and the real
// rblsmtpd, handed the verdict in $RBLSMTPD, holds the dialogue without
// asking the DNS again (Debian's rblsmtpd asks once; so must we).
func TestFusionAsksTheDNSOnce(t *testing.T) {
	ours := reftest.Ours(t, "tcpserver")
	bin := chainBin(t, true)
	handler := script(t, t.TempDir(), "handler", "echo served\n")
	dns := fakedns.Start(t, `2.0.0.127.bl.test. TXT "listed here"`)
	for _, c := range []struct {
		mode    []string
		queries int
	}{{nil, 1}, {[]string{"--no-fusion"}, 1}} {
		sc := scenario{
			args:  append(append([]string{}, c.mode...), "-vRHl0", "127.0.0.1", "0", "rblsmtpd", "-b", "-r", "bl.test", handler),
			env:   []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "DNSCACHEIP=" + dns.IP},
			conns: []exchange{{from: "127.0.0.2", send: "QUIT\r\n"}},
		}
		before := len(dns.Queries())
		o := sc.run(t, ours)
		if want := "220 rblsmtpd.local\r\n221 rblsmtpd.local\r\n"; o.rawReplies[0] != want {
			t.Errorf("%q: reply %q, want %q", c.mode, o.rawReplies[0], want)
		}
		if !regexp.MustCompile(`\nrblsmtpd: 127\.0\.0\.2 pid \d+: 553 listed here\n`).MatchString(o.rawLog) {
			t.Errorf("%q: no rblsmtpd line in the log:\n%s", c.mode, o.rawLog)
		}
		if asked := len(dns.Queries()) - before; asked != c.queries {
			t.Errorf("%q: the DNS was asked %d times, want %d: %q", c.mode, asked, c.queries, dns.Queries()[before:])
		}
	}
}
