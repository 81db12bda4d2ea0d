package startup

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/reftest"
)

// The end-to-end tests run the real binary, built by make with the stub, next
// to Debian's 0.88 (reftest), each started the way a supervisor would: under
// softlimit or ulimit, with signals ignored or blocked, with descriptors
// closed. What the program at the end of the chain sees (/proc/self/limits,
// /proc/self/status, /proc/self/fd) is compared.

func TestMain(m *testing.M) {
	// No core files from the signal tests, in ours or Debian's: the wait
	// status then says "killed by", without the core flag, for both.
	syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{Cur: 0, Max: ^uint64(0)})
	reftest.Main(m)
}

// impl is one implementation under test: the directory holding its programs.
type impl struct {
	name string
	dir  string
}

// impls returns Debian's and ours, skipping t without the reference.
func impls(t *testing.T) []impl {
	t.Helper()
	return []impl{
		{"debian", filepath.Dir(reftest.Ref(t, "tcpserver"))},
		{"ours", ours(t)},
	}
}

// ours is the directory of our binary with every applet's symlink.
func ours(t *testing.T) string {
	t.Helper()
	for _, a := range []string{"tcpserver", "tcpclient", "rblsmtpd", "argv0", "fixcrio", "recordio",
		"addcr", "delcr", "tcprules", "mconnect", "tcpcat", "who@"} {
		reftest.Ours(t, a)
	}
	return reftest.BinDir(t)
}

func need(t *testing.T, prog string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		t.Skipf("no %s: %v", prog, err)
	}
	return p
}

// status is how a process ended, in the words of its wait status.
func status(ws syscall.WaitStatus) string {
	switch {
	case ws.Signaled() && ws.CoreDump():
		return fmt.Sprintf("killed by %v (core)", ws.Signal())
	case ws.Signaled():
		return fmt.Sprintf("killed by %v", ws.Signal())
	default:
		return fmt.Sprintf("exit %d", ws.ExitStatus())
	}
}

// proc is a started process with pipes on its descriptors 0, 1 and 2.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  *os.File
	stdout *bufio.Reader
	done   chan struct{}

	mu      sync.Mutex
	errs    bytes.Buffer
	errDone chan struct{}
}

func start(t *testing.T, env []string, argv ...string) *proc {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	if env == nil {
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	}
	p := &proc{t: t, cmd: cmd, done: make(chan struct{}), errDone: make(chan struct{})}
	// Pipes of our own (*os.File, so exec copies nothing): the output can
	// be read after the process has ended.
	inR, inW := pipe(t)
	outR, outW := pipe(t)
	errR, errW := pipe(t)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	// A group of its own, so that what it leaves behind (a relay, a
	// server's programs) is killed with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	errW.Close()
	p.stdin, p.stdout = inW, bufio.NewReader(outR)
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := errR.Read(b)
			p.mu.Lock()
			p.errs.Write(b[:n])
			p.mu.Unlock()
			if err != nil {
				close(p.errDone)
				return
			}
		}
	}()
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		inW.Close()
		outR.Close()
		errR.Close()
	})
	return p
}

func pipe(t *testing.T) (*os.File, *os.File) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	return r, w
}

// stderr is what the process wrote to descriptor 2, once all of its writers
// have closed it (or 2 s have passed).
func (p *proc) stderr() string {
	select {
	case <-p.errDone:
	case <-time.After(2 * time.Second):
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errs.String()
}

// stderrNow is what the process has written to descriptor 2 so far.
func (p *proc) stderrNow() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errs.String()
}

// kill ends the process and its group, and waits for it.
func (p *proc) kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Errorf("%q: not dead 10 s after SIGKILL", p.cmd.Args)
	}
}

// line reads one line of its output, within 10 s.
func (p *proc) line() string {
	p.t.Helper()
	type result struct {
		s   string
		err error
	}
	c := make(chan result, 1)
	go func() {
		s, err := p.stdout.ReadString('\n')
		c <- result{s, err}
	}()
	select {
	case r := <-c:
		if r.err != nil {
			p.t.Fatalf("%q: reading its output: %v (stderr %q)", p.cmd.Args, r.err, p.stderr())
		}
		return r.s
	case <-time.After(10 * time.Second):
		p.t.Fatalf("%q: no line of output in 10 s", p.cmd.Args)
		return ""
	}
}

// wait returns how the process ended, waiting at most 10 s; "running" if it
// has not.
func (p *proc) wait() string {
	select {
	case <-p.done:
		return status(p.cmd.ProcessState.Sys().(syscall.WaitStatus))
	case <-time.After(10 * time.Second):
		return "running"
	}
}

// settled reports whether it has ended within d.
func (p *proc) settled(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// connect reads the port a server started with -1 printed and returns what a
// connection to it gets before the server closes it, and the port.
func (p *proc) connect() (string, string) {
	p.t.Helper()
	port := strings.TrimSpace(p.line())
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 10*time.Second)
	if err != nil {
		p.t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		p.t.Fatalf("%q: reading the connection: %v", p.cmd.Args, err)
	}
	return string(b), port
}

// children is the pids of the process's children.
func children(pid int) []int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	var kids []int
	for _, f := range strings.Fields(string(b)) {
		var k int
		fmt.Sscan(f, &k)
		kids = append(kids, k)
	}
	return kids
}

// until polls cond every 10 ms for at most 10 s.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("waited 10 s for %s", what)
}

// blockedIn reports whether a thread of pid is in system call nr with fd as
// its first argument (/proc/PID/task/*/syscall: "NR ARG1 ...").
func blockedIn(pid int, nr uintptr, fd int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
	want := fmt.Sprintf("%d 0x%x ", nr, fd)
	for _, task := range tasks {
		if b, err := os.ReadFile(task); err == nil && strings.HasPrefix(string(b), want) {
			return true
		}
	}
	return false
}

// hasSocket reports whether pid has a socket open.
func hasSocket(pid int) bool {
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && strings.HasPrefix(l, "socket:") {
			return true
		}
	}
	return false
}
