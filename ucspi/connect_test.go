package ucspi

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ucspi-go/ucspi/internal/fakedns"
	"github.com/ucspi-go/ucspi/internal/fakeserver"
	"github.com/ucspi-go/ucspi/ucspi/dns"
	"github.com/ucspi-go/ucspi/ucspi/exit"
)

func dialAddrList(addrs []netip.Addr) string {
	var s []string
	for _, a := range addrs {
		s = append(s, a.String())
	}
	return strings.Join(s, " ")
}

// TestAddrsLiterals covers the names that never reach the DNS: djb's
// dns_ip4 reading of digits, dots and brackets, IPv6 literals, and "0".
func TestAddrsLiterals(t *testing.T) {
	for _, tc := range []struct {
		host     string
		four     bool
		six      bool
		rules    string // /etc/dnsrewrite
		want     string // addresses, or the fatal message
		wantCode int
	}{
		{host: "0", want: "127.0.0.1"},
		{host: "", want: "127.0.0.1"},
		{host: "0", six: true, want: "::1"},
		{host: "0", six: true, four: true, want: "127.0.0.1"},
		{host: "127.000.000.001", want: "127.0.0.1"},
		{host: "[127.000.000.001]", want: "127.0.0.1"},
		{host: "127.0.0.1.", want: "127.0.0.1"},
		{host: "1.2.3.", want: "1.2.3.0"}, // with no rule to remove the dot
		{host: "1.2.3.", rules: "*.:", want: "fatal: no IP address for 1.2.3."},
		{host: "12", rules: "?:.test", want: "fatal: temporarily unable to figure out IP address for 12: input/output error"},
		{host: "300.1.2.3", want: "44.1.2.3"},
		{host: "1..2.3", want: "1.0.2.3"},
		{host: "1.2.3.4.5", want: "1.2.3.4"},
		{host: "127.0.0.1.127.0.0.2", want: "127.0.0.1 127.0.0.2"},
		{host: "1.2.3", want: "fatal: no IP address for 1.2.3"},
		{host: "00", want: "fatal: no IP address for 00"},
		{host: "[]", want: "fatal: no IP address for []"},
		{host: "::1", want: "::1"},
		{host: "[::1]", want: "::1"},
		{host: "[::ffff:127.0.0.3]", want: "127.0.0.3"},
		{host: "fe80::1%7", want: "fe80::1%7"},
		{host: "::1", four: true, want: "fatal: no IP address for ::1"},
		{host: ":::", want: "fatal: no IP address for :::"},
		{host: strings.Repeat("a", 64) + ".test", want: "fatal: temporarily unable to figure out IP address for " + strings.Repeat("a", 64) + ".test: protocol error"},
		{host: strings.Repeat("abcdefg.", 32) + "test", want: "fatal: temporarily unable to figure out IP address for " + strings.Repeat("abcdefg.", 32) + "test: protocol error"},
	} {
		c := &Client{IPv4Only: tc.four, Force6: tc.six, Resolver: noDNS(t, tc.rules)}
		addrs, err := c.Addrs(context.Background(), tc.host)
		got := dialAddrList(addrs)
		if err != nil {
			got = err.Error()
			if e := exit.As(err); e == nil || e.Code != exit.Temporary {
				t.Errorf("%q: error %v is not a temporary exit error", tc.host, err)
			}
		}
		if got != tc.want {
			t.Errorf("Addrs(%q, -4=%v -6=%v) = %q, want %q", tc.host, tc.four, tc.six, got, tc.want)
		}
	}
}

// noDNS is a resolver without a server to ask: a question fails at once with
// "input/output error", as djb's library with $DNSCACHEIP 0.0.0.0. rules are
// the lines of its /etc/dnsrewrite.
func noDNS(t *testing.T, rules string) *dns.Resolver {
	t.Helper()
	file := filepath.Join(t.TempDir(), "dnsrewrite")
	os.WriteFile(file, []byte(rules), 0o644)
	t.Setenv("DNSCACHEIP", "0.0.0.0")
	t.Setenv("DNSREWRITEFILE", file)
	return dns.New()
}

