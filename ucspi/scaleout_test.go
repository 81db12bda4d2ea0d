package ucspi

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/cdbrules"
	"github.com/ucspi-go/ucspi/internal/fakedns"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

// TestScaleOut runs docs/scale-out.md on loopback: its haproxy.cfg, its rules
// and its systemd units, read from the page, with the balancer on 127.0.0.1,
// mx1 on 127.0.0.2 and mx2 on 127.0.0.3 (ports of the test's choosing),
// systemd-socket-activate standing in for the socket unit, and a program
// standing in for qmail-smtpd that says whom it serves.
func TestScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 connections through HAProxy")
	}
	activate, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("no systemd-socket-activate (package systemd)")
	}
	blocks := docBlocks(t)
	dns := fakedns.Start(t, "1.7.0.127.in-addr.arpa. PTR relay.test.") // TCPREMOTEHOST of one client
	lb, p2, p3 := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.2"), freePort(t, "127.0.0.3")
	dir := t.TempDir()

	// The rules, for clients on 127.0.7/24 (the relay clients), 127.0.8.66
	// (denied) and the rest.
	rules := replaceAll(blocks["/etc/tcp.smtp on mx1 and mx2"], "192.0.2.", "127.0.7.", "198.51.100.66", "127.0.8.66")
	cdb := filepath.Join(dir, "tcp.smtp.cdb")
	if err := cdbrules.Compile(strings.NewReader(rules), cdb, cdb+".tmp"); err != nil {
		t.Fatal(err)
	}
	smtpd := script(t, dir, "qmail-smtpd", `echo "ok $TCPREMOTEIP ${TCPREMOTEHOST-?} ${RELAYCLIENT+relay} $TCPLOCALHOST"`+"\nexec /usr/bin/cat >/dev/null\n")

	// The members, as their units start them.
	var execStart []string
	for _, line := range strings.Split(blocks["/etc/systemd/system/smtpd.service on mx1 (mx2: -l mx2.example.com)"], "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			execStart = strings.Fields(replaceAll(v, "/usr/local/bin/tcpserver", reftest.Ours(t, "tcpserver"),
				"/etc/tcp.smtp.cdb", cdb, "10.0.0.1", "127.0.0.1", "/var/qmail/bin/qmail-smtpd", smtpd))
		}
	}
	socket := blocks["/etc/systemd/system/smtpd.socket on mx1 (mx2: 10.0.0.3:25)"]
	if len(execStart) == 0 || !strings.Contains(socket, "ListenStream=10.0.0.2:25\nAccept=no\n") {
		t.Fatalf("docs/scale-out.md: no ExecStart, or not the socket unit the test knows:\n%s", socket)
	}
	member := func(name, addr string) *server {
		args := replaceAll(strings.Join(execStart, "\x00"), "mx1.example.com", name+".example.com")
		// It passes on PATH and little else: the DNS, as a unit's Environment=.
		cmd := exec.Command(activate, append([]string{"-l", addr, "-E", "DNSCACHEIP=" + dns.IP}, strings.Split(args, "\x00")...)...)
		m := &server{t: t, cmd: cmd, log: &logBuffer{}, exited: make(chan struct{})}
		cmd.Env = pathEnv()
		cmd.Stderr = m.log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			cmd.Wait()
			m.state = cmd.ProcessState
			close(m.exited)
		}()
		t.Cleanup(m.kill)
		m.waitLog("the socket", func(l string) bool { return strings.Contains(l, "Listening on") })
		return m
	}
	mx1 := member("mx1", "127.0.0.2:"+p2)
	mx2 := member("mx2", "127.0.0.3:"+p3)

	cfg := replaceAll(blocks["/etc/haproxy/haproxy.cfg on lb"], "bind :25", "bind 127.0.0.1:"+lb,
		"10.0.0.2:25", "127.0.0.2:"+p2, "10.0.0.3:25", "127.0.0.3:"+p3)
	// The test's own addition: HAProxy's log of each session, to show why one failed.
	cfg = replaceAll(cfg, "global\n", "global\n    log stderr format short local0 info\n",
		"defaults\n", "defaults\n    log global\n    option tcplog\n")
	h := haproxy(t, cfg, "127.0.0.1:"+lb)

	// 1,000 connections from three addresses, 8 at a time; mx2 stopped
	// after the first 300 and started again after 600.
	sources := []string{"127.0.7.1", "127.0.9.1", "127.0.9.2"}
	var next, failed atomic.Int64
	var mu sync.Mutex
	var firstFailure string
	var phase sync.WaitGroup
	run := func(upTo int64) {
		for range 8 {
			phase.Add(1)
			go func() {
				defer phase.Done()
				for i := next.Add(1); i <= upTo; i = next.Add(1) {
					src := sources[i%3]
					want := "ok " + src + " ?  " // no name, no RELAYCLIENT
					if src == "127.0.7.1" {
						want = "ok " + src + " relay.test relay "
					}
					if got := greeting("127.0.0.1:"+lb, src); !strings.HasPrefix(got, want+"mx") {
						if failed.Add(1) == 1 {
							mu.Lock()
							firstFailure = fmt.Sprintf("connection %d from %s: %q, want %q", i, src, got, want+"mxN...")
							mu.Unlock()
						}
					}
				}
			}()
		}
		phase.Wait()
	}
	start := time.Now()
	run(300)
	next.Store(300)
	mx2.stop()
	run(600)
	next.Store(600)
	served := strings.Count(mx2.log.String(), "tcpserver: ok ")
	mx2 = member("mx2", "127.0.0.3:"+p3)
	run(1000)
	t.Logf("1,000 connections in %v", time.Since(start))
	if failed.Load() > 0 {
		var odd []string
		for _, l := range strings.Split(h.log.String(), "\n") {
			if !strings.Contains(l, " -- ") { // a session that did not end normally
				odd = append(odd, l)
			}
		}
		t.Errorf("%d of 1000 connections not served as their client; the first: %s\nhaproxy:\n%s\nmx1: %s\nmx2: %s", failed.Load(), firstFailure,
			strings.Join(odd, "\n"), warnings(mx1.log.String()), warnings(mx2.log.String()))
	}
	if served == 0 || !strings.Contains(mx1.log.String(), "tcpserver: ok ") {
		t.Errorf("before the restart mx2 served %d connections; mx1's log:\n%s", served, mx1.log)
	}
	// mx2 is back: HAProxy sends it clients again once its checks pass.
	for i := 0; !strings.Contains(mx2.log.String(), " from 127.0.9."); i++ {
		if i > 100 {
			t.Fatalf("mx2 serves no client after its restart:\n%s", mx2.log)
		}
		greeting("127.0.0.1:"+lb, "127.0.9.1")
		time.Sleep(100 * time.Millisecond)
	}

	// MAXCONNIP="20" holds on each member: 40 sessions from one address
	// across the pool, the 41st turned away with DIEMSG.
	var lines []string
	for range 41 {
		_, line := holdFrom(t, "127.0.0.1:"+lb, "127.0.9.3")
		lines = append(lines, line)
	}
	for i, line := range lines {
		want := "ok 127.0.9.3 ?  mx"
		if i == 40 {
			want = "421 too many connections from your address, try later\r\n"
		}
		if !strings.HasPrefix(line, want) {
			t.Errorf("session %d from 127.0.9.3: %q, want %q", i+1, line, want)
		}
	}
	limited := func() int {
		return strings.Count(mx1.log.String()+mx2.log.String(), "tcpserver: limit 0 127.0.9.3 21/20 MAXCONNIP\n")
	}
	for i := 0; limited() == 0 && i < 1000; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if limited() != 1 {
		t.Errorf("%d limit lines for 127.0.9.3:\n%s\n%s", limited(), mx1.log, mx2.log)
	}
	// The denied address, and a direct connection to a member.
	if got := sendPieces(t, "127.0.0.1:"+lb, "127.0.8.66", 0); got != "" {
		t.Errorf("127.0.8.66 got %q", got)
	}
	if got := sendPieces(t, "127.0.0.2:"+p2, "127.0.9.1", 0, []byte("PROXY TCP4 127.0.7.1 127.0.0.1 1 25\r\n")); got != "" {
		t.Errorf("straight to mx1: %q", got)
	}
}

