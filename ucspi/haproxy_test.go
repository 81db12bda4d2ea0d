package ucspi

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/cdbrules"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

// tcpserver --proxy-from behind Debian's HAProxy (apt-get install haproxy;
// .ci/run installs it), which writes the headers the tests check.

// freePort is a port on ip that nothing uses at the moment, for servers
// that must be told theirs (HAProxy, systemd-socket-activate). It is taken
// below the ephemeral range, where the kernel's port 0 picks: on a busy
// machine a port just handed out there may be another socket's local port
// again by the time the server binds it.
func freePort(t testing.TB, ip string) string {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
		})
	}}
	for range 1000 {
		port := strconv.Itoa(20000 + rand.IntN(12000))
		ln, err := lc.Listen(context.Background(), "tcp4", net.JoinHostPort(ip, port))
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatalf("no free port on %s", ip)
	return ""
}

// haproxy runs `haproxy -db -f cfg` until the test ends and returns once
// each of the addresses it binds accepts connections.
func haproxy(t testing.TB, cfg string, binds ...string) *server {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		bin = "/usr/sbin/haproxy"
		if _, err := os.Stat(bin); err != nil {
			t.Skip("no haproxy (apt-get install haproxy)")
		}
	}
	file := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", file)
	h := &server{t: t, cmd: cmd, log: &logBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = h.log, h.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		h.state = cmd.ProcessState
		close(h.exited)
	}()
	t.Cleanup(h.kill)
	for _, addr := range binds {
		for i := 0; ; i++ {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-h.exited:
				t.Fatalf("haproxy exited: %s", h.log)
			case <-time.After(10 * time.Millisecond):
			}
			if i > 1000 {
				t.Fatalf("haproxy does not listen on %s: %s", addr, h.log)
			}
		}
	}
	return h
}

const haproxyDefaults = `global
    maxconn 500
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
`

func TestHAProxy(t *testing.T) {
	dir := t.TempDir()
	print := script(t, dir, "print", printEnv)
	cdb := filepath.Join(dir, "rules.cdb")
	rules := func(text string) {
		if err := cdbrules.Compile(strings.NewReader(text), cdb, cdb+".tmp"); err != nil {
			t.Fatal(err)
		}
	}
	rules("127.0.0.3:allow,CLIENT=\"three\"\n:allow\n")
	// Two members on the dual-stack wildcard (::): HAProxy's 127.0.0.1 arrives
	// IPv4-mapped and matches --proxy-from as IPv4.
	var members []*server
	for range 2 {
		members = append(members, startServer(t, reftest.Ours(t, "tcpserver"), nil,
			"-v", "-RHl0", "-x", cdb, "--proxy-from", "127.0.0.1", "::", "0", print))
	}
	ports := map[string]string{"v1": freePort(t, "127.0.0.1"), "v2": freePort(t, "127.0.0.1"), "tlv": freePort(t, "127.0.0.1")}
	cfg := haproxyDefaults
	for name, options := range map[string]string{"v1": "send-proxy", "v2": "send-proxy-v2",
		"tlv": "send-proxy-v2 proxy-v2-options crc32c,unique-id,authority"} {
		cfg += fmt.Sprintf("frontend fe_%s\n    bind 127.0.0.1:%s\n    unique-id-format %%{+X}o\\ %%ci:%%cp_%%Ts\n    default_backend be_%s\n", name, ports[name], name)
		cfg += fmt.Sprintf("backend be_%s\n    balance roundrobin\n", name)
		for i, m := range members {
			cfg += fmt.Sprintf("    server m%d 127.0.0.1:%s %s\n", i, m.port, options)
		}
	}
	haproxy(t, cfg, "127.0.0.1:"+ports["v1"], "127.0.0.1:"+ports["v2"], "127.0.0.1:"+ports["tlv"])

	ends := 0
	for _, name := range []string{"v1", "v2", "tlv"} {
		for range 2 { // round robin: one on each member
			out := sendPieces(t, "127.0.0.1:"+ports[name], "127.0.0.3", 0, []byte("HELO first bytes\r\n"))
			if !strings.HasSuffix(out, "\nHELO first bytes\r\n") {
				t.Errorf("%s: the client's first bytes did not arrive intact: %q", name, out)
			}
			hasVars(t, name, out, "PROTO=TCP", "TCPREMOTEIP=127.0.0.3", "TCP6REMOTEIP=::ffff:127.0.0.3", "CLIENT=three",
				"PROXYREMOTEIP=127.0.0.1", "PROXYVERSION="+map[string]string{"v1": "1", "v2": "2", "tlv": "2"}[name],
				"PROXYCOMMAND=PROXY", "TCPLOCALIP=127.0.0.1", "TCPLOCALPORT="+ports[name])
			ends++
		}
	}
	for _, m := range members {
		m.waitEnds(ends / 2)
		if n := strings.Count(m.log.String(), " from 127.0.0.3\n"); n != ends/2 {
			t.Errorf("a member served %d of the client's connections, not %d:\n%s", n, ends/2, m.log)
		}
	}

	// The rules are the client's.
	rules("127.0.0.3:deny\n:allow\n")
	for _, name := range []string{"v1", "v2", "tlv"} {
		if out := sendPieces(t, "127.0.0.1:"+ports[name], "127.0.0.3", 0, []byte("HELO\r\n")); out != "" {
			t.Errorf("%s: a denied client got %q", name, out)
		}
	}
	// A valid header straight from a peer that is not the balancer is dropped.
	header := AppendProxy(nil, 2, netip.MustParseAddrPort("127.0.0.3:1234"), netip.MustParseAddrPort("127.0.0.1:25"))
	if out := sendPieces(t, members[0].addr("127.0.0.1"), "127.0.0.2", 0, append(header, "HELO\r\n"...)); out != "" {
		t.Errorf("a header from 127.0.0.2 got %q", out)
	}
	log := members[0].waitLog("the drop", func(l string) bool { return strings.Contains(l, "not a trusted proxy") })
	if !strings.Contains(log, "tcpserver: pid 0 from 127.0.0.2\ntcpserver: warning: dropping connection, 127.0.0.2 is not a trusted proxy\n") {
		t.Errorf("member's log:\n%s", log)
	}
	for _, m := range members {
		m.waitEnds(strings.Count(m.log.String(), "status: ") / 2)
	}
	if n := strings.Count(members[0].log.String()+members[1].log.String(), "tcpserver: pid 0 from 127.0.0.3\ntcpserver: deny 0 0:127.0.0.1:"); n != 3 {
		t.Errorf("%d deny lines for 127.0.0.3, not 3:\n%s\n%s", n, members[0].log, members[1].log)
	}
}