// TestAddrsNames looks names up in a fake DNS: A records only by default (as
// 0.88), AAAA and A under -6, in a shuffled order, and 0.88's messages for
// names without addresses and for failed lookups.
func TestAddrsNames(t *testing.T) {
	srv := fakedns.Start(t,
		"two.test. A 127.0.44.1", "two.test. A 127.0.44.2",
		"dual.test. A 127.0.44.3", "dual.test. AAAA ::1",
		"v6.test. AAAA ::1",
		"mx.test. MX 10 two.test.",
	)
	srv.ServFail("broken.test.")
	t.Setenv("DNSCACHEIP", srv.IP)
	t.Setenv("DNSREWRITEFILE", "/dev/null")
	ctx := context.Background()
	lookup := func(host string, six bool) string {
		// djb's library tries a failing server for 11 s (see ucspi/dns): a
		// deadline cuts it short here.
		ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		c := &Client{Force6: six}
		addrs, err := c.Addrs(ctx, host)
		if err != nil {
			return err.Error()
		}
		slices.SortFunc(addrs, netip.Addr.Compare)
		return dialAddrList(addrs)
	}
	for _, tc := range []struct {
		host string
		six  bool
		want string
	}{
		{"two.test.", false, "127.0.44.1 127.0.44.2"},
		{"dual.test.", false, "127.0.44.3"},
		{"dual.test.", true, "127.0.44.3 ::1"},
		{"v6.test.", false, "fatal: no IP address for v6.test."},
		{"v6.test.", true, "::1"},
		{"mx.test.", false, "fatal: no IP address for mx.test."},
		{"nonexistent.test.", false, "fatal: no IP address for nonexistent.test."},
		{"broken.test.", false, "fatal: temporarily unable to figure out IP address for broken.test.: timed out"},
		{"broken.test.", true, "fatal: temporarily unable to figure out IP address for broken.test.: timed out"},
	} {
		if got := lookup(tc.host, tc.six); got != tc.want {
			t.Errorf("Addrs(%q, -6=%v) = %q, want %q", tc.host, tc.six, got, tc.want)
		}
	}
	for _, q := range srv.Queries() {
		if strings.HasPrefix(q, "AAAA ") && !strings.Contains(q, "v6.test") && !strings.Contains(q, "dual.test") && !strings.Contains(q, "broken.test") {
			t.Errorf("asked %q without -6", q)
		}
	}
	// Both orders show up: djb's library shuffles a name's addresses, and so
	// do we. Forty tries all alike would happen once in 2^39 runs.
	seen := map[string]bool{}
	for range 40 {
		addrs, err := (&Client{}).Addrs(ctx, "two.test.")
		if err != nil {
			t.Fatal(err)
		}
		seen[dialAddrList(addrs)] = true
	}
	if len(seen) != 2 {
		t.Errorf("orders seen for two.test.: %v, want both", seen)
	}
}

// dialListener is a loopback listener that says hello to each connection and
// hangs up.
func dialListener(t *testing.T, addr string) (netip.AddrPort, net.Listener) {
	t.Helper()
	ln := fakeserver.Serve(t, addr, func(c net.Conn) { c.Write([]byte("hello\n")) })
	return netip.MustParseAddrPort(ln.Addr().String()), ln
}

// dialClosedPort is a port on ip with nothing listening.
func dialClosedPort(t *testing.T, ip string) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Skip(err)
	}
	p := netip.MustParseAddrPort(ln.Addr().String()).Port()
	ln.Close()
	return p
}

