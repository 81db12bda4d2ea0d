package relay

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ucspi-go/ucspi/internal/reftest"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(peerEnv); mode != "" {
		os.Exit(peer(mode))
	}
	reftest.Main(m)
}

// lockedBuffer gathers what a process writes on one descriptor.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A session runs a program with its input fed step by step by the test.
type session struct {
	t              *testing.T
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, stderr lockedBuffer
}

func start(t *testing.T, prog string, args ...string) *session {
	t.Helper()
	s := &session{t: t, cmd: exec.Command(prog, args...)}
	s.cmd.Env = []string{"PATH=/usr/bin:/bin"}
	s.cmd.Stdout, s.cmd.Stderr = &s.stdout, &s.stderr
	s.cmd.WaitDelay = 5 * time.Second
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.stdin.Close()
		s.cmd.Process.Kill()
	})
	return s
}

func (s *session) send(data string) {
	s.t.Helper()
	if _, err := io.WriteString(s.stdin, data); err != nil {
		s.t.Fatalf("writing to the program: %v", err)
	}
}

// waitOut waits until standard output holds n bytes: then every record of what
// led to them has been written, since a record goes out before its data.
func (s *session) waitOut(n int) {
	s.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if len(s.stdout.String()) >= n {
			return
		}
	}
	s.t.Fatalf("waited in vain for %d bytes of output; have %q, records %q", n, s.stdout.String(), s.stderr.String())
}

// wait waits for the program and the relay to be done (the relay holds standard
// output and error until it exits) and returns the exit status.
func (s *session) wait() int {
	s.t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			s.t.Fatal(err)
		}
		return 0
	case <-time.After(15 * time.Second):
		s.t.Fatalf("still running; output %q, records %q", s.stdout.String(), s.stderr.String())
		return 0
	}
}

// A step feeds the program: data to send, then the total output to wait for;
// a step with close set ends the input instead.
type step struct {
	send  string
	until int
	close bool
}

// script runs one session and returns what came out, pids hidden.
func script(t *testing.T, prog string, args []string, steps []step) (stdout, stderr string, code int) {
	s := start(t, prog, args...)
	for _, st := range steps {
		if st.close {
			s.stdin.Close()
			continue
		}
		s.send(st.send)
		s.waitOut(st.until)
	}
	code = s.wait()
	return s.stdout.String(), string(reftest.Pids([]byte(s.stderr.String()))), code
}

// byDirection puts the input records ("PID <") before the output records, each
// in their own order. How the two directions interleave depends on when the
// relay (0.88's as much as ours) happens to be scheduled; the order within each
// does not.
func byDirection(records string) string {
	var in, out []string
	for _, line := range strings.SplitAfter(records, "\n") {
		if strings.HasPrefix(line, "PID > ") {
			out = append(out, line)
		} else {
			in = append(in, line)
		}
	}
	return strings.Join(append(in, out...), "")
}

// compareScript runs steps against Debian's program and ours.
func compareScript(t *testing.T, name string, args []string, steps []step) {
	t.Helper()
	wantOut, wantErr, wantCode := script(t, reftest.Ref(t, name), args, steps)
	gotOut, gotErr, gotCode := script(t, reftest.Ours(t, name), args, steps)
	wantErr, gotErr = byDirection(wantErr), byDirection(gotErr)
	if wantOut != gotOut || wantErr != gotErr || wantCode != gotCode {
		t.Errorf("%s %q:\nreference: %q\n           %q\n           exit %d\nours:      %q\n           %q\n           exit %d",
			name, args, wantOut, wantErr, wantCode, gotOut, gotErr, gotCode)
	}
}

func TestRecordioAgainstReference(t *testing.T) {
	cat := []string{"cat"}
	closeIn := step{close: true}
	long := strings.Repeat("x", 300) + "\n" + strings.Repeat("y", 250) + "\nend"
	for _, c := range []struct {
		args  []string
		steps []step
	}{
		// rts.tests
		{cat, []step{{send: "test\n", until: 5}, closeIn}},
		{cat, []step{{send: "test\ntest2\n", until: 11}, closeIn}},
		{cat, []step{{send: "test", until: 4}, closeIn}},
		// nothing at all
		{cat, []step{closeIn}},
		// NULs, empty lines, a partial line finished by the next packet
		{cat, []step{{send: "a\x00b\n\n\nc", until: 7}, {send: "d\n", until: 9}, closeIn}},
		// CRs pass as they are
		{cat, []step{{send: "crlf\r\ncr\r", until: 9}, closeIn}},
		// packets longer than 256 bytes, lines across the 256-byte boundaries
		{cat, []step{{send: long, until: len(long)}, {send: strings.Repeat("z", 256), until: len(long) + 256}, closeIn}},
		{cat, []step{{send: strings.Repeat("w", 255) + "\n" + strings.Repeat("v", 256) + "\n", until: 513}, closeIn}},
		// output after the end of input
		{[]string{"sh", "-c", "cat; echo bye"}, []step{{send: "hi\n", until: 3}, closeIn}},
		// a program that exits while its input is still open
		{[]string{"sh", "-c", "read x; echo got $x; exit 3"}, []step{{send: "hello\n", until: 10}}},
		// a program that writes first
		{[]string{"sh", "-c", "echo ready; cat"}, []step{{send: "", until: 6}, {send: "go\n", until: 9}, closeIn}},
	} {
		compareScript(t, "recordio", c.args, c.steps)
	}
}