// TestProxySendThroughHAProxy: tcpclient --proxy-send 2 tells an
// accept-proxy frontend the client of the tcpserver it runs under, and
// HAProxy passes it on to our tcpserver.
func TestProxySendThroughHAProxy(t *testing.T) {
	dir := t.TempDir()
	envOnly := script(t, dir, "envonly", "/usr/bin/env | /usr/bin/sort\n")
	member := startServer(t, reftest.Ours(t, "tcpserver"), nil, "-RHl0", "--proxy-from", "127.0.0.1", "127.0.0.1", "0", envOnly)
	front := freePort(t, "127.0.0.1")
	haproxy(t, haproxyDefaults+fmt.Sprintf("frontend fe\n    bind 127.0.0.1:%s accept-proxy\n    default_backend be\n"+
		"backend be\n    server m 127.0.0.1:%s send-proxy\n", front, member.port), "127.0.0.1:"+front)
	for _, c := range []struct {
		version string
		env     []string
		want    []string
	}{
		{"2", []string{"TCPREMOTEIP=192.0.2.7", "TCPREMOTEPORT=4444", "TCPLOCALIP=198.51.100.1", "TCPLOCALPORT=25"},
			[]string{"TCPREMOTEIP=192.0.2.7", "TCPREMOTEPORT=4444", "TCPLOCALIP=198.51.100.1", "TCPLOCALPORT=25"}},
		{"1", []string{"TCPREMOTEIP=2001:db8::7", "TCPREMOTEPORT=4444", "TCPLOCALIP=2001:db8::1", "TCPLOCALPORT=25"},
			[]string{"TCPREMOTEIP=2001:db8::7", "PROTO=TCP6", "TCPLOCALIP=2001:db8::1"}},
		// No client to tell of: HAProxy takes the connection's own addresses.
		{"2", nil, []string{"TCPREMOTEIP=127.0.0.1", "TCPLOCALPORT=" + front}},
		{"1", []string{"TCPREMOTEIP=192.0.2.7", "TCPREMOTEPORT=4444", "TCPLOCALIP=198.51.100.1"},
			[]string{"TCPREMOTEIP=127.0.0.1", "TCPLOCALPORT=" + front}},
	} {
		r := reftest.Run(t, reftest.Ours(t, "tcpclient"), reftest.Cmd{
			Args: []string{"-RHl0", "--proxy-send", c.version, "127.0.0.1", front, "/bin/sh", "-c", "exec /usr/bin/cat <&6"},
			Env:  append(pathEnv(), c.env...)})
		if r.Code != 0 {
			t.Errorf("--proxy-send %s with %q: exit %d, %s", c.version, c.env, r.Code, r.Stderr)
		}
		hasVars(t, "--proxy-send "+c.version, string(r.Stdout), c.want...)
	}
}
