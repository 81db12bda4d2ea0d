package startup

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/fakeserver"
)

// The signals a supervisor or an operator sends (daemontools' svc -h -a -i -t
// -k, runit's sv and s6-svc add QUIT, USR1, USR2, ABRT), the limits' XCPU and
// XFSZ, and those whose default is to do nothing.
var sent = []syscall.Signal{
	syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGABRT, syscall.SIGUSR1,
	syscall.SIGUSR2, syscall.SIGALRM, syscall.SIGTERM, syscall.SIGXCPU, syscall.SIGXFSZ,
	syscall.SIGVTALRM, syscall.SIGIO, syscall.SIGPWR,
	syscall.SIGCHLD, syscall.SIGWINCH, syscall.SIGURG, syscall.SIGCONT,
}

// A steady state is a program of ours (or Debian's) running in its loop, and
// a way to see what a signal does to it: started returns the pid to signal and
// a function saying how it ended ("running" if it has not).
type steady struct {
	name string
	// pipe: it ignores or catches SIGPIPE in 0.88 too (the others die of it
	// there, but go on in ours: docs/compat.md).
	pipe    bool
	started func(t *testing.T, dir string) (int, func() string)
}

// ended is how p ended, giving it grace to end before calling it running.
func ended(p *proc) func() string {
	return func() string {
		if !p.settled(300 * time.Millisecond) {
			return "running"
		}
		return p.wait()
	}
}

func steadies(t *testing.T) []steady {
	talker := fakeserver.Serve(t, "127.0.0.1:0", func(c net.Conn) {
		c.Write([]byte("x\r\n"))
		io.Copy(io.Discard, c)
	})
	talkerPort := strconv.Itoa(int(fakeserver.Port(talker)))
	full := strconv.Itoa(int(fakeserver.BacklogFull(t, "127.0.0.1")))
	env := []string{"PATH=" + os.Getenv("PATH")}
	reading := func(name string, args ...string) steady {
		return steady{name: name, started: func(t *testing.T, dir string) (int, func() string) {
			p := start(t, env, append([]string{filepath.Join(dir, name)}, args...)...)
			pid := p.cmd.Process.Pid
			until(t, name+" to read its input", func() bool { return blockedIn(pid, syscall.SYS_READ, 0) })
			return pid, ended(p)
		}}
	}
	client := func(name string, pipe bool) steady {
		return steady{name: name, pipe: pipe, started: func(t *testing.T, dir string) (int, func() string) {
			p := start(t, env, filepath.Join(dir, name), "127.0.0.1", talkerPort)
			if l := p.line(); strings.TrimRight(l, "\r\n") != "x" {
				t.Fatalf("%s printed %q", name, l)
			}
			return p.cmd.Process.Pid, ended(p)
		}}
	}
	// The relay, the program's child; the program, perl, reports the relay's
	// wait status on descriptor 2.
	relay := func(name string) steady {
		return steady{name: name, pipe: true, started: func(t *testing.T, dir string) (int, func() string) {
			perl := `$| = 1; $l = <STDIN>; print $l; wait; print STDERR "relay $?\n"; sleep 100`
			p := start(t, env, filepath.Join(dir, name), need(t, "perl"), "-e", perl)
			fmt.Fprintf(p.stdin, "x\n")
			if l := p.line(); strings.TrimRight(l, "\r\n") != "x" {
				t.Fatalf("%s printed %q", name, l)
			}
			kids := children(p.cmd.Process.Pid)
			if len(kids) != 1 {
				t.Fatalf("%s: the program has children %v", name, kids)
			}
			return kids[0], func() string {
				for i := 0; i < 30; i++ {
					for _, l := range strings.Split(p.stderrNow(), "\n") {
						if st, ok := strings.CutPrefix(l, "relay "); ok {
							n, _ := strconv.Atoi(st)
							return status(syscall.WaitStatus(n))
						}
					}
					time.Sleep(10 * time.Millisecond)
				}
				return "running"
			}
		}}
	}
	return []steady{
		{name: "tcpserver", pipe: true, started: func(t *testing.T, dir string) (int, func() string) {
			p := start(t, env, filepath.Join(dir, "tcpserver"), "-1", "-RHl0", "127.0.0.1", "0", "cat")
			p.line()
			return p.cmd.Process.Pid, ended(p)
		}},
		{name: "rblsmtpd", started: func(t *testing.T, dir string) (int, func() string) {
			p := start(t, append(env, "RBLSMTPD=go away"), filepath.Join(dir, "rblsmtpd"), "cat")
			if l := p.line(); l != "220 rblsmtpd.local\r\n" {
				t.Fatalf("rblsmtpd said %q", l)
			}
			return p.cmd.Process.Pid, ended(p)
		}},
		relay("fixcrio"),
		relay("recordio"),
		client("mconnect", true),
		client("tcpcat", false),
		{name: "tcpclient", pipe: true, started: func(t *testing.T, dir string) (int, func() string) {
			p := start(t, env, filepath.Join(dir, "tcpclient"), "-RHl0", "127.0.0.1", full, "true")
			pid := p.cmd.Process.Pid
			until(t, "tcpclient to connect", func() bool { return hasSocket(pid) })
			return pid, ended(p)
		}},
		reading("addcr"),
		reading("delcr"),
		reading("tcprules", filepath.Join(t.TempDir(), "rules.cdb"), filepath.Join(t.TempDir(), "rules.tmp")),
	}
}