func TestConnectOrderAndTimeouts(t *testing.T) {
	open, _ := dialListener(t, "127.0.44.1:0")
	full := fakeserver.BacklogFull(t, "127.0.44.6")
	a := netip.MustParseAddr
	for _, tc := range []struct {
		name    string
		addrs   []netip.Addr
		port    uint16
		timeout [2]uint64
		warn    string
		ok      bool
		minTime time.Duration
	}{
		{"refused", []netip.Addr{a("127.0.44.1")}, dialClosedPort(t, "127.0.44.1"), [2]uint64{2, 58},
			"tcpclient: unable to connect to 127.0.44.1 port PORT: connection refused\n", false, 0},
		{"one address gets x+y", []netip.Addr{a("127.0.44.6")}, full, [2]uint64{1, 1},
			"tcpclient: unable to connect to 127.0.44.6 port PORT: timed out\n", false, 2 * time.Second},
		{"a slow address waits for the second round", []netip.Addr{a("127.0.44.6"), a("127.0.44.7")}, full, [2]uint64{1, 1},
			"tcpclient: unable to connect to 127.0.44.7 port PORT: connection refused\n" +
				"tcpclient: unable to connect to 127.0.44.6 port PORT: timed out\n", false, 2 * time.Second},
		{"y of 0 leaves no second round", []netip.Addr{a("127.0.44.6"), a("127.0.44.7")}, full, [2]uint64{1, 0},
			"tcpclient: unable to connect to 127.0.44.6 port PORT: timed out\n" +
				"tcpclient: unable to connect to 127.0.44.7 port PORT: connection refused\n", false, time.Second},
		{"the next address answers", []netip.Addr{a("127.0.44.7"), a("127.0.44.1")}, open.Port(), [2]uint64{2, 58},
			"tcpclient: unable to connect to 127.0.44.7 port PORT: connection refused\n", true, 0},
		{"x of 0 times out at once", []netip.Addr{a("127.0.44.6")}, full, [2]uint64{0, 0},
			"tcpclient: unable to connect to 127.0.44.6 port PORT: timed out\n", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var warn bytes.Buffer
			c := &Client{Timeout: tc.timeout, Warn: &warn}
			start := time.Now()
			conn, err := c.Connect(tc.addrs, tc.port)
			took := time.Since(start)
			if want := strings.ReplaceAll(tc.warn, "PORT", dialItoa(tc.port)); warn.String() != want {
				t.Errorf("warnings %q, want %q", warn.String(), want)
			}
			if tc.ok {
				if err != nil {
					t.Fatalf("Connect: %v", err)
				}
				defer unix.Close(conn.FD)
				if conn.Remote != netip.AddrPortFrom(a("127.0.44.1"), tc.port) {
					t.Errorf("remote %v", conn.Remote)
				}
				return
			}
			if e := exit.As(err); e == nil || e.Kind != exit.Silent || e.Code != 111 {
				t.Errorf("Connect error %v, want a silent 111", err)
			}
			if took < tc.minTime {
				t.Errorf("gave up after %v, before the %v timeout", took, tc.minTime)
			}
		})
	}
}

func dialItoa(p uint16) string { return strconv.Itoa(int(p)) }

// TestConnectBinding checks -i and -p, and that failing to bind is fatal.
func TestConnectBinding(t *testing.T) {
	open, _ := dialListener(t, "127.0.44.1:0")
	local := dialClosedPort(t, "127.0.44.2")
	c := &Client{Local: netip.MustParseAddr("127.0.44.2"), LocalPort: local, Timeout: [2]uint64{2, 58}}
	conn, err := c.Connect([]netip.Addr{open.Addr()}, open.Port())
	if err != nil {
		t.Fatal(err)
	}
	if want := netip.AddrPortFrom(netip.MustParseAddr("127.0.44.2"), local); conn.Local != want {
		t.Errorf("local end %v, want %v", conn.Local, want)
	}
	if conn.Remote != open {
		t.Errorf("remote end %v, want %v", conn.Remote, open)
	}
	flags, _ := unix.FcntlInt(uintptr(conn.FD), unix.F_GETFD, 0)
	if flags&unix.FD_CLOEXEC == 0 {
		t.Error("the socket is not close-on-exec")
	}
	if err := Blocking(conn.FD); err != nil {
		t.Fatal(err)
	}
	fl, _ := unix.FcntlInt(uintptr(conn.FD), unix.F_GETFL, 0)
	if fl&unix.O_NONBLOCK != 0 {
		t.Error("Blocking left O_NONBLOCK set")
	}
	buf := make([]byte, 16)
	n, _ := unix.Read(conn.FD, buf)
	if string(buf[:n]) != "hello\n" {
		t.Errorf("read %q", buf[:n])
	}
	unix.Close(conn.FD)

	c.Local = netip.MustParseAddr("192.0.2.1")
	_, err = c.Connect([]netip.Addr{open.Addr()}, open.Port())
	if err == nil || err.Error() != "fatal: unable to bind socket: address not available" {
		t.Errorf("binding a foreign address: %v", err)
	}
}

