package ucspi

import (
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/cdbrules"
	"github.com/ucspi-go/ucspi/internal/fakedns"
	"github.com/ucspi-go/ucspi/internal/fakeserver"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

// tcpserver --proxy-from against headers written by the test, sent whole or
// in pieces; tcpserver behind a real HAProxy is haproxy_test.go.

// sendPieces connects from the local address from ("" for any), writes each
// piece with gap between them, closes its half and reads to EOF.
func sendPieces(t testing.TB, addr, from string, gap time.Duration, pieces ...[]byte) string {
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
	c.SetDeadline(time.Now().Add(30 * time.Second))
	for i, p := range pieces {
		if i > 0 {
			time.Sleep(gap)
		}
		if _, err := c.Write(p); err != nil {
			break // the server may have dropped the connection already
		}
	}
	c.(*net.TCPConn).CloseWrite()
	out, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		t.Fatalf("reading from %s: %v", addr, err)
	}
	return string(out)
}

// bytewise splits b into one-byte pieces.
func bytewise(b []byte) [][]byte {
	var p [][]byte
	for i := range b {
		p = append(p, b[i:i+1])
	}
	return p
}

// hasVars checks that env (printEnv's output) has each of want ("NAME=value",
// or "NAME" for a variable that must be unset).
func hasVars(t *testing.T, what, env string, want ...string) {
	t.Helper()
	lines := "\n" + env
	for _, w := range want {
		if strings.Contains(w, "=") {
			if !strings.Contains(lines, "\n"+w+"\n") {
				t.Errorf("%s: no %s in\n%s", what, w, env)
			}
		} else if strings.Contains(lines, "\n"+w+"=") {
			t.Errorf("%s: %s is set in\n%s", what, w, env)
		}
	}
}

