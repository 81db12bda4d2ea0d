package ucspi

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/cdbrules"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

func TestLimitVars(t *testing.T) {
	for _, c := range []struct {
		vars     []string
		ip, net  ipMax
		message  string // "-" for none
		unsetMsg bool
	}{
		{nil, ipMax{}, ipMax{}, "-", true},
		{[]string{"MAXCONNIP=3"}, ipMax{3, "MAXCONNIP"}, ipMax{}, "-", true},
		{[]string{"MAXCONIP=3"}, ipMax{3, "MAXCONIP"}, ipMax{}, "-", true},
		{[]string{"MAXCONIP=5", "MAXCONNIP=3"}, ipMax{3, "MAXCONNIP"}, ipMax{}, "-", true},
		{[]string{"MAXCONNIP=5", "MAXCONIP=2"}, ipMax{2, "MAXCONIP"}, ipMax{}, "-", true},
		{[]string{"MAXCONNIP=0"}, ipMax{0, "MAXCONNIP"}, ipMax{}, "-", true},
		{[]string{"MAXCONNIP=3x", "MAXCONIP=", "MAXCONNC=-1"}, ipMax{}, ipMax{}, "-", true},
		{[]string{"MAXCONNIP=1", "MAXCONNIP=7"}, ipMax{7, "MAXCONNIP"}, ipMax{}, "-", true}, // the later one
		{[]string{"MAXCONNC=20", "DIEMSG=421 busy", "OTHER=1"}, ipMax{}, ipMax{20, "MAXCONNC"}, "421 busy", false},
	} {
		ip, net, msg := limitVars(c.vars)
		gotMsg := "-"
		if msg != nil {
			gotMsg = *msg
		}
		if ip != c.ip || net != c.net || gotMsg != c.message {
			t.Errorf("limitVars(%q) = %v, %v, %q; want %v, %v, %q", c.vars, ip, net, gotMsg, c.ip, c.net, c.message)
		}
	}
}

// TestIPRecord: places are counted per address and per network, given back
// by pid or by a failed spawn, and the record holds nothing once all are.
func TestIPRecord(t *testing.T) {
	l := &ipLimits{addrs: map[[16]byte]*ipCount{}, nets: map[[16]byte]*ipCount{}, pids: map[int32]*ipCount{}}
	two := ipMax{2, "-C"}
	reserve := func(ip string, pid int, ipm, netm ipMax) *ipRefusal {
		t.Helper()
		c := &Description{}
		count, refused := l.reserve(netip.MustParseAddr(ip), ipm, netm)
		if refused != nil {
			return refused
		}
		c.slot = count
		if pid > 0 {
			l.started(pid, c)
		} else {
			l.cancel(c)
		}
		return nil
	}
	for i, ip := range []string{"10.0.0.1", "::ffff:10.0.0.1", "10.0.0.2", "2001:db8::1", "2001:db8::1"} {
		if r := reserve(ip, 100+i, two, ipMax{}); r != nil {
			t.Fatalf("%s refused: %+v", ip, r)
		}
	}
	if r := reserve("10.0.0.1", 200, two, ipMax{}); r == nil || r.count != 3 || r.max != two {
		t.Errorf("third from 10.0.0.1: %+v", r)
	}
	// The /24 holds 3, the /64 2.
	if r := reserve("10.0.0.77", 201, ipMax{}, ipMax{3, "MAXCONNC"}); r == nil || r.count != 4 {
		t.Errorf("10.0.0.77 with MAXCONNC=3: %+v", r)
	}
	if r := reserve("10.0.1.77", 202, ipMax{}, ipMax{3, "MAXCONNC"}); r != nil {
		t.Errorf("10.0.1.77 with MAXCONNC=3: %+v", r)
	}
	if r := reserve("2001:db8::ffff", 203, ipMax{}, ipMax{2, "MAXCONNC"}); r == nil || r.count != 3 {
		t.Errorf("2001:db8::ffff with MAXCONNC=2: %+v", r)
	}
	if r := reserve("2001:db8:0:1::1", 0, ipMax{}, ipMax{1, "MAXCONNC"}); r != nil {
		t.Errorf("another /64 (cancelled): %+v", r)
	}
	// pid 100 ends: 10.0.0.1 has room again, for one.
	l.ended(100)
	l.ended(100) // a second time changes nothing
	l.ended(999) // nor does a pid never recorded
	if r := reserve("10.0.0.1", 300, two, ipMax{}); r != nil {
		t.Errorf("after pid 100 ended: %+v", r)
	}
	if r := reserve("10.0.0.1", 301, two, ipMax{}); r == nil {
		t.Error("10.0.0.1 over its limit again")
	}
	for _, pid := range []int{101, 102, 103, 104, 202, 300} {
		l.ended(pid)
	}
	if len(l.addrs)+len(l.nets)+len(l.pids) != 0 {
		t.Errorf("left over: %d addresses, %d networks, %d programs", len(l.addrs), len(l.nets), len(l.pids))
	}
}