// greeting is what an SMTP client does first: connect from src, read the
// server's first line (or an error's text), and here hang up.
func greeting(addr, src string) string {
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return line + " (" + err.Error() + ")"
	}
	return line
}

// docBlocks reads the fenced blocks of docs/scale-out.md that begin with a
// "# name" line, by name.
func docBlocks(t *testing.T) map[string]string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	f, err := os.Open(filepath.Join(filepath.Dir(here), "..", "docs", "scale-out.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blocks := map[string]string{}
	var name string
	var body strings.Builder
	inside := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```"):
			if inside && name != "" {
				blocks[name] = body.String()
			}
			inside, name = !inside, ""
			body.Reset()
		case inside && name == "" && body.Len() == 0 && strings.HasPrefix(line, "# "):
			name = line[2:]
		case inside:
			body.WriteString(line + "\n")
		}
	}
	return blocks
}

// warnings are a log's lines other than tcpserver's status and connection lines.
func warnings(log string) string {
	var w []string
	for _, l := range strings.SplitAfter(log, "\n") {
		if !strings.HasPrefix(l, "tcpserver: status: ") && !strings.HasPrefix(l, "tcpserver: pid ") &&
			!strings.HasPrefix(l, "tcpserver: ok ") && !strings.HasPrefix(l, "tcpserver: end ") {
			w = append(w, l)
		}
	}
	return strings.Join(w, "")
}

func replaceAll(s string, oldNew ...string) string {
	return strings.NewReplacer(oldNew...).Replace(s)
}
