package dns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/ucspi-go/ucspi/internal/fakedns"
)

// quick is a resolver asking servers at addrs (for $DNSCACHEIP) with djb's
// schedule scaled down: 3, 11, 45 s become 30, 110, 450 ms.
func quick(t *testing.T, servers ...string) *Resolver {
	t.Helper()
	t.Setenv("DNSCACHEIP", strings.Join(servers, "."))
	r := New()
	r.schedule = [3]time.Duration{30 * time.Millisecond, 110 * time.Millisecond, 450 * time.Millisecond}
	r.tcpWait = 300 * time.Millisecond
	return r
}

func sorted(addrs []netip.Addr) string {
	slices.SortFunc(addrs, netip.Addr.Compare)
	var s []string
	for _, a := range addrs {
		s = append(s, a.String())
	}
	return strings.Join(s, " ")
}

func TestAnswersReadAsDjb(t *testing.T) {
	srv := fakedns.Start(t,
		"1.0.0.127.in-addr.arpa. PTR MiXeD.Case.Example.COM.",
		`2.0.0.127.in-addr.arpa. PTR a\.b\000\255.Odd.test.`,
		"3.0.0.127.in-addr.arpa. CNAME 3.0/25.0.0.127.in-addr.arpa.",
		"3.0/25.0.0.127.in-addr.arpa. PTR classless.test.",
		"www.test. CNAME one.test.", "one.test. CNAME two.test.",
		"two.test. A 127.0.0.7", "two.test. A 127.0.0.8",
		"dangling.test. CNAME nowhere.test.",
		"six.test. AAAA ::1", "six.test. A 127.0.0.9",
		`4.3.2.1.rbl.test. TXT "one " "two"`, `4.3.2.1.rbl.test. TXT "three\009"`,
		`big.test. TXT "`+strings.Repeat("x", 250)+`" "`+strings.Repeat("y", 250)+`"`,
		`big.test. TXT "`+strings.Repeat("z", 250)+`"`,
	)
	srv.Answer(t, "foreign.test.", "A", "elsewhere.test. A 127.0.0.3", "foreign.test. TXT \"x\"", "other.test. A 127.0.0.4")
	r := quick(t, srv.IP)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		got  func() (string, error)
		want string
	}{
		{"mixed case", func() (string, error) { return r.Name(ctx, netip.MustParseAddr("127.0.0.1")) }, "mixed.case.example.com"},
		{"odd bytes", func() (string, error) { return r.Name(ctx, netip.MustParseAddr("127.0.0.2")) }, `a\056b\000\377.odd.test`},
		{"classless", func() (string, error) { return r.Name(ctx, netip.MustParseAddr("::ffff:127.0.0.3")) }, "classless.test"},
		{"no PTR", func() (string, error) { return r.Name(ctx, netip.MustParseAddr("127.0.0.4")) }, ""},
		{"CNAME chain", addrs(r.IP4(ctx, "WWW.test")), "127.0.0.7 127.0.0.8"},
		{"CNAME alone", addrs(r.IP4(ctx, "dangling.test")), ""},
		{"foreign owners", addrs(r.IP4(ctx, "foreign.test")), "127.0.0.3 127.0.0.4"},
		{"AAAA", addrs(r.IP6(ctx, "six.test")), "::1"},
		{"NXDOMAIN", addrs(r.IP4(ctx, "nx.test")), ""},
		{"literal", addrs(r.IP4(ctx, "[127.000.0.1]")), "127.0.0.1"},
		{"TXT joined", func() (string, error) { return r.TXT(ctx, "4.3.2.1.rbl.test.") }, "one twothree?"},
		{"TXT over TCP", func() (string, error) { return r.TXT(ctx, "big.test") }, strings.Repeat("x", 250) + strings.Repeat("y", 250) + strings.Repeat("z", 250)},
	} {
		got, err := tc.got()
		if err != nil || got != tc.want {
			t.Errorf("%s: %q %v, want %q", tc.name, got, err, tc.want)
		}
	}
	// The long answer came truncated over UDP, then whole over TCP.
	if q := srv.Queries(); !slices.Contains(q, "TXT big.test.") || !slices.Contains(q, "TXT big.test. tcp") {
		t.Errorf("queries: %q", q)
	}
	// The PTR name goes back into the DNS as it came out.
	srv2 := fakedns.Start(t)
	r2 := quick(t, srv2.IP)
	r2.IP4(ctx, `a\056b\000\377.odd.test`)
	if q := srv2.Log(); len(q) != 1 || q[0].Name != `a\.b\000\255.odd.test.` {
		t.Errorf("question: %q", q)
	}
}