// holdFrom connects from ip and reads the first line: "ok\n" from the
// program, or the limit's message (then EOF).
func holdFrom(t *testing.T, addr, ip string) (net.Conn, string) {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && !(err == io.EOF || isReset(err)) {
		t.Fatalf("from %s: %v", ip, err)
	}
	return c, line
}

func TestIPLimit(t *testing.T) {
	ok := okprog(t)
	s := startServer(t, reftest.Ours(t, "tcpserver"), nil, "-v", "-RHl0", "-C", "2:421 too many", "127.0.0.1", "0", ok, "hold")
	var got []string
	start := time.Now()
	for range 5 {
		_, line := holdFrom(t, s.addr("127.0.0.1"), "127.0.0.2")
		got = append(got, line)
	}
	if want := "ok\n|ok\n|421 too many\r\n|421 too many\r\n|421 too many\r\n"; strings.Join(got, "|") != want {
		t.Errorf("5 from 127.0.0.2 with -C 2: %q", got)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("refusals took %v: no pause is wanted", d)
	}
	if _, line := holdFrom(t, s.addr("127.0.0.1"), "127.0.0.3"); line != "ok\n" {
		t.Errorf("127.0.0.3: %q", line)
	}
	log := s.waitLog("three limit lines", func(l string) bool { return strings.Count(l, "end 0 status 25600") == 3 })
	want := "tcpserver: pid 0 from 127.0.0.2\ntcpserver: deny 0 0:127.0.0.1:" + s.port + " :127.0.0.2::PORT\n" +
		"tcpserver: limit 0 127.0.0.2 3/2 -C\ntcpserver: end 0 status 25600\ntcpserver: status: 2/40\n"
	if got := regexpPorts(log); !strings.Contains(got, regexpPorts(want)) {
		t.Errorf("log has no\n%s\nin\n%s", want, log)
	}
}