// TestConnectIPv6 reaches ::1, and an IPv4 address from an IPv6 local one
// through a mapped address, as ucspi-tcp-ipv6's dual-stack sockets did.
func TestConnectIPv6(t *testing.T) {
	open, _ := dialListener(t, "[::1]:0")
	c := &Client{Timeout: [2]uint64{2, 58}}
	conn, err := c.Connect([]netip.Addr{netip.IPv6Loopback()}, open.Port())
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(conn.FD)
	if conn.Local.Addr() != netip.IPv6Loopback() || conn.Remote != open {
		t.Errorf("ends %v %v", conn.Local, conn.Remote)
	}
	var warn bytes.Buffer
	c.Warn = &warn
	port := dialClosedPort(t, "::1")
	if _, err := c.Connect([]netip.Addr{netip.IPv6Loopback()}, port); err == nil {
		t.Fatal("connected to a closed port")
	}
	if want := "tcpclient: unable to connect to ::1 port " + dialItoa(port) + ": connection refused\n"; warn.String() != want {
		t.Errorf("warning %q, want %q", warn.String(), want)
	}
}

func TestEnvironment(t *testing.T) {
	srv := fakedns.Start(t,
		"1.44.0.127.in-addr.arpa. PTR server.test.",
		"2.44.0.127.in-addr.arpa. PTR client.test.",
	)
	srv.ServFail("4.44.0.127.in-addr.arpa.")
	t.Setenv("DNSCACHEIP", srv.IP)
	r := dns.New()
	conn := &Socket{
		Local:  netip.MustParseAddrPort("127.0.44.2:5000"),
		Remote: netip.MustParseAddrPort("127.0.44.1:25"),
	}
	ctx := context.Background()
	c := &Client{Resolver: r, RemoteHost: true}
	want := []string{"PROTO=TCP", "TCPLOCALIP=127.0.44.2", "TCPLOCALPORT=5000", "TCPLOCALHOST=client.test",
		"TCPREMOTEIP=127.0.44.1", "TCPREMOTEPORT=25", "TCPREMOTEHOST=server.test"}
	if got := c.Environment(ctx, conn); !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	c = &Client{Resolver: r, LocalName: Known("Local"), Force6: true}
	want = []string{"PROTO=TCP6", "TCPLOCALIP=::ffff:127.0.44.2", "TCPLOCALPORT=5000", "TCPLOCALHOST=Local",
		"TCPREMOTEIP=::ffff:127.0.44.1", "TCPREMOTEPORT=25"}
	if got := c.Environment(ctx, conn); !slices.Equal(got, want) {
		t.Errorf("-6: got  %q\nwant %q", got, want)
	}
	// No PTR record: set but empty. A failed lookup (SERVFAIL, which djb's
	// library tries for 11 s, here cut short): unset.
	conn.Local = netip.MustParseAddrPort("127.0.44.3:5000")
	conn.Remote = netip.MustParseAddrPort("127.0.44.4:25")
	c = &Client{Resolver: r, RemoteHost: true}
	want = []string{"PROTO=TCP", "TCPLOCALIP=127.0.44.3", "TCPLOCALPORT=5000", "TCPLOCALHOST=",
		"TCPREMOTEIP=127.0.44.4", "TCPREMOTEPORT=25"}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if got := c.Environment(ctx, conn); !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