func addrs(a []netip.Addr, err error) func() (string, error) {
	return func() (string, error) { return sorted(a), err }
}

func TestTruncatedAnswerRetriedOverTCP(t *testing.T) {
	srv := fakedns.Start(t, "www.test. A 127.0.0.5")
	srv.Truncate("www.test.")
	good := fakedns.Start(t, "www.test. A 127.0.0.6")
	// djb asks every server over TCP from the first one.
	r := quick(t, srv.IP, good.IP)
	got, err := r.IP4(context.Background(), "www.test")
	if err != nil || sorted(got) != "127.0.0.5" {
		t.Errorf("got %v %v", got, err)
	}
	if q := srv.Queries(); !slices.Equal(q, []string{"A www.test.", "A www.test. tcp"}) {
		t.Errorf("queries: %q", q)
	}
	if q := good.Queries(); len(q) != 0 {
		t.Errorf("second server asked: %q", q)
	}
	// No server taking TCP: the lookup fails with connect's error.
	raw := fakedns.Raw(t, func(q []byte) [][]byte {
		q[2] |= 0x80 | 2 // a response, truncated
		return [][]byte{q}
	})
	r = quick(t, raw)
	if _, err := r.IP4(context.Background(), "www.test"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("TCP refused: %v", err)
	}
}

// TestFailures: what each kind of failure costs and which error it ends with,
// following dns_transmit.c: three rounds over the servers; a refused port or a
// SERVFAIL goes on to the next server at once, except in the second round.
func TestFailures(t *testing.T) {
	srv := fakedns.Start(t, "ok.test. A 127.0.0.1")
	srv.ServFail("broken.test.")
	absent, mute := fakedns.Absent(t), fakedns.Mute(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		servers []string
		host    string
		want    error
		min     time.Duration // the second round's wait
		asked   int           // questions srv saw
	}{
		{"refused", []string{absent}, "ok.test", syscall.ECONNREFUSED, 110 * time.Millisecond, 0},
		{"silent", []string{mute}, "ok.test", syscall.ETIMEDOUT, 590 * time.Millisecond, 0},
		{"SERVFAIL", []string{srv.IP}, "broken.test", syscall.EAGAIN, 110 * time.Millisecond, 3},
		{"refused then good", []string{absent, srv.IP}, "ok.test", nil, 0, 1},
		{"silent then good", []string{mute, srv.IP}, "ok.test", nil, 30 * time.Millisecond, 1},
		{"no server", []string{"0.0.0.0"}, "ok.test", syscall.EIO, 0, 0},
		{"bad name", []string{srv.IP}, strings.Repeat("x", 64), syscall.EPROTO, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(srv.Queries())
			r := quick(t, tc.servers...)
			start := time.Now()
			_, err := r.IP4(ctx, tc.host)
			took := time.Since(start)
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if took < tc.min || took > tc.min+2*time.Second {
				t.Errorf("took %v, want at least %v", took, tc.min)
			}
			if asked := len(srv.Queries()) - before; asked != tc.asked {
				t.Errorf("%d questions, want %d", asked, tc.asked)
			}
		})
	}
}

