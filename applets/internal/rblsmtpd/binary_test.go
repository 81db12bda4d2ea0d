package rblsmtpd

// The installed program, driven over real pipes by scripted SMTP clients, and
// compared with Debian's rblsmtpd.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/fakedns"
	"github.com/ucspi-go/ucspi/internal/reftest"
	"github.com/ucspi-go/ucspi/ucspi/dns"
)

func TestMain(m *testing.M) { reftest.Main(m) }

// client is a scripted SMTP client talking to one rblsmtpd process.
type client struct {
	t      *testing.T
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
	done   chan struct{}
}

// env is a minimal environment plus vars.
func env(vars ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH")}, vars...)
}

func start(t *testing.T, vars []string, args ...string) *client {
	t.Helper()
	c := &client{t: t, cmd: exec.Command(reftest.Ours(t, "rblsmtpd"), args...), done: make(chan struct{})}
	c.cmd.Env = vars
	c.cmd.Stderr = &c.stderr
	in, err := c.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.Stdout = outW
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	outR.SetReadDeadline(time.Now().Add(20 * time.Second))
	c.in, c.out = in, bufio.NewReader(outR)
	go func() { c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.done
		outR.Close()
	})
	return c
}

func (c *client) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.in, line); err != nil {
		c.t.Fatalf("sending %q: %v", line, err)
	}
}

func (c *client) expect(want string) {
	c.t.Helper()
	line, err := c.out.ReadString('\n')
	if line != want {
		c.t.Fatalf("read %q (%v), want %q; stderr %q", line, err, want, c.stderr.String())
	}
}

// end waits for the process to exit, checks it said nothing more, and returns
// its exit status.
func (c *client) end() int {
	c.t.Helper()
	rest, _ := io.ReadAll(c.out)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		c.t.Fatal("rblsmtpd did not exit")
	}
	if len(rest) != 0 {
		c.t.Errorf("unexpected output at the end: %q", rest)
	}
	return c.cmd.ProcessState.ExitCode()
}

// logged checks the log line, with this process's pid.
func (c *client) logged(ip, reply string) {
	c.t.Helper()
	if want := fmt.Sprintf("rblsmtpd: %s pid %d: %s\n", ip, c.cmd.Process.Pid, reply); c.stderr.String() != want {
		c.t.Errorf("stderr %q, want %q", c.stderr.String(), want)
	}
}

// converse runs a whole session a blocked client gets: greeting, HELO, MAIL,
// RCPT rejected, QUIT.
func (c *client) converse(reply string) {
	c.t.Helper()
	c.expect(Greeting)
	c.send("HELO client.test\r\n")
	c.expect(OK)
	c.send("MAIL FROM:<a@b.test>\r\n")
	c.expect(OK)
	c.send("RCPT TO:<c@d.test>\r\n")
	c.expect(reply + "\r\n")
	c.send("QUIT\r\n")
	c.expect(Goodbye)
	if code := c.end(); code != 0 {
		c.t.Errorf("exit %d, want 0", code)
	}
}

// passed checks that the client reached smtpd: the "smtpd" the tests run prints
// its pid, then echoes its input.
func (c *client) passed() {
	c.t.Helper()
	c.expect(strconv.Itoa(c.cmd.Process.Pid) + "\n")
	c.send("HELO client.test\r\n")
	c.expect("HELO client.test\r\n")
	c.in.Close()
	if code := c.end(); code != 0 || c.stderr.Len() != 0 {
		c.t.Errorf("exit %d, stderr %q", code, c.stderr.String())
	}
}

// smtpd stands for the mail server: it shows its pid (rblsmtpd's, if exec'd in
// place) and echoes what it reads.
var smtpd = []string{"sh", "-c", "echo $$; exec cat"}

func TestBlockedByRBLSMTPD(t *testing.T) {
	c := start(t, env("TCPREMOTEIP=10.1.2.3", "RBLSMTPD=Your mail is not welcome here."), smtpd...)
	c.converse("451 Your mail is not welcome here.")
	c.logged("10.1.2.3", "451 Your mail is not welcome here.")

	c = start(t, env("TCPREMOTEIP=10.1.2.3", "RBLSMTPD=-Go away."), smtpd...)
	c.converse("553 Go away.")
	c.logged("10.1.2.3", "553 Go away.")

	long := strings.Repeat("\x01long\xff", 40)
	want := "451 " + strings.NewReplacer("\x01", "?", "\xff", "?").Replace(long[:200])
	c = start(t, env("RBLSMTPD="+long), append([]string{"-t", "30"}, smtpd...)...)
	c.converse(want)
	c.logged("", want)
}