func TestFixcrioAgainstReference(t *testing.T) {
	closeIn := step{close: true}
	for _, c := range []struct {
		args  []string
		steps []step
	}{
		// rts.tests
		{[]string{"sh", "-c", "cat; echo bye"}, []step{{send: "\nhi\nthere\r\n", until: 13}, closeIn}},
		// a CR at the end of one packet and the LF at the start of the next
		{[]string{"cat"}, []step{{send: "a\nb\r\nc\r", until: 8}, {send: "\nd\n", until: 12}, closeIn}},
		// CR CR LF, lone CRs, NULs, a partial final line
		{[]string{"cat"}, []step{{send: "x\r\r\ny\rz\x00\n\n", until: 12}, {send: "tail", until: 16}, closeIn}},
		// the program's own output is fixed too
		{[]string{"printf", `one\ntwo\r\nthree`}, []step{{send: "", until: 15}}},
		{[]string{"sh", "-c", "read x; echo got $x; exit 3"}, []step{{send: "hello\n", until: 11}}},
		{[]string{"cat"}, []step{closeIn}},
	} {
		compareScript(t, "fixcrio", c.args, c.steps)
	}
}

// TestAgainstReferenceWhole compares runs whose input is all there at once.
func TestAgainstReferenceWhole(t *testing.T) {
	for _, name := range []string{"fixcrio", "recordio"} {
		reftest.Compare(t, name, reftest.Cmd{}) // usage
		// Whether the end of the (empty) input is seen before the program has
		// gone is a race, in 0.88's relay as in ours.
		noInputEOF := reftest.Replace(`(?m)^PID < \[EOF\]\n`, "")
		reftest.Compare(t, name, reftest.Cmd{Args: []string{"sh", "-c", "exit 7"}}, reftest.Pids, noInputEOF)  // exit status
		reftest.Compare(t, name, reftest.Cmd{Args: []string{"sh", "-c", "kill $$"}}, reftest.Pids, noInputEOF) // signal
		reftest.Compare(t, name, reftest.Cmd{Args: []string{"-z", "sh", "-c", "true"}},                        // no options: -z is the program
			reftest.Replace(`(?m)^\d+ [<>] \[EOF\]\n`, ""))
	}
	// fixcrio's output does not depend on how its input arrives.
	reftest.Compare(t, "fixcrio", reftest.Cmd{Args: []string{"cat"}, Stdin: []byte("a\nb\r\nc\r\r\nd\n\ne\rf")})
}

// TestRunFailure checks the message when the program cannot be run. Input stays
// open, so the relay's only record is the end of the output, which comes once
// the failed process has exited, after its message.
func TestRunFailure(t *testing.T) {
	for _, name := range []string{"fixcrio", "recordio"} {
		for _, prog := range []string{"nonexistent-program", "/nonexistent", "/etc/passwd"} {
			compareScript(t, name, []string{prog, "arg"}, nil)
		}
	}
}