func TestProxyHeaderNamesTheClient(t *testing.T) {
	dns := fakedns.Start(t, "9.0.0.127.in-addr.arpa. PTR client.test.", "1.0.0.127.in-addr.arpa. PTR localhost.")
	fakeserver.Ident(t, "127.0.0.9", "USERID : UNIX : mallory")
	fakeserver.Ident(t, "127.0.0.1", "USERID : UNIX : balancer")
	dir := t.TempDir()
	print := script(t, dir, "print", printEnv)
	env := pathEnv("DNSCACHEIP="+dns.IP, "PROXYREMOTEIP=stale", "PROXYVERSION=stale", "TCPCONCURRENCY=stale")
	s := startServer(t, reftest.Ours(t, "tcpserver"), env,
		"-v", "-l0", "-t2", "--proxy-from", "10.0.0.0/8,127.0.0.1", "::", "0", print)
	client := "client's first bytes\r\n"
	for _, c := range []struct {
		name   string
		header []byte
		want   []string
	}{
		{"v1 TCP4", AppendProxy(nil, 1, netip.MustParseAddrPort("127.0.0.9:4444"), netip.MustParseAddrPort("198.51.100.1:25")), []string{
			"PROTO=TCP", "TCPREMOTEIP=127.0.0.9", "TCPREMOTEPORT=4444", "TCP6REMOTEIP=::ffff:127.0.0.9", "TCP6REMOTEPORT=4444",
			"TCPLOCALIP=198.51.100.1", "TCPLOCALPORT=25", "TCP6LOCALIP=::ffff:198.51.100.1",
			"TCPREMOTEHOST=client.test", "TCP6REMOTEHOST=client.test", "TCPREMOTEINFO", "TCP6REMOTEINFO",
			"PROXYREMOTEIP=127.0.0.1", "PROXYLOCALIP=127.0.0.1", "PROXYLOCALPORT=" + s.port,
			"PROXYVERSION=1", "PROXYCOMMAND=PROXY", "TCPCONCURRENCY"}},
		{"v2 TCP4", AppendProxy(nil, 2, netip.MustParseAddrPort("127.0.0.9:4444"), netip.MustParseAddrPort("198.51.100.1:25")), []string{
			"TCPREMOTEIP=127.0.0.9", "TCPLOCALPORT=25", "PROXYVERSION=2", "PROXYCOMMAND=PROXY", "TCPREMOTEINFO"}},
		{"v2 TLVs, CRC32C", v2(0x21, 0x11, []byte{127, 0, 0, 9, 198, 51, 100, 1, 0x11, 0x5c, 0, 25},
			0x02, []byte("mail.example"), 0x05, []byte("id-1"), 0x03, nil), []string{
			"TCPREMOTEIP=127.0.0.9", "TCPREMOTEPORT=4444", "PROXYVERSION=2"}},
		{"v1 TCP6", AppendProxy(nil, 1, netip.MustParseAddrPort("[2001:db8::7]:4444"), netip.MustParseAddrPort("[2001:db8::1]:25")), []string{
			"PROTO=TCP6", "TCPREMOTEIP=2001:db8::7", "TCP6REMOTEIP=2001:db8::7", "TCPLOCALIP=2001:db8::1", "PROXYREMOTEIP=127.0.0.1"}},
		{"v2 TCP6", AppendProxy(nil, 2, netip.MustParseAddrPort("[2001:db8::7]:4444"), netip.MustParseAddrPort("[2001:db8::1]:25")), []string{
			"PROTO=TCP6", "TCPREMOTEIP=2001:db8::7", "TCPREMOTEPORT=4444"}},
		// Health checks: the socket's own addresses, ident and all.
		{"v1 UNKNOWN", []byte("PROXY UNKNOWN\r\n"), []string{
			"TCPREMOTEIP=127.0.0.1", "TCPREMOTEHOST=localhost", "TCPREMOTEINFO=balancer", "TCPLOCALPORT=" + s.port,
			"PROXYREMOTEIP=127.0.0.1", "PROXYVERSION=1", "PROXYCOMMAND=LOCAL"}},
		{"v2 LOCAL", v2(0x20, 0x11, []byte{1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2}), []string{
			"TCPREMOTEIP=127.0.0.1", "TCPREMOTEINFO=balancer", "PROXYVERSION=2", "PROXYCOMMAND=LOCAL"}},
		{"v2 PROXY over UDP", v2(0x21, 0x12, []byte{1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2}), []string{
			"TCPREMOTEIP=127.0.0.1", "PROXYCOMMAND=PROXY"}},
	} {
		out := sendPieces(t, s.addr("127.0.0.1"), "", 0, append(c.header, client...))
		if !strings.HasSuffix(out, "\n"+client) {
			t.Errorf("%s: the client's first bytes did not reach the program intact:\n%q", c.name, out)
		}
		hasVars(t, c.name, out, c.want...)
	}
	s.waitEnds(8)
	log := s.log.String()
	for _, want := range []string{
		"tcpserver: pid PID from 127.0.0.9\ntcpserver: ok PID 0:198.51.100.1:25 client.test:127.0.0.9::4444\n",
		"tcpserver: pid PID from 2001:db8::7\ntcpserver: ok PID 0:2001:db8::1:25 :2001:db8::7::4444\n",
		"tcpserver: pid PID from 127.0.0.1\ntcpserver: ok PID 0:127.0.0.1:PORT localhost:127.0.0.1:balancer:",
	} {
		if got := regexp.MustCompile(`\b`+s.port+`\b`).ReplaceAllString(string(reftest.Pids([]byte(log))), "PORT"); !strings.Contains(got, want) {
			t.Errorf("log has no %q:\n%s", want, got)
		}
	}
	// Without --proxy-from, the inherited PROXY* variables are gone all the same.
	plain := startServer(t, reftest.Ours(t, "tcpserver"), env, "-RHl0", "127.0.0.1", "0", print)
	out, _ := talk(t, plain.addr("127.0.0.1"), "", "PROXY UNKNOWN\r\n")
	hasVars(t, "no --proxy-from", out, "PROXYREMOTEIP", "PROXYVERSION", "TCPCONCURRENCY", "TCPREMOTEIP=127.0.0.1")
	if !strings.HasSuffix(out, "\nPROXY UNKNOWN\r\n") {
		t.Errorf("no --proxy-from: the header is the program's data: %q", out)
	}
}