func TestEmptyRBLSMTPDSkipsLookups(t *testing.T) {
	srv := fakedns.Start(t, `4.3.2.1.rbl.test. TXT "listed"`)
	c := start(t, env("TCPREMOTEIP=1.2.3.4", "RBLSMTPD=", "DNSCACHEIP="+srv.IP), append([]string{"-c", "-r", "rbl.test"}, smtpd...)...)
	c.passed()
	if q := srv.Queries(); len(q) != 0 {
		t.Errorf("queries sent: %q", q)
	}
}

// TestLists drives every kind of list through the installed program.
func TestLists(t *testing.T) {
	srv := fakedns.Start(t,
		`4.3.2.1.rbl.test. TXT "1.2.3.4 is listed; see http://rbl.test/1.2.3.4"`,
		`4.3.2.1.zen.test. A 127.0.0.2`,
		`4.3.2.1.white.test. A 127.0.0.2`,
		`1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.rbl.test. TXT "six"`,
		`1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.test. A 127.0.0.4`,
	)
	srv.ServFail("4.3.2.1.broken.test.")
	srv.Silent("4.3.2.1.silent.test.")
	listed := "1.2.3.4 is listed; see http://rbl.test/1.2.3.4"
	vars := func(ip string) []string {
		return env("TCPREMOTEIP="+ip, "DNSCACHEIP="+srv.IP, "RBLSMTPD_DNS_TIMEOUT=0.3")
	}
	for _, tc := range []struct {
		ip    string
		args  string
		reply string // "" for a client that passes
	}{
		{"1.2.3.4", "-r rbl.test", "451 " + listed},
		{"1.2.3.4", "-B -r rbl.test", "451 " + listed},
		{"1.2.3.4", "-b -r rbl.test", "553 " + listed},
		{"1.2.3.4", "-r rbl.test -b", "451 " + listed},
		{"1.2.3.5", "-b -r rbl.test", ""},
		{"1.2.3.4", "-r nx.test", ""},
		{"1.2.3.4", "-a white.test -r rbl.test", ""},
		{"1.2.3.4", "-a nx.test -b -r rbl.test", "553 " + listed},
		{"1.2.3.4", "-r zen.test:Blocked,_see_https://zen.test/query/ip/%IP%", "451 Blocked, see https://zen.test/query/ip/1.2.3.4"},
		{"1.2.3.4", "-b -r zen.test:%IP%_blocked", "553 1.2.3.4 blocked"},
		{"::ffff:1.2.3.4", "-b -r zen.test:%IP%_blocked", "553 1.2.3.4 blocked"},
		{"2001:db8::1", "-r rbl.test", "451 six"},
		{"2001:db8::1", "-b -r zen.test:%IP%_blocked", "553 2001:db8::1 blocked"},
		{"2001:db8::2", "-c -r rbl.test -r zen.test:x", ""},
		// DNS failures: SERVFAIL and a server that never answers.
		{"1.2.3.4", "-r broken.test", ""},
		{"1.2.3.4", "-C -r silent.test", ""},
		{"1.2.3.4", "-c -r broken.test", "451 temporary RBL lookup error"},
		{"1.2.3.4", "-c -b -r silent.test", "451 temporary RBL lookup error"},
		{"1.2.3.4", "-b -r broken.test -r rbl.test", "451 " + listed},
		{"1.2.3.4", "-a broken.test -r rbl.test", ""},
		{"1.2.3.4", "-C -a silent.test -r rbl.test", ""},
		{"1.2.3.4", "-c -a broken.test -b -r rbl.test", "451 " + listed},
		{"1.2.3.4", "-c -a silent.test -r nx.test", ""},
	} {
		t.Run(tc.args, func(t *testing.T) {
			var args []string
			for _, a := range strings.Fields(tc.args) {
				args = append(args, strings.ReplaceAll(a, "_", " "))
			}
			c := start(t, vars(tc.ip), append(args, smtpd...)...)
			if tc.reply == "" {
				c.passed()
				return
			}
			c.converse(tc.reply)
			c.logged(tc.ip, tc.reply)
		})
	}
}

func TestTimeout(t *testing.T) {
	c := start(t, env("RBLSMTPD=x"), append([]string{"-t1"}, smtpd...)...)
	begin := time.Now()
	c.expect(Greeting)
	c.send("HELO x\r\n")
	c.expect(OK)
	c.send("MAIL FROM:<") // a client that stalls mid-line, its input open
	if code := c.end(); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	if d := time.Since(begin); d < time.Second {
		t.Errorf("conversation dropped after %v, before -t1", d)
	}
}