// TestSignalsAgainstReference: each of our applets that runs in Go, in its
// steady state, ends (or goes on) on each signal as Debian's does, with the
// same wait status.
func TestSignalsAgainstReference(t *testing.T) {
	impls := impls(t)
	for _, s := range steadies(t) {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			for _, sig := range sent {
				var got [2]string
				for i, im := range impls {
					pid, how := s.started(t, im.dir)
					syscall.Kill(pid, sig)
					got[i] = how()
				}
				if got[0] != got[1] {
					t.Errorf("%v: Debian's %s, ours %s", sig, got[0], got[1])
				}
			}
			if s.pipe {
				// Both ignore or catch it; elsewhere ours goes on where
				// 0.88's died (docs/compat.md).
				pid, how := s.started(t, impls[1].dir)
				syscall.Kill(pid, syscall.SIGPIPE)
				if st := how(); st != "running" {
					t.Errorf("SIGPIPE: ours %s", st)
				}
			}
		})
	}
}

// TestInheritedSignals: signals ignored and blocked when ucspi started are
// ignored and blocked for the programs it runs, as under 0.88: the program at
// the end of each chain reports /proc/self/status's signal masks.
func TestInheritedSignals(t *testing.T) {
	perl := need(t, "perl")
	impls := impls(t)
	// Ignore some (dash's trap ""), block others (perl's sigprocmask), then
	// run the rest.
	const ignored = `trap "" HUP QUIT USR1 PIPE TERM ALRM CHLD WINCH 40`
	block := `use POSIX; sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGUSR2, SIGINT, SIGQUIT, SIGTERM, SIGCHLD, SIGVTALRM)); exec @ARGV or die`
	report := []string{"/bin/sh", "-c", `grep -E "^Sig(Blk|Ign|Cgt)" /proc/self/status`}
	setups := []struct {
		name   string
		prefix []string
	}{
		{"ignored", []string{"/bin/sh", "-c", ignored + `; exec "$@"`, "sh"}},
		{"blocked", []string{perl, "-e", block}},
		{"both", []string{"/bin/sh", "-c", ignored + `; exec "$@"`, "sh", perl, "-e", block}},
	}
	ln := fakeserver.Serve(t, "127.0.0.1:0", func(c net.Conn) { c.Read(make([]byte, 1)) })
	port := strconv.Itoa(int(fakeserver.Port(ln)))
	env := []string{"PATH=" + os.Getenv("PATH"), "RBLSMTPD="}
	for _, s := range setups {
		for _, chain := range []struct {
			name string
			args []string
			tcp  bool
		}{
			{"argv0", append([]string{"argv0", report[0], "sh"}, report[1:]...), false},
			{"rblsmtpd", append([]string{"rblsmtpd"}, report...), false},
			{"tcpclient", append([]string{"tcpclient", "-RHl0", "127.0.0.1", port}, report...), false},
			{"fixcrio", append([]string{"fixcrio"}, report...), false},
			{"recordio", append([]string{"recordio"}, report...), false},
			{"tcpserver", append([]string{"tcpserver", "-1", "-RHl0", "127.0.0.1", "0"}, report...), true},
		} {
			t.Run(s.name+"/"+chain.name, func(t *testing.T) {
				var got [2]string
				for i, im := range impls {
					argv := append(append(s.prefix[:len(s.prefix):len(s.prefix)], filepath.Join(im.dir, chain.args[0])), chain.args[1:]...)
					p := start(t, env, argv...)
					if chain.tcp {
						got[i], _ = p.connect()
						continue
					}
					b, _ := io.ReadAll(p.stdout)
					got[i] = string(b)
				}
				if !strings.Contains(got[0], "SigIgn") {
					t.Fatalf("Debian's printed %q", got[0])
				}
				if got[0] != got[1] {
					t.Errorf("Debian's:\n%s\nours:\n%s", got[0], got[1])
				}
			})
		}
	}
}