// TestProxyRulesAndBanner: rules are looked up for the carried client, which
// no rule can make a balancer; the banner follows the header.
func TestProxyRulesAndBanner(t *testing.T) {
	dir := t.TempDir()
	print := script(t, dir, "print", printEnv)
	cdb := filepath.Join(dir, "rules.cdb")
	rules := "127.0.0.3:deny\n127.0.0.2:allow,WHO=\"two\"\n:allow,WHO=\"default\"\n"
	if err := cdbrules.Compile(strings.NewReader(rules), cdb, cdb+".tmp"); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, reftest.Ours(t, "tcpserver"), nil,
		"-v", "-RHl0", "-B", "banner\r\n", "-x", cdb, "--proxy-from", "127.0.0.1", "127.0.0.1", "0", print)
	header := func(client string) []byte {
		return AppendProxy(nil, 2, netip.MustParseAddrPort(client), netip.MustParseAddrPort("127.0.0.1:25"))
	}
	if out := sendPieces(t, s.addr("127.0.0.1"), "", 0, header("127.0.0.3:1000")); out != "banner\r\n" {
		t.Errorf("denied client got %q, not the banner alone (0.88 writes it before the rules)", out)
	}
	out := sendPieces(t, s.addr("127.0.0.1"), "", 0, header("127.0.0.2:1000"), []byte("data\n"))
	if !strings.HasPrefix(out, "banner\r\n") || !strings.HasSuffix(out, "\ndata\n") {
		t.Errorf("banner, then the program: %q", out)
	}
	hasVars(t, "127.0.0.2", out, "WHO=two", "TCPREMOTEIP=127.0.0.2")
	// A balancer's own default rule (":allow") grants nothing: a direct
	// connection from an untrusted peer is dropped before the banner.
	if out := sendPieces(t, s.addr("127.0.0.1"), "127.0.0.2", 0, header("127.0.0.2:1000")); out != "" {
		t.Errorf("untrusted peer got %q", out)
	}
	s.waitEnds(3)
	log := s.log.String()
	for _, want := range []string{
		"tcpserver: pid 0 from 127.0.0.3\ntcpserver: deny 0 0:127.0.0.1:25 :127.0.0.3::1000\ntcpserver: end 0 status 25600\n",
		"tcpserver: pid 0 from 127.0.0.2\ntcpserver: warning: dropping connection, 127.0.0.2 is not a trusted proxy\ntcpserver: end 0 status 28416\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log has no %q:\n%s", want, log)
		}
	}
}

// TestProxyHeaderRefused: each way a header can fail drops its connection
// alone, inside the usual lines, before the program or the banner.
func TestProxyHeaderRefused(t *testing.T) {
	dir := t.TempDir()
	print := script(t, dir, "print", printEnv)
	s := startServer(t, reftest.Ours(t, "tcpserver"), nil,
		"-v", "-RHl0", "-B", "banner\r\n", "--proxy-from", "127.0.0.1", "--proxy-timeout", "2", "127.0.0.1", "0", print)
	inet4 := []byte{10, 1, 2, 3, 192, 0, 2, 1, 0x15, 0xb3, 0, 25}
	cases := []struct {
		reason string
		stream []byte
	}{
		{"no signature", []byte("EHLO example.com\r\n")},
		{"no signature", []byte("\r\n\r\nGET / HTTP/1.0\r\n")},
		{"line too long", []byte("PROXY UNKNOWN " + strings.Repeat("x", 94) + "\r\n")}, // 108 bytes with CRLF
		{"bad address", []byte("PROXY TCP4 10.1.2.300 192.0.2.1 5555 25\r\n")},
		{"bad port", []byte("PROXY TCP4 10.1.2.3 192.0.2.1 5555 025\r\n")},
		{"bad version", v2(0x11, 0x11, inet4)},
		{"bad command", v2(0x2f, 0x11, inet4)},
		{"bad family", []byte("PROXY SCTP4 10.1.2.3 192.0.2.1 5555 25\r\n")},
		{"bad family", v2(0x21, 0x51, inet4)},
		{"bad length", v2(0x21, 0x21, inet4)},
		{"bad TLV", v2(0x21, 0x11, append(append([]byte{}, inet4...), 1, 0))},
		{"CRC32C mismatch", v2(0x21, 0x11, inet4, 0x03, []byte{0, 0, 0, 0})},
	}
	for _, c := range cases {
		if out := sendPieces(t, s.addr("127.0.0.1"), "", 0, append(c.stream, "data\r\n"...)); out != "" {
			t.Errorf("%s: the connection got %q", c.reason, out)
		}
	}
	// A header cut short, then the connection closed.
	sendPieces(t, s.addr("127.0.0.1"), "", 0, []byte("PROXY TCP4 10.1.2.3 192.0"))
	sendPieces(t, s.addr("127.0.0.1"), "", 0, v2(0x21, 0x11, inet4)[:20])
	s.waitEnds(len(cases) + 2)
	log := s.log.String()
	for _, c := range cases {
		want := "tcpserver: pid 0 from 127.0.0.1\ntcpserver: warning: dropping connection, bad PROXY header from 127.0.0.1: " +
			c.reason + "\ntcpserver: end 0 status 28416\n"
		if !strings.Contains(log, want) {
			t.Errorf("log has no %q:\n%s", want, log)
		}
	}
	closed := "warning: dropping connection, PROXY header from 127.0.0.1: connection closed\n"
	if n := strings.Count(log, closed); n != 2 {
		t.Errorf("%d times %q in\n%s", n, closed, log)
	}
	if strings.Contains(log, " ok ") {
		t.Errorf("a program ran:\n%s", log)
	}
}

