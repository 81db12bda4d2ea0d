package ucspi

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/reftest"
)

// The harness for tcpserver's end-to-end tests: servers started on a port of
// the kernel's choosing (-1 tells it), clients on loopback, every process killed
// by the test that started it.

// server is one running tcpserver, ours or a reference.
type server struct {
	t      testing.TB
	cmd    *exec.Cmd
	port   string
	log    *logBuffer
	exited chan struct{}
	stdout chan struct{} // closed when the server has closed its stdout
	state  *os.ProcessState
}

// logBuffer collects a server's stderr.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServer runs prog -1 args... with env (nil: PATH only) and waits for the
// port it prints.
func startServer(t testing.TB, prog string, env []string, args ...string) *server {
	t.Helper()
	return startCmd(t, exec.Command(prog, append([]string{"-1"}, args...)...), env)
}

func startCmd(t testing.TB, cmd *exec.Cmd, env []string) *server {
	t.Helper()
	if env == nil {
		env = []string{"PATH=" + os.Getenv("PATH")}
	}
	cmd.Env = env
	s := &server{t: t, cmd: cmd, log: &logBuffer{}, exited: make(chan struct{}), stdout: make(chan struct{})}
	// A pipe of our own for stderr, so that Wait does not wait for the
	// programs, which inherit it, to end.
	logr, logw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logw
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Start()
	logw.Close()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		io.Copy(s.log, logr)
		logr.Close()
	}()
	go func() {
		cmd.Wait()
		s.state = cmd.ProcessState
		close(s.exited)
	}()
	t.Cleanup(s.kill)
	ports := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ports <- strings.TrimSpace(line)
		io.Copy(io.Discard, out)
		close(s.stdout)
	}()
	select {
	case s.port = <-ports:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s %q printed no port; stderr: %s", cmd.Path, cmd.Args, s.log)
	}
	if s.port == "" {
		<-s.exited
		t.Fatalf("%s %q did not start: %s", cmd.Path, cmd.Args, s.log)
	}
	return s
}