// TestIrrelevantAnswersIgnored: a datagram with another id, for another
// question, or of 513 bytes or more is not the answer; djb waits on for it.
func TestIrrelevantAnswersIgnored(t *testing.T) {
	answer := func(q []byte, edit func(m *mdns.Msg)) []byte {
		m := new(mdns.Msg)
		m.Unpack(q)
		m.Response = true
		rr, _ := mdns.NewRR(m.Question[0].Name + " A 127.0.0.8")
		m.Answer = []mdns.RR{rr}
		edit(m)
		b, _ := m.Pack()
		return b
	}
	srv := fakedns.Raw(t, func(q []byte) [][]byte {
		long := answer(q, func(m *mdns.Msg) {
			rr, _ := mdns.NewRR(m.Question[0].Name + ` TXT "` + strings.Repeat("x", 255) + `" "` + strings.Repeat("x", 255) + `"`)
			m.Answer = append(m.Answer, rr)
		})
		return [][]byte{
			answer(q, func(m *mdns.Msg) { m.Id++ }),
			answer(q, func(m *mdns.Msg) { m.Question[0].Name = "other.test." }),
			answer(q, func(m *mdns.Msg) { m.Question[0].Qtype = mdns.TypeAAAA }),
			answer(q, func(m *mdns.Msg) { m.Question = append(m.Question, m.Question[0]) }),
			long,
			answer(q, func(m *mdns.Msg) { m.Question[0].Name = "WwW.TeSt." }),
		}
	})
	r := quick(t, srv)
	got, err := r.IP4(context.Background(), "www.test")
	if err != nil || sorted(got) != "127.0.0.8" {
		t.Errorf("got %v %v", got, err)
	}
}

// TestRandomIDsAndPorts: every attempt has its own id and its own port, from
// 1025 up.
func TestRandomIDsAndPorts(t *testing.T) {
	srv := fakedns.Start(t)
	srv.ServFail("broken.test.")
	r := quick(t, srv.IP)
	for range 4 {
		r.IP4(context.Background(), "broken.test")
	}
	log := srv.Log()
	ids, ports := map[uint16]bool{}, map[uint16]bool{}
	for _, q := range log {
		ids[q.ID] = true
		ports[q.From.Port()] = true
		if q.From.Port() < 1025 {
			t.Errorf("port %d", q.From.Port())
		}
	}
	if len(log) != 12 || len(ids) < 10 || len(ports) < 10 {
		t.Errorf("%d questions, %d ids, %d ports", len(log), len(ids), len(ports))
	}
}

func TestCancelled(t *testing.T) {
	r := quick(t, fakedns.Mute(t))
	r.schedule = schedule // the real one: 59 s
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	if _, err := r.TXT(ctx, "x.test"); !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Errorf("cancelled: %v after %v", err, time.Since(start))
	}
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := r.TXT(ctx, "x.test"); !errors.Is(err, syscall.ETIMEDOUT) || time.Since(start) > 5*time.Second {
		t.Errorf("deadline: %v", err)
	}
}

// BenchmarkReverseAndForward: tcpserver -h -p's two questions for one
// connection, against a server on loopback; Go's resolver (what ucspi used
// before) side by side.
func BenchmarkReverseAndForward(b *testing.B) {
	srv := fakedns.Start(b, "2.0.0.127.in-addr.arpa. PTR client.bench.", "client.bench. A 127.0.0.2")
	b.Setenv("DNSCACHEIP", srv.IP)
	ip := netip.MustParseAddr("127.0.0.2")
	ctx := context.Background()
	b.Run("djb", func(b *testing.B) {
		r := New()
		b.ReportAllocs()
		for b.Loop() {
			name, err := r.Name(ctx, ip)
			if err != nil || name != "client.bench" {
				b.Fatal(name, err)
			}
			if addrs, err := r.IP4(ctx, name); err != nil || len(addrs) != 1 {
				b.Fatal(addrs, err)
			}
		}
	})
	b.Run("go", func(b *testing.B) {
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, srv.IP+":53")
		}}
		b.ReportAllocs()
		for b.Loop() {
			names, err := r.LookupAddr(ctx, ip.String())
			if err != nil || len(names) == 0 {
				b.Fatal(names, err)
			}
			if addrs, err := r.LookupNetIP(ctx, "ip4", names[0]); err != nil || len(addrs) != 1 {
				b.Fatal(addrs, err)
			}
		}
	})
}