// TestRejectAtOnce: -t0 sends the rejection alone and reads nothing: the input
// file's offset, shared with the process, is still 0 after it.
func TestRejectAtOnceReadsNothing(t *testing.T) {
	in := input(t, "HELO x\r\nQUIT\r\n")
	r := run(t, in, env("TCPREMOTEIP=1.2.3.4", "RBLSMTPD=-No."), "-t0", "cat")
	if r.out != "553 No.\r\n" || r.code != 0 {
		t.Errorf("stdout %q, exit %d", r.out, r.code)
	}
	if off, _ := in.Seek(0, io.SeekCurrent); off != 0 {
		t.Errorf("input read up to %d", off)
	}
}

// TestExecInPlace: a client that passes gets smtpd in rblsmtpd's place (same
// pid, same environment) with every byte of its input, nothing read ahead.
func TestExecInPlace(t *testing.T) {
	c := start(t, env("TCPREMOTEIP=1.2.3.4"), smtpd...)
	c.passed()

	data := strings.Repeat("MAIL FROM:<a@b>\r\n\x00\xff", 5000) + "no newline"
	in := input(t, data)
	r := run(t, in, env("TCPREMOTEIP=1.2.3.4", "RBLSMTPD=", "X=y"), "sh", "-c", `cat; echo "$X $RBLSMTPD $TCPREMOTEIP"`)
	if r.out != data+"y  1.2.3.4\n" || r.code != 0 || r.err != "" {
		t.Errorf("smtpd saw %d bytes (want %d), exit %d, stderr %q", len(r.out), len(data)+len("y  1.2.3.4\n"), r.code, r.err)
	}
}

func TestExecFailure(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/notexec", []byte("#!/bin/sh\n"), 0o644)
	os.Mkdir(dir+"/sub", 0o755)
	for _, tc := range []struct {
		path, prog, want string
	}{
		{"", "nosuchprogram", "rblsmtpd: fatal: unable to run nosuchprogram: file does not exist\n"},
		{"", dir + "/notexec", "rblsmtpd: fatal: unable to run " + dir + "/notexec: access denied\n"},
		{"PATH=" + dir, "notexec", "rblsmtpd: fatal: unable to run notexec: access denied\n"},
		{"PATH=/nonexistent:" + dir + ":/bin", "notexec", "rblsmtpd: fatal: unable to run notexec: access denied\n"},
		{"PATH=" + dir + ":/bin", "true", ""},
		{"PATH=" + dir, "sub", "rblsmtpd: fatal: unable to run sub: access denied\n"},
	} {
		vars := []string{"RBLSMTPD="}
		if tc.path != "" {
			vars = append(vars, tc.path)
		}
		r := run(t, nil, vars, tc.prog)
		code := 111
		if tc.want == "" {
			code = 0
		}
		if r.err != tc.want || r.code != code {
			t.Errorf("%s %s: stderr %q exit %d, want %q exit %d", tc.path, tc.prog, r.err, r.code, tc.want, code)
		}
	}
}