// TestPid checks that the program runs in the process that was started, and that
// recordio's records carry that pid.
func TestPid(t *testing.T) {
	s := start(t, reftest.Ours(t, "recordio"), "sh", "-c", "echo $$")
	s.stdin.Close()
	if code := s.wait(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	pid := strconv.Itoa(s.cmd.Process.Pid)
	if s.stdout.String() != pid+"\n" {
		t.Fatalf("the program's pid is %q, recordio's %s", s.stdout.String(), pid)
	}
	for _, line := range strings.Split(strings.TrimSuffix(s.stderr.String(), "\n"), "\n") {
		if !strings.HasPrefix(line, pid+" ") {
			t.Errorf("record %q does not carry pid %s", line, pid)
		}
	}
	if !strings.Contains(s.stderr.String(), pid+" > "+pid+" \n") {
		t.Errorf("records %q", s.stderr.String())
	}
}

// socketSession runs our name with descriptors 0 and 1 on one end of a socket
// pair, as under tcpserver, and returns the other end.
func socketSession(t *testing.T, name string, args ...string) (*os.File, *exec.Cmd, *lockedBuffer) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Non-blocking, our end takes deadlines; the program's end stays blocking.
	unix.SetNonblock(fds[0], true)
	ours, theirs := os.NewFile(uintptr(fds[0]), "ours"), os.NewFile(uintptr(fds[1]), "theirs")
	cmd := exec.Command(reftest.Ours(t, name), args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var stderr lockedBuffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = theirs, theirs, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	t.Cleanup(func() {
		ours.Close()
		cmd.Process.Kill()
	})
	ours.SetDeadline(time.Now().Add(10 * time.Second))
	return ours, cmd, &stderr
}

// TestSocketProgramExits: when the program exits, the other side sees the
// connection end although it never ended its own side.
func TestSocketProgramExits(t *testing.T) {
	for _, name := range []string{"fixcrio", "recordio"} {
		conn, cmd, _ := socketSession(t, name, "sh", "-c", "echo bye")
		got, err := io.ReadAll(conn)
		if err != nil || strings.TrimRight(string(got), "\r\n") != "bye" {
			t.Errorf("%s: read %q, %v", name, got, err)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestSocketHalfClose: a program that closes its output and goes on reading
// gets the rest of its input, and the other side sees the end of the output
// first (a shutdown, since the relay still reads the same socket).
func TestSocketHalfClose(t *testing.T) {
	for _, name := range []string{"fixcrio", "recordio"} {
		conn, cmd, stderr := socketSession(t, name, "sh", "-c", `echo out; exec >&-; read x; echo "got $x" >&2`)
		got, err := io.ReadAll(conn)
		if err != nil || strings.TrimRight(string(got), "\r\n") != "out" {
			t.Fatalf("%s: read %q, %v", name, got, err)
		}
		if _, err := conn.Write([]byte("in\n")); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		// fixcrio hands the program "in\r\n"; sh keeps the CR.
		if !strings.Contains(stderr.String(), "got in") {
			t.Errorf("%s: the program's report: %q", name, stderr.String())
		}
	}
}

// TestReaderGone: when the reader of the output goes away, the program gets
// SIGPIPE, as under 0.88.
func TestReaderGone(t *testing.T) {
	for _, name := range []string{"fixcrio", "recordio"} {
		script := `{ "$0" yes 2>/dev/null; echo "status $?" >&2; } | head -1`
		c := reftest.Cmd{Args: []string{"-c", script, reftest.Ref(t, name)}}
		want := reftest.Run(t, "/bin/sh", c)
		c.Args[2] = reftest.Ours(t, name)
		got := reftest.Run(t, "/bin/sh", c)
		if string(want.Stdout) != string(got.Stdout) || string(want.Stderr) != string(got.Stderr) {
			t.Errorf("%s: reference %q %q, ours %q %q", name, want.Stdout, want.Stderr, got.Stdout, got.Stderr)
		}
	}
}

// TestRandomAgainstReference pushes 10 MB of random bytes through cat under
// Debian's fixcrio and recordio and ours, comparing the output by SHA-256.
func TestRandomAgainstReference(t *testing.T) {
	in, err := io.ReadAll(stream(7, 10<<20))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"fixcrio", "recordio"} {
		c := reftest.Cmd{Args: []string{"cat"}, Stdin: in, Timeout: time.Minute}
		want := reftest.Run(t, reftest.Ref(t, name), c)
		got := reftest.Run(t, reftest.Ours(t, name), c)
		if sha256.Sum256(want.Stdout) != sha256.Sum256(got.Stdout) || want.Code != got.Code {
			t.Errorf("%s cat on 10 MB of random bytes: reference %d bytes sha256 %x exit %d, ours %d bytes sha256 %x exit %d",
				name, len(want.Stdout), sha256.Sum256(want.Stdout), want.Code, len(got.Stdout), sha256.Sum256(got.Stdout), got.Code)
		}
		if name == "recordio" {
			// The records' packets depend on timing; what they show does not.
			for _, dir := range []string{"<", ">"} {
				data := regexp.MustCompile(`(?m)^\d+ `+dir+` .*[ +]\n`).FindAll(got.Stderr, -1)
				back, bad := unrecord(bytes.Join(data, nil), dir[0])
				if bad != "" || !bytes.Equal(back, in) {
					t.Errorf("recordio's %s records show %d bytes (%s), not the %d that passed", dir, len(back), bad, len(in))
				}
			}
		}
	}
}

// TestSubcommand runs recordio as "ucspi recordio": the relay still finds its
// way back into this binary.
func TestSubcommand(t *testing.T) {
	r := reftest.Run(t, reftest.Ours(t, "ucspi"), reftest.Cmd{Args: []string{"recordio", "sh", "-c", "echo hi"}})
	if string(r.Stdout) != "hi\n" || !strings.Contains(string(r.Stderr), " > hi \n") || r.Code != 0 {
		t.Errorf("ucspi recordio: %q %q %d", r.Stdout, r.Stderr, r.Code)
	}
}

// TestStrayMarker: the relay's variable in a user's environment does not turn
// recordio into a relay.
func TestStrayMarker(t *testing.T) {
	r := reftest.Run(t, "/bin/sh", reftest.Cmd{
		Args: []string{"-c", `"$0" sh -c 'echo hi' 3<&0 4<&0`, reftest.Ours(t, "recordio")},
		Env:  []string{"PATH=/usr/bin:/bin", helperEnv + "=1"},
	})
	if string(r.Stdout) != "hi\n" || r.Code != 0 {
		t.Errorf("with %s set: %q %q %d", helperEnv, r.Stdout, r.Stderr, r.Code)
	}
}