// TestIPLimitRules: the rule's variables come first, then -C, then the
// server's environment; TCPCONCURRENCY counts this address's programs.
func TestIPLimitRules(t *testing.T) {
	dir := t.TempDir()
	cdb := filepath.Join(dir, "rules.cdb")
	rules := "127.0.0.2:allow,MAXCONNIP=\"3\",DIEMSG=\"rule says no\"\n" +
		"127.0.0.4:allow,MAXCONNIP=\"4\",MAXCONIP=\"1\"\n" +
		"127.0.0.5:allow,MAXCONNIP=\"0\"\n" +
		"127.0.0.6:allow,MAXCONNIP=\"many\"\n" +
		"127.0.1.:allow,MAXCONNC=\"2\"\n" +
		":allow\n"
	if err := cdbrules.Compile(strings.NewReader(rules), cdb, cdb+".tmp"); err != nil {
		t.Fatal(err)
	}
	hold := script(t, dir, "hold", "echo ${TCPCONCURRENCY-unset}\nexec /usr/bin/cat >/dev/null\n")
	s := startServer(t, reftest.Ours(t, "tcpserver"), pathEnv("MAXCONNIP=2", "DIEMSG=env says no"),
		"-v", "-RHl0", "-x", cdb, "-C", "1", "127.0.0.1", "0", hold)
	for _, c := range []struct {
		ip   string
		want string
	}{
		{"127.0.0.2", "1 2 3 rule says no"}, // a rule raising the limit, with its message
		{"127.0.0.3", "1 env says no"},      // -C, with the environment's message
		{"127.0.0.4", "1 env says no"},      // both variables: the smaller
		{"127.0.0.5", "env says no"},        // 0 always refuses
		{"127.0.0.6", "1 env says no"},      // not a number: -C then
		{"127.0.1.1", "1 env says no"},      // -C still holds with MAXCONNC
		{"127.0.1.2", "1 env says no"},      // the second of the /24
		{"127.0.1.3", "env says no"},        // the third of the /24
	} {
		var lines []string
		for range 4 {
			_, line := holdFrom(t, s.addr("127.0.0.1"), c.ip)
			lines = append(lines, strings.TrimRight(line, "\r\n"))
			if !strings.HasPrefix(line, "1") && !strings.HasPrefix(line, "2") && !strings.HasPrefix(line, "3") {
				break
			}
		}
		if got := strings.Join(lines, " "); got != c.want {
			t.Errorf("%s: %q, want %q", c.ip, got, c.want)
		}
	}
	log := s.waitLog("5 limit lines", func(l string) bool { return strings.Count(l, "end 0 status 25600") == 8 })
	for _, want := range []string{"limit 0 127.0.0.2 4/3 MAXCONNIP\n", "limit 0 127.0.0.3 2/1 -C\n", "limit 0 127.0.0.4 2/1 MAXCONIP\n",
		"limit 0 127.0.0.5 1/0 MAXCONNIP\n", "limit 0 127.0.1.3 3/2 MAXCONNC\n"} {
		if !strings.Contains(log, want) {
			t.Errorf("log has no %q:\n%s", want, log)
		}
	}

	// The environment alone, without -C or rules: the record is kept all the
	// same; without any of them, TCPCONCURRENCY stays unset.
	s = startServer(t, reftest.Ours(t, "tcpserver"), pathEnv("MAXCONIP=1"), "-RHl0", "127.0.0.1", "0", hold)
	if _, line := holdFrom(t, s.addr("127.0.0.1"), "127.0.0.2"); line != "1\n" {
		t.Errorf("MAXCONIP=1 in the environment, first: %q", line)
	}
	if _, line := holdFrom(t, s.addr("127.0.0.1"), "127.0.0.2"); line != "" {
		t.Errorf("MAXCONIP=1 in the environment, second: %q", line)
	}
	s = startServer(t, reftest.Ours(t, "tcpserver"), nil, "-RHl0", "-x", cdb, "127.0.0.1", "0", hold)
	if _, line := holdFrom(t, s.addr("127.0.0.1"), "127.0.0.9"); line != "unset\n" {
		t.Errorf("-x, no limit for the address: %q", line)
	}
}

// TestIPLimitReleasedByPid: a place is given back when its own program ends,
// not when the last connection from the address does.
func TestIPLimitReleasedByPid(t *testing.T) {
	ok := okprog(t)
	s := startServer(t, reftest.Ours(t, "tcpserver"), nil, "-v", "-RHl0", "-C", "1:busy", "127.0.0.1", "0", ok, "hold")
	a, line := holdFrom(t, s.addr("127.0.0.1"), "127.0.0.2")
	if line != "ok\n" {
		t.Fatalf("A: %q", line)
	}
	if _, line := holdFrom(t, s.addr("127.0.0.1"), "127.0.0.3"); line != "ok\n" {
		t.Fatalf("B: %q", line)
	}
	a.Close()
	s.waitEnds(1)
	if _, line := holdFrom(t, s.addr("127.0.0.1"), "127.0.0.2"); line != "ok\n" {
		t.Errorf("a new one from .2 after A ended: %q", line)
	}
	if _, line := holdFrom(t, s.addr("127.0.0.1"), "127.0.0.3"); line != "busy\r\n" {
		t.Errorf("a new one from .3 while B runs: %q", line)
	}

	// A spawn that fails gives its place back.
	s = startServer(t, reftest.Ours(t, "tcpserver"), nil, "-v", "-RHl0", "-C", "1", "127.0.0.1", "0", filepath.Join(t.TempDir(), "missing"))
	for range 3 {
		talk(t, s.addr("127.0.0.1"), "127.0.0.2", "")
	}
	s.waitEnds(3)
	if log := s.log.String(); strings.Count(log, "unable to run") != 3 || strings.Contains(log, "limit") {
		t.Errorf("failed spawns:\n%s", log)
	}
}