func input(t *testing.T, data string) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "input")
	if err == nil {
		_, err = f.WriteString(data)
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

type result struct {
	out, err string
	code     int
}

func run(t *testing.T, in *os.File, vars []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(reftest.Ours(t, "rblsmtpd"), args...)
	cmd.Env = vars
	if in != nil {
		cmd.Stdin = in
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = time.Second
	timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return result{out.String(), errOut.String(), cmd.ProcessState.ExitCode()}
}

// Differential tests against Debian's rblsmtpd.

var scripts = []string{
	"",
	"HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nQUIT\r\n",
	"ehlo x\nmail from:<a@b>\nrset\nnoop\nvrfy x\nexpn y\nhelp\nquit\nhelo again\n",
	"helo\r\nhelo\tx\r\nhelo\r\r\n helo\r\nhelo\x00\r\nhelo\r x\r\nHeLo  x\r\nqUiT \r\n",
	"\r\n\n\x00\n" + strings.Repeat("x", 3000) + "\r\nrcpt to:<a>\r\nmail",
	"helo x\r\nquit\r\nhelo y\r\n",
}

func TestMatchesReferenceRBLSMTPD(t *testing.T) {
	long := strings.Repeat("0123456789", 25)
	for _, value := range []string{"", "Go away.", "-Go away.", "-", "--x", long, "-" + long, "odd\tbytes\x7f\x80\xff\x1b[0m here"} {
		for _, args := range [][]string{{"cat"}, {"-t0", "cat"}, {"-t", "5", "-b", "cat"}} {
			for i, script := range scripts {
				t.Run(fmt.Sprintf("%.12q/%q/%d", value, args, i), func(t *testing.T) {
					reftest.Compare(t, "rblsmtpd", reftest.Cmd{
						Args:  args,
						Stdin: []byte(script),
						Env:   env("TCPREMOTEIP=192.0.2.7", "RBLSMTPD="+value),
					}, reftest.Pids)
				})
			}
		}
	}
	// Usage errors, and no smtpd to run.
	for _, args := range [][]string{nil, {"-t0"}, {"-R", "cat"}, {"-t"}, {"-x", "cat"}, {"-b", "-r"}, {"nosuchprogram"}, {"./nosuchprogram"}} {
		reftest.Compare(t, "rblsmtpd", reftest.Cmd{Args: args, Env: env("RBLSMTPD=x")}, reftest.Pids)
		reftest.Compare(t, "rblsmtpd", reftest.Cmd{Args: args, Env: env("RBLSMTPD=")}, reftest.Pids)
	}
}

// TestNoDefaultList: without -r, Debian's rblsmtpd (patch 0002 removed 0.88's
// rbl.maps.vix.com) and ours consult no list: no query, smtpd runs.
func TestNoDefaultList(t *testing.T) {
	srv := fakedns.Start(t, `4.3.2.1.rbl.maps.vix.com. TXT "listed"`)
	for _, args := range [][]string{{"-b", "-c", "echo", "passed"}, {"-a", "white.test", "echo", "passed"}} {
		r := reftest.Compare(t, "rblsmtpd", reftest.Cmd{Args: args, Env: env("TCPREMOTEIP=1.2.3.4", "DNSCACHEIP="+srv.IP)})
		if string(r.Stdout) != "passed\n" {
			t.Errorf("%q: stdout %q", args, r.Stdout)
		}
	}
	for _, q := range srv.Queries() {
		if !strings.Contains(q, "white.test") {
			t.Errorf("query without -r: %s", q)
		}
	}
}

// TestClientGoneMatchesReference: a client that has hung up ends the
// conversation as under 0.88, by SIGPIPE, after the log line.
func TestClientGoneMatchesReference(t *testing.T) {
	var got []string
	for _, prog := range []string{reftest.Ref(t, "rblsmtpd"), reftest.Ours(t, "rblsmtpd")} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		cmd := exec.Command(prog, "true")
		cmd.Env = env("TCPREMOTEIP=2001:db8::7", "RBLSMTPD=-no")
		cmd.Stdin = strings.NewReader(scripts[1])
		var errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = w, &errOut
		err = cmd.Run()
		w.Close()
		got = append(got, fmt.Sprintf("%v %s", err, reftest.Pids(errOut.Bytes())))
	}
	if got[0] != got[1] || !strings.Contains(got[0], "broken pipe") {
		t.Errorf("reference: %q\n     ours: %q", got[0], got[1])
	}
}

func TestMatchesReferenceTXT(t *testing.T) {
	long := strings.Repeat("abcdefghij", 30)
	srv := fakedns.Start(t,
		`4.3.2.1.rbl.test. TXT "listed"`,
		`4.3.2.1.multi.test. TXT "one " "two"`,
		`4.3.2.1.multi.test. TXT "three"`,
		`4.3.2.1.odd.test. TXT "tab\009cr\013nul\000high\200\255end"`,
		`4.3.2.1.long.test. TXT "`+long[:250]+`" "`+long[250:]+`"`,
		`4.3.2.1.empty.test. TXT ""`,
		`4.3.2.1.white.test. A 127.0.0.2`,
		`4.3.2.1.awhite.test. A 127.0.0.2`,
		`4.3.2.1.awhite.test. TXT "has both"`,
		`4.3.2.1.alias.test. CNAME target.test.`,
		`target.test. TXT "by way of a CNAME"`,
		`target.test. A 127.0.0.2`,
		`4.3.2.1.big.test. TXT "`+strings.Repeat("x", 255)+`" "`+strings.Repeat("y", 255)+`" "`+strings.Repeat("z", 100)+`"`,
		`4.3.2.1.MiXeD.TeSt. TXT "listed in mixed case"`,
	)
	srv.ServFail("4.3.2.1.broken.test.")
	// Records whose owner is not the name asked about count all the same.
	srv.Answer(t, "4.3.2.1.foreign.test.", "TXT", `elsewhere.test. TXT "foreign"`, `4.3.2.1.foreign.test. A 127.0.0.2`)
	srv.Answer(t, "4.3.2.1.foreign.test.", "A", `elsewhere.test. A 127.0.0.9`)
	srv.Truncate("4.3.2.1.tc.test.") // asked again over TCP
	srv.Answer(t, "4.3.2.1.tc.test.", "TXT", `4.3.2.1.tc.test. TXT "over TCP"`)
	compare := func(t *testing.T, ip string, args ...string) {
		t.Helper()
		for _, script := range scripts[:3] {
			reftest.Compare(t, "rblsmtpd", reftest.Cmd{
				Args:    append(args, "echo", "passed"),
				Stdin:   []byte(script),
				Env:     env("TCPREMOTEIP="+ip, "DNSCACHEIP="+srv.IP),
				Timeout: 30 * time.Second,
			}, reftest.Pids)
		}
	}
	for _, args := range []string{
		"-r rbl.test", "-b -r rbl.test", "-r rbl.test -b", "-b -B -r rbl.test", "-t0 -b -r rbl.test",
		"-r multi.test", "-r odd.test", "-b -r long.test", "-r empty.test", "-r nx.test",
		"-r nx.test -r empty.test -b -r multi.test", "-r rbl.test -r multi.test",
		"-a white.test -r rbl.test", "-r rbl.test -a white.test", "-a nx.test -r rbl.test",
		"-a rbl.test -r multi.test", "-r awhite.test", "-a awhite.test -r rbl.test",
		"-r white.test", "-c -r nx.test", "-r rbl.test.",
		"-r alias.test", "-a alias.test -r rbl.test", "-b -r big.test", "-r mixed.test", "-r foreign.test",
		"-a foreign.test -r rbl.test", "-r tc.test", "-r rbl..test", "-r rbl_test", "-c -r " + strings.Repeat("x", 64),
		"-a '' -r rbl.test", "-a 5 -r rbl.test",
	} {
		t.Run(args, func(t *testing.T) {
			fields := strings.Fields(args)
			for i, f := range fields {
				fields[i] = strings.ReplaceAll(strings.ReplaceAll(f, "''", ""), "_", " ")
			}
			compare(t, "1.2.3.4", fields...)
		})
	}
	t.Run("unlisted", func(t *testing.T) { compare(t, "1.2.3.5", "-b", "-c", "-r", "rbl.test", "-a", "white.test") })
	// djb's library tries a failing server for 11 seconds, and so do we: the
	// runs all go at once.
	failures := []string{
		"-r broken.test", "-c -r broken.test", "-c -b -r broken.test", "-b -r broken.test -r rbl.test",
		"-a broken.test -r rbl.test", "-c -a broken.test -b -r rbl.test", "-c -a broken.test -r nx.test",
		"absent: -c -r rbl.test", "absent: -a white.test -b -r rbl.test",
	}
	absent := fakedns.Absent(t)
	var jobs []job
	for _, args := range failures {
		dns := srv.IP
		if rest, ok := strings.CutPrefix(args, "absent: "); ok {
			args, dns = rest, absent
		}
		c := reftest.Cmd{
			Args:  append(strings.Fields(args), "echo", "passed"),
			Stdin: []byte(scripts[1]),
			Env:   env("TCPREMOTEIP=1.2.3.4", "DNSCACHEIP="+dns),
		}
		jobs = append(jobs, job{reftest.Ref(t, "rblsmtpd"), c}, job{reftest.Ours(t, "rblsmtpd"), c})
	}
	results := runAll(t, jobs, time.Minute)
	for i, args := range failures {
		want, got := results[2*i], results[2*i+1]
		for _, r := range []*reftest.Result{&got, &want} {
			r.Stderr = reftest.Pids(r.Stderr)
		}
		if !bytes.Equal(got.Stdout, want.Stdout) || !bytes.Equal(got.Stderr, want.Stderr) || got.Code != want.Code {
			t.Errorf("%s: reference %q %q exit %d\n    ours %q %q exit %d", args,
				want.Stdout, want.Stderr, want.Code, got.Stdout, got.Stderr, got.Code)
		}
	}
}

// job is one program with one command line.
type job struct {
	prog string
	cmd  reftest.Cmd
}

// runAll runs every job at once, and returns their results.
func runAll(t *testing.T, jobs []job, timeout time.Duration) []reftest.Result {
	t.Helper()
	results := make([]reftest.Result, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, r := range jobs {
		prog, c := r.prog, r.cmd
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, prog, c.Args...)
			cmd.Env, cmd.Stdin = c.Env, bytes.NewReader(c.Stdin)
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			err := cmd.Run()
			if _, exited := err.(*exec.ExitError); exited && ctx.Err() == nil {
				err = nil
			}
			results[i] = reftest.Result{Stdout: out.Bytes(), Stderr: errOut.Bytes(), Code: cmd.ProcessState.ExitCode()}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s %q: %v", jobs[i].prog, jobs[i].cmd.Args, err)
		}
	}
	return results
}