func (s *server) kill() {
	select {
	case <-s.exited:
	default:
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// stop sends SIGTERM and returns the exit code; the server must exit at once.
func (s *server) stop() int {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		s.t.Fatalf("%s did not exit on SIGTERM", s.cmd.Path)
	}
	return s.state.ExitCode()
}

func (s *server) addr(host string) string { return net.JoinHostPort(host, s.port) }

// waitLog waits (at most 10 s) until the server's log satisfies ok.
func (s *server) waitLog(what string, ok func(string) bool) string {
	s.t.Helper()
	for i := 0; i < 2000; i++ {
		if l := s.log.String(); ok(l) {
			return l
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.t.Fatalf("%s: log never showed %s:\n%s", s.cmd.Path, what, s.log)
	return ""
}

// waitEnds waits until n connections have ended in a -v log, their status
// line included.
func (s *server) waitEnds(n int) {
	s.t.Helper()
	s.waitLog(fmt.Sprintf("%d ends", n), func(l string) bool {
		return strings.Count(l, "tcpserver: end ") >= n && strings.HasSuffix(l, "/"+limitOf(l)+"\n") &&
			strings.Count(l, "tcpserver: status: ") >= 1+2*n
	})
}

var limitRE = regexp.MustCompile(`status: \d+/(\d+)`)

func limitOf(log string) string {
	if m := limitRE.FindStringSubmatch(log); m != nil {
		return m[1]
	}
	return "?"
}

// talk connects from the local address from ("" for any), sends send, closes
// its half and reads to EOF. It returns what came back and its own port.
func talk(t testing.TB, addr, from, send string) (string, string) {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("connecting to %s from %q: %v", addr, from, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if send != "" {
		if _, err := io.WriteString(c, send); err != nil {
			t.Fatalf("writing to %s: %v", addr, err)
		}
	}
	c.(*net.TCPConn).CloseWrite()
	out, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		t.Fatalf("reading from %s: %v", addr, err)
	}
	_, port, _ := net.SplitHostPort(c.LocalAddr().String())
	return string(out), port
}

func isReset(err error) bool { return strings.Contains(err.Error(), "connection reset") }

// script writes an executable shell script into dir.
func script(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// printEnv is a handler printing its environment, sorted, without what the
// shell adds itself, then whatever the client sent.
// It names its tools by path, as some tests take $PATH away.
const printEnv = "/usr/bin/env | /usr/bin/grep -v -E '^(PWD|SHLVL|_|OLDPWD)=' | /usr/bin/sort\n/usr/bin/cat\n"

// exchange is one connection of a scenario.
type exchange struct {
	from   string // the client's address, "" for 127.0.0.1
	send   string
	before func() // runs before connecting, e.g. to rewrite the rules
}

// scenario is what both servers are put through.
type scenario struct {
	args  []string // tcpserver's arguments after -1
	ours  []string // ours's, where they differ
	env   []string
	host  string // where clients connect; "" is 127.0.0.1
	setup func()
	conns []exchange
}

// verbosity reads tcpserver's options as getopt does and returns the last of
// 'v', 'q' and 'Q' given ('Q' by default).
func verbosity(args []string) byte {
	v := byte('Q')
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			break
		}
		for j := 1; j < len(a); j++ {
			switch c := a[j]; {
			case c == 'v' || c == 'q' || c == 'Q':
				v = c
			case strings.IndexByte("xtuglbBcI", c) >= 0:
				if j == len(a)-1 {
					i++
				}
				j = len(a)
			}
		}
	}
	return v
}

// outcome is what one server did in a scenario, ports and pids normalised.
type outcome struct {
	replies []string
	log     string
	code    int
	// as they came, before normalising
	rawReplies []string
	rawLog     string
}

func (sc scenario) run(t *testing.T, prog string) outcome {
	t.Helper()
	if sc.setup != nil {
		sc.setup()
	}
	s := startServer(t, prog, sc.env, sc.args...)
	verbose := verbosity(sc.args) == 'v'
	host := sc.host
	if host == "" {
		host = "127.0.0.1"
	}
	var o outcome
	var ports []string
	for i, x := range sc.conns {
		if x.before != nil {
			x.before()
		}
		reply, port := talk(t, s.addr(host), x.from, x.send)
		o.replies = append(o.replies, reply)
		ports = append(ports, port)
		if verbose {
			s.waitEnds(i + 1)
		}
	}
	o.code = s.stop()
	o.log = s.log.String()
	o.rawReplies, o.rawLog = append([]string(nil), o.replies...), o.log
	norm := func(text string) string {
		// Not numbered by connection: two connections from different
		// addresses may get the same port.
		for _, p := range ports {
			text = regexp.MustCompile(`\b`+p+`\b`).ReplaceAllString(text, "CPORT")
		}
		text = regexp.MustCompile(`\b`+s.port+`\b`).ReplaceAllString(text, "PORT")
		return string(reftest.Pids([]byte(text)))
	}
	for i := range o.replies {
		o.replies[i] = norm(o.replies[i])
	}
	o.log = norm(o.log)
	return o
}

// compare puts ours and the reference ref through sc and reports differences.
func (sc scenario) compare(t *testing.T, ref string) outcome {
	t.Helper()
	want := sc.run(t, ref)
	if sc.ours != nil {
		sc.args = sc.ours
	}
	got := sc.run(t, reftest.Ours(t, "tcpserver"))
	for i := range want.replies {
		if got.replies[i] != want.replies[i] {
			t.Errorf("%q: connection %d differs\nreference: %q\nours:      %q", sc.args, i, want.replies[i], got.replies[i])
		}
	}
	if got.log != want.log {
		t.Errorf("%q: log differs\nreference:\n%s\nours:\n%s", sc.args, want.log, got.log)
	}
	if got.code != want.code {
		t.Errorf("%q: exit code on SIGTERM: reference %d, ours %d", sc.args, want.code, got.code)
	}
	return got
}

// tcprules compiles rules into a cdb with Debian's tcprules.
func tcprules(t testing.TB, cdb, rules string) {
	t.Helper()
	r := reftest.Run(t, reftest.Ref(t, "tcprules"), reftest.Cmd{Args: []string{cdb, cdb + ".tmp"}, Stdin: []byte(rules)})
	if r.Code != 0 {
		t.Fatalf("tcprules: %s", r.Stderr)
	}
}