// TestIPLimitWithProxy: behind a balancer, the carried client is counted.
func TestIPLimitWithProxy(t *testing.T) {
	ok := okprog(t)
	s := startServer(t, reftest.Ours(t, "tcpserver"), nil, "-v", "-RHl0", "-C", "1:busy", "--proxy-from", "127.0.0.1",
		"127.0.0.1", "0", ok, "hold")
	open := func(client string) string {
		c, err := net.Dial("tcp", s.addr("127.0.0.1"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.Write(AppendProxy(nil, 2, netip.MustParseAddrPort(client), netip.MustParseAddrPort("192.0.2.1:25")))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		return line
	}
	got := []string{open("198.51.100.7:1"), open("198.51.100.7:2"), open("198.51.100.8:1")}
	if strings.Join(got, "|") != "ok\n|busy\r\n|ok\n" {
		t.Errorf("two from 198.51.100.7, one from .8 through one balancer: %q", got)
	}
	log := s.waitLog("the limit line", func(l string) bool { return strings.Contains(l, "limit 0") })
	if !strings.Contains(log, "tcpserver: limit 0 198.51.100.7 2/1 -C\n") {
		t.Errorf("log:\n%s", log)
	}
}

// TestIPLimitOptions: -C's forms; a bad one is a usage error.
func TestIPLimitOptions(t *testing.T) {
	for _, args := range [][]string{{"-C", "0"}, {"-C", "x"}, {"-C", "2x"}, {"-C", ":msg"}, {"--ip-limit", "-1"}} {
		r := reftest.Run(t, reftest.Ours(t, "tcpserver"), reftest.Cmd{Args: append(args, "127.0.0.1", "0", "true")})
		if r.Code != 100 || !strings.Contains(string(r.Stderr), "tcpserver: usage: tcpserver ") {
			t.Errorf("%q: exit %d, %s", args, r.Code, r.Stderr)
		}
	}
}

// BenchmarkIPRecord is the per-IP record's cost with 10,000 programs running
// from 1,000 addresses: time per connection (check and reserve, record the
// pid, give the place back when it is reaped), and memory per running program
// (B/program, the live heap the record holds, divided by the programs).
// make bench reports both.
func BenchmarkIPRecord(b *testing.B) {
	const running, addrs = 10000, 1000
	l := &ipLimits{addrs: map[[16]byte]*ipCount{}, nets: map[[16]byte]*ipCount{}, pids: map[int32]*ipCount{}}
	limit := ipMax{20, "-C"}
	addr := func(i int) netip.Addr {
		return netip.AddrFrom4([4]byte{10, 0, byte(i % addrs / 250), byte(i%addrs%250 + 1)})
	}
	start := func(i, pid int) {
		count, refused := l.reserve(addr(i), limit, ipMax{})
		if refused != nil {
			b.Fatalf("%v refused: %+v", addr(i), refused)
		}
		l.started(pid, &Description{slot: count})
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range running {
		start(i, i+1)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perProgram := float64(after.HeapAlloc-before.HeapAlloc) / running
	pid := running + 1
	for i := 0; b.Loop(); i++ {
		start(i, pid)
		l.ended(pid)
	}
	b.ReportMetric(perProgram, "B/program") // after the loop, which resets the metrics
	runtime.KeepAlive(l)
}

// TestIPLimitSSLServer: sslserver keeps the record too (MAXCONNIP in its
// environment here); a connection whose handshake fails gives its place
// back, as a failed spawn does.
func TestIPLimitSSLServer(t *testing.T) {
	r := newTLSRig(t)
	s := r.start(t, r.env(r.server, "MAXCONNIP=1"), "-v", "-RHl0", "127.0.0.1", "0", "echo", "hello")
	for range 3 {
		talk(t, s.addr("127.0.0.1"), "127.0.0.2", "not a ClientHello\r\n")
	}
	s.waitLog("three ends", func(l string) bool { return strings.Count(l, "end 0 status ") == 3 })
	d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	c, err := tls.DialWithDialer(d, "tcp", s.addr("127.0.0.1"), r.clientConfig(nil))
	if err != nil {
		t.Fatalf("from 127.0.0.2 after three failed handshakes: %v\n%s", err, s.log)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if out, _ := io.ReadAll(c); string(out) != "hello\n" {
		t.Errorf("from 127.0.0.2 after three failed handshakes: %q\n%s", out, s.log)
	}
	if strings.Contains(s.log.String(), "limit 0") {
		t.Errorf("a failed handshake kept its place:\n%s", s.log)
	}
}