// Benchmarks: one client's worth of work, ours side by side with Debian's.

func benchPrograms(b *testing.B, c reftest.Cmd) {
	for _, p := range []struct{ name, path string }{
		{"ours", reftest.Ours(b, "rblsmtpd")},
		{"reference", reftest.Ref(b, "rblsmtpd")},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				cmd := exec.Command(p.path, c.Args...)
				cmd.Env, cmd.Stdin = c.Env, bytes.NewReader(c.Stdin)
				if err := cmd.Run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRejectAtOnce: $RBLSMTPD blocks, -t0: start, log, reply, exit.
func BenchmarkRejectAtOnce(b *testing.B) {
	benchPrograms(b, reftest.Cmd{Args: []string{"-t0", "true"}, Env: env("TCPREMOTEIP=1.2.3.4", "RBLSMTPD=-no")})
}

// BenchmarkConversation: a blocked client's whole session.
func BenchmarkConversation(b *testing.B) {
	benchPrograms(b, reftest.Cmd{Args: []string{"true"}, Stdin: []byte(scripts[1]), Env: env("TCPREMOTEIP=1.2.3.4", "RBLSMTPD=no")})
}

// BenchmarkPass: a client let through without a lookup: start, exec smtpd.
func BenchmarkPass(b *testing.B) {
	benchPrograms(b, reftest.Cmd{Args: []string{"/bin/true"}, Env: env("TCPREMOTEIP=1.2.3.4", "RBLSMTPD=")})
}

// BenchmarkThreeLists: a clean client checked against three lists (each
// answering NXDOMAIN from a local server), then smtpd.
func BenchmarkThreeLists(b *testing.B) {
	srv := fakedns.Start(b)
	benchPrograms(b, reftest.Cmd{
		Args: []string{"-r", "one.test", "-r", "two.test", "-r", "three.test:x", "/bin/true"},
		Env:  env("TCPREMOTEIP=1.2.3.4", "DNSCACHEIP="+srv.IP),
	})
}

// BenchmarkDecide: the three-list decision in process, without the start-up.
func BenchmarkDecide(b *testing.B) {
	srv := fakedns.Start(b)
	b.Setenv("DNSCACHEIP", srv.IP)
	l := &Lists{Sources: src("-r one.test -r two.test -r three.test:x"), Resolver: dns.New(), Timeout: 5 * time.Second}
	for b.Loop() {
		if v := Decide(context.Background(), nil, "1.2.3.4", l); v.Block {
			b.Fatal(v)
		}
	}
}

// TestDefaultBaseVariable: $RBLSMTPD_DEFAULT_BASE stands in for 0.88's built-in
// list: used, after the -a lists and with the last -b, only when no -r is given.
func TestDefaultBaseVariable(t *testing.T) {
	srv := fakedns.Start(t,
		`4.3.2.1.old.test. TXT "listed in the default"`,
		`4.3.2.1.given.test. TXT "listed where -r said"`,
		`5.3.2.1.white.test. A 127.0.0.2`,
		`5.3.2.1.old.test. TXT "never asked"`,
	)
	base := env("TCPREMOTEIP=1.2.3.4", "DNSCACHEIP="+srv.IP, "RBLSMTPD_DEFAULT_BASE=old.test")
	c := start(t, base, append([]string{"-b", "-t", "30"}, smtpd...)...)
	c.converse("553 listed in the default")

	c = start(t, base, append([]string{"-r", "given.test", "-t", "30"}, smtpd...)...)
	c.converse("451 listed where -r said")

	c = start(t, env("TCPREMOTEIP=1.2.3.5", "DNSCACHEIP="+srv.IP, "RBLSMTPD_DEFAULT_BASE=old.test"), append([]string{"-a", "white.test"}, smtpd...)...)
	c.passed() // the -a answer decides, though the default list was asked too
}