// TestProxyHeaderInPieces: a header arriving a byte at a time is read to its
// last byte and no further; one too slow for --proxy-timeout is dropped.
func TestProxyHeaderInPieces(t *testing.T) {
	dir := t.TempDir()
	print := script(t, dir, "print", printEnv)
	s := startServer(t, reftest.Ours(t, "tcpserver"), nil,
		"-v", "-RHl0", "--proxy-from", "127.0.0.1", "--proxy-timeout", "2", "127.0.0.1", "0", print)
	for _, h := range [][]byte{
		AppendProxy(nil, 1, netip.MustParseAddrPort("[2001:db8::7]:4444"), netip.MustParseAddrPort("[2001:db8::1]:25")),
		v2(0x21, 0x11, []byte{127, 0, 0, 9, 198, 51, 100, 1, 0x11, 0x5c, 0, 25}, 0x02, []byte("mail.example"), 0x03, nil),
	} {
		pieces := append(bytewise(h), []byte("PROXY in the client's bytes\r\n"))
		out := sendPieces(t, s.addr("127.0.0.1"), "", 10*time.Millisecond, pieces...)
		if !strings.HasSuffix(out, "\nPROXY in the client's bytes\r\n") || !strings.Contains(out, "\nTCPREMOTEPORT=4444\n") {
			t.Errorf("header %q a byte at a time: %q", h, out)
		}
	}
	// One byte a second: --proxy-timeout 2 bounds the whole header.
	start := time.Now()
	sendPieces(t, s.addr("127.0.0.1"), "", time.Second, bytewise([]byte("PROXY UNKNOWN\r\n"))...)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the slow header took %v", d)
	}
	log := s.waitLog("the timeout", func(l string) bool { return strings.Contains(l, "end 0 status 28416") })
	if !strings.Contains(log, "tcpserver: pid 0 from 127.0.0.1\ntcpserver: warning: dropping connection, PROXY header from 127.0.0.1: timed out\n") {
		t.Errorf("no timeout in the log:\n%s", log)
	}
	// An untrusted peer is dropped at once, without waiting for a byte.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	c, err := d.Dial("tcp", s.addr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(time.Second)) // half --proxy-timeout
	if n, err := c.Read(make([]byte, 1)); err != io.EOF && !isReset(err) {
		t.Errorf("untrusted peer, sending nothing: read %d, %v", n, err)
	}
}

// TestProxyHeaderJustLate: headers arriving around the moment the server
// finds none yet and starts to wait, hundreds of times; none may be missed
// (a missed one would wait for --proxy-timeout).
func TestProxyHeaderJustLate(t *testing.T) {
	s := startServer(t, reftest.Ours(t, "tcpserver"), nil,
		"-RHl0", "-c", "100", "--proxy-from", "127.0.0.1", "--proxy-timeout", "5", "127.0.0.1", "0", "/bin/echo", "ok")
	header := AppendProxy(nil, 2, netip.MustParseAddrPort("192.0.2.7:1"), netip.MustParseAddrPort("192.0.2.1:25"))
	var wg sync.WaitGroup
	var slow atomic.Int64
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				start := time.Now()
				c, err := net.Dial("tcp", s.addr("127.0.0.1"))
				if err != nil {
					t.Error(err)
					return
				}
				// From no wait at all to a few hundred microseconds.
				if d := (w*60 + i) % 40 * 10; d > 0 {
					time.Sleep(time.Duration(d) * time.Microsecond)
				}
				c.Write(header)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				out, _ := io.ReadAll(c)
				c.Close()
				if string(out) != "ok\n" || time.Since(start) > 2*time.Second {
					slow.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := slow.Load(); n > 0 {
		t.Errorf("%d of 480 connections were not served at once:\n%s", n, s.log)
	}
}
