package rblsmtpd

import (
	"context"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/fakedns"
	"github.com/ucspi-go/ucspi/ucspi/dns"
)

// zone lists 1.2.3.4 (and 2001:db8::1) in every way a list can answer, one base
// per way: the base names say what the fake server does for the client there.
var zone = []string{
	`4.3.2.1.txt.test. TXT "listed: see http://txt.test/?1.2.3.4"`,
	`4.3.2.1.multi.test. TXT "one" "two"`,
	`4.3.2.1.multi.test. TXT "three"`,
	`4.3.2.1.empty.test. TXT ""`,
	`4.3.2.1.a.test. A 127.0.0.2`,
	`4.3.2.1.a.test. TXT "the A form must not read this"`,
	`4.3.2.1.white.test. A 127.0.0.5`,
	`4.3.2.1.refused.test. A 127.255.255.254`,
	`4.3.2.1.hijack.test. A 198.51.100.7`,
	`4.3.2.1.mixed.test. A 127.255.255.254`,
	`4.3.2.1.mixed.test. A 127.0.0.4`,
	`4.3.2.1.nodata.test. A 127.0.0.2`,
	`1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.txt.test. TXT "six"`,
	`1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.a.test. A 127.0.0.3`,
}

func startLists(t *testing.T) (*fakedns.Server, *Lists) {
	t.Helper()
	srv := fakedns.Start(t, zone...)
	for _, base := range []string{"fail.test", "fail2.test"} {
		srv.ServFail("4.3.2.1." + base + ".")
	}
	srv.Silent("4.3.2.1.silent.test.")
	t.Setenv("DNSCACHEIP", srv.IP)
	return srv, &Lists{Resolver: dns.New(), Timeout: 300 * time.Millisecond}
}

// src builds sources from a compact command line: "-b -r txt.test -a white.test".
func src(line string) []Source {
	var sources []Source
	bounce, failClosed := false, false
	args := strings.Fields(line)
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-b":
			bounce = true
		case "-B":
			bounce = false
		case "-c":
			failClosed = true
		case "-C":
			failClosed = false
		case "-r":
			i++
			sources = append(sources, Block(strings.ReplaceAll(args[i], "_", " "), bounce, failClosed))
		case "-a":
			i++
			sources = append(sources, Allow(args[i], failClosed))
		}
	}
	return sources
}

func TestDecideWithLists(t *testing.T) {
	_, lists := startLists(t)
	long := strings.Repeat("x", 64) + ".test"
	pass := Verdict{}
	block := func(code int, text string) Verdict { return Verdict{Block: true, Code: code, Text: text} }
	for _, tc := range []struct {
		ip, line string
		want     Verdict
	}{
		{"1.2.3.4", "", pass},
		{"1.2.3.4", "-r txt.test", block(451, "listed: see http://txt.test/?1.2.3.4")},
		{"1.2.3.4", "-r txt.test.", block(451, "listed: see http://txt.test/?1.2.3.4")},
		{"1.2.3.4", "-b -r txt.test", block(553, "listed: see http://txt.test/?1.2.3.4")},
		{"1.2.3.4", "-r txt.test -b", block(451, "listed: see http://txt.test/?1.2.3.4")},
		{"1.2.3.4", "-b -B -r txt.test", block(451, "listed: see http://txt.test/?1.2.3.4")},
		{"1.2.3.4", "-r multi.test", block(451, "onetwothree")},
		{"1.2.3.4", "-r empty.test", pass},
		{"1.2.3.4", "-r nx.test", pass},
		{"1.2.3.4", "-r nx.test -r txt.test", block(451, "listed: see http://txt.test/?1.2.3.4")},
		{"1.2.3.5", "-r txt.test", pass},
		// The TXT form ignores A records and the A form TXT records.
		{"1.2.3.4", "-r nodata.test", pass},
		{"1.2.3.4", "-r a.test:blocked_%IP%_by_a.test", block(451, "blocked 1.2.3.4 by a.test")},
		{"1.2.3.4", "-b -r a.test:%IP%%IP%", block(553, "1.2.3.41.2.3.4")},
		{"1.2.3.4", "-r a.test:", block(451, "1.2.3.4 is listed by a.test")},
		{"1.2.3.4", "-r multi.test:x", pass},
		{"1.2.3.4", "-r mixed.test:listed", block(451, "listed")},
		// Refusals and made-up answers are failures, not listings.
		{"1.2.3.4", "-r refused.test:listed", pass},
		{"1.2.3.4", "-c -r refused.test:listed", block(451, LookupError)},
		{"1.2.3.4", "-r hijack.test:listed", pass},
		{"1.2.3.4", "-c -r hijack.test:listed", block(451, LookupError)},
		// Anti-lists decide for the client, once reached.
		{"1.2.3.4", "-a white.test -r txt.test", pass},
		{"1.2.3.4", "-r txt.test -a white.test", block(451, "listed: see http://txt.test/?1.2.3.4")},
		{"1.2.3.4", "-a nx.test -r txt.test", block(451, "listed: see http://txt.test/?1.2.3.4")},
		{"1.2.3.4", "-a txt.test -r a.test:x", block(451, "x")},
		// Failed lookups: -C lets through, -c blocks temporarily, and after one
		// nothing bounces.
		{"1.2.3.4", "-r fail.test", pass},
		{"1.2.3.4", "-C -r fail.test", pass},
		{"1.2.3.4", "-c -r fail.test", block(451, LookupError)},
		{"1.2.3.4", "-c -b -r fail.test", block(451, LookupError)},
		{"1.2.3.4", "-b -r fail.test -r txt.test", block(451, "listed: see http://txt.test/?1.2.3.4")},
		{"1.2.3.4", "-b -r fail.test:x -r a.test:y", block(451, "y")},
		{"1.2.3.4", "-r fail.test -c -r txt.test", block(451, "listed: see http://txt.test/?1.2.3.4")},
		{"1.2.3.4", "-c -r fail.test -r txt.test", block(451, LookupError)},
		{"1.2.3.4", "-a fail.test -r txt.test", pass},
		{"1.2.3.4", "-c -a fail.test -r txt.test", block(451, "listed: see http://txt.test/?1.2.3.4")},
		{"1.2.3.4", "-c -b -a fail.test -r txt.test", block(451, "listed: see http://txt.test/?1.2.3.4")},
		{"1.2.3.4", "-c -a fail.test -b -r txt.test", block(451, "listed: see http://txt.test/?1.2.3.4")},
		{"1.2.3.4", "-c -a fail.test -r nx.test", pass},
		{"1.2.3.4", "-r fail.test -r fail2.test", pass},
		// A base djb's library cannot encode fails every lookup; any other
		// is asked about (empty labels dropped, odd bytes kept).
		{"1.2.3.4", "-r " + long, pass},
		{"1.2.3.4", "-c -r " + long, block(451, LookupError)},
		{"1.2.3.4", "-c -r txt..test", block(451, "listed: see http://txt.test/?1.2.3.4")},
		{"1.2.3.4", "-c -r _ -r txt.test", block(451, "listed: see http://txt.test/?1.2.3.4")},
		// -a reads a name of digits and dots as addresses, as dns_ip4 does.
		{"1.2.3.4", "-a 5 -r txt.test", pass},
		// A server that never answers is a failed lookup after the timeout.
		{"1.2.3.4", "-r silent.test", pass},
		{"1.2.3.4", "-c -r silent.test", block(451, LookupError)},
		{"1.2.3.4", "-a silent.test -r txt.test", pass},
		{"1.2.3.4", "-c -a silent.test -b -r txt.test", block(451, "listed: see http://txt.test/?1.2.3.4")},
		// IPv6: nibbles; IPv4-mapped: IPv4; no address: no lookup.
		{"2001:db8::1", "-r txt.test", block(451, "six")},
		{"2001:DB8:0:0::1", "-r a.test:%IP%", block(451, "2001:db8::1")},
		{"2001:db8::2", "-c -r txt.test", pass},
		{"::ffff:1.2.3.4", "-r a.test:%IP%", block(451, "1.2.3.4")},
		{"", "-c -r fail.test", pass},
		{"1.2.3", "-c -r fail.test", pass},
	} {
		lists.Sources = src(tc.line)
		if got := Decide(context.Background(), nil, tc.ip, lists); got != tc.want {
			t.Errorf("%s %s: %+v, want %+v", tc.ip, tc.line, got, tc.want)
		}
	}
}

func TestRBLSMTPDComesFirst(t *testing.T) {
	srv, lists := startLists(t)
	lists.Sources = src("-c -r txt.test -r fail.test")
	for _, tc := range []struct {
		env  string
		want Verdict
	}{
		{"", Verdict{}},
		{"-", Verdict{Block: true, Code: 553, Text: ""}},
		{"-go away", Verdict{Block: true, Code: 553, Text: "go away"}},
		{"go away", Verdict{Block: true, Code: 451, Text: "go away"}},
		{"--", Verdict{Block: true, Code: 553, Text: "-"}},
		{" -x", Verdict{Block: true, Code: 451, Text: " -x"}},
	} {
		if got := Decide(context.Background(), &tc.env, "1.2.3.4", lists); got != tc.want {
			t.Errorf("RBLSMTPD=%q: %+v, want %+v", tc.env, got, tc.want)
		}
	}
	if q := srv.Queries(); len(q) != 0 {
		t.Errorf("$RBLSMTPD set, yet queries were sent: %q", q)
	}
}

// TestLookupsAreCancelled: once a source decides, later ones still waiting for
// an answer do not hold the verdict up; an earlier one does.
func TestLookupsAreCancelled(t *testing.T) {
	_, lists := startLists(t)
	lists.Timeout = 20 * time.Second
	lists.Sources = src("-r txt.test -r silent.test")
	start := time.Now()
	if got := Decide(context.Background(), nil, "1.2.3.4", lists); !got.Block {
		t.Errorf("verdict %+v, want a block", got)
	}
	if d := time.Since(start); d > lists.Timeout/2 {
		t.Errorf("verdict took %v: it waited for a later source", d)
	}

	lists.Timeout = 500 * time.Millisecond
	lists.Sources = src("-r silent.test -r txt.test")
	start = time.Now()
	if got := Decide(context.Background(), nil, "1.2.3.4", lists); !got.Block {
		t.Errorf("verdict %+v, want a block", got)
	}
	if d := time.Since(start); d < lists.Timeout {
		t.Errorf("verdict after %v: it did not wait for the earlier source's answer", d)
	}
}

func TestBlockAndAllow(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		want Source
	}{
		{"zen.spamhaus.org", Source{Base: "zen.spamhaus.org"}},
		{"zen.spamhaus.org:see https://x.test/query?ip=%IP%", Source{Base: "zen.spamhaus.org", Message: "see https://x.test/query?ip=%IP%", HasMessage: true}},
		{"b:c:d", Source{Base: "b", Message: "c:d", HasMessage: true}},
		{"b:", Source{Base: "b", Message: "%IP% is listed by b", HasMessage: true}},
		{"", Source{}},
	} {
		if got := Block(tc.arg, false, false); got != tc.want {
			t.Errorf("Block(%q) = %+v, want %+v", tc.arg, got, tc.want)
		}
	}
	if got, want := Block("b", true, true), (Source{Base: "b", Bounce: true, FailClosed: true}); got != want {
		t.Errorf("Block with -b -c = %+v, want %+v", got, want)
	}
	if got, want := Allow("w:x", true), (Source{Allow: true, Base: "w:x", FailClosed: true}); got != want {
		t.Errorf("Allow = %+v, want %+v", got, want)
	}
}

// FuzzBlock: "-r arg" splits at its first colon into a base that has none and a
// message, and whatever the message, the reply it makes is one printable line.
func FuzzBlock(f *testing.F) {
	f.Add("zen.spamhaus.org:https://www.spamhaus.org/query/ip/%IP%")
	f.Add("bl.spamcop.net")
	f.Add("b::%IP%%IP")
	f.Fuzz(func(t *testing.T, arg string) {
		s := Block(arg, false, false)
		if strings.Contains(s.Base, ":") || !strings.HasPrefix(arg, s.Base) {
			t.Fatalf("Block(%q): base %q", arg, s.Base)
		}
		if s.HasMessage != strings.Contains(arg, ":") {
			t.Fatalf("Block(%q): HasMessage %v", arg, s.HasMessage)
		}
		if s.HasMessage && s.Message == "" || s.HasMessage && len(arg) > len(s.Base)+1 && s.Base+":"+s.Message != arg {
			t.Fatalf("Block(%q): message %q", arg, s.Message)
		}
		a := listing([]netip.Addr{netip.MustParseAddr("127.0.0.2")}, strings.ReplaceAll(s.Message, "%IP%", "2001:db8::1"))
		r := Verdict{Block: true, Code: 451, Text: a.text}.Reply()
		if !a.listed || strings.ContainsAny(r, "\r\n\x00") || len(r) > 4+MaxText {
			t.Fatalf("Block(%q): reply %q", arg, r)
		}
	})
}

// shortResolver fails every lookup for want of descriptors.
type shortResolver struct{}

func (shortResolver) TXT(context.Context, string) (string, error)       { return "", syscall.EMFILE }
func (shortResolver) IP4(context.Context, string) ([]netip.Addr, error) { return nil, syscall.ENFILE }

// TestShortageMakesVerdictsUnsure: a lookup that failed for want of
// descriptors is not a DNS failure a process of its own would have met: the
// verdict says so, for tcpserver to leave the decision to rblsmtpd itself.
func TestShortageMakesVerdictsUnsure(t *testing.T) {
	_, lists := startLists(t)
	for _, line := range []string{"-r txt.test", "-c -r txt.test", "-a white.test -r txt.test"} {
		l := &Lists{Sources: src(line), Resolver: shortResolver{}}
		if v := Decide(context.Background(), nil, "1.2.3.4", l); !v.Unsure {
			t.Errorf("%s: %+v, want unsure", line, v)
		}
		lists.Sources = src(line)
		if v := Decide(context.Background(), nil, "1.2.3.4", lists); v.Unsure {
			t.Errorf("%s with a resolver: %+v", line, v)
		}
	}
}

// A verdict's setting of $RBLSMTPD decides as the verdict did.
func TestSettingReadsBack(t *testing.T) {
	for _, v := range []Verdict{
		{Block: true, Code: 451, Text: "listed here"},
		{Block: true, Code: 553, Text: "bounced"},
		{Block: true, Code: 553, Text: "-dash"},
		{Block: true, Code: 451, Text: LookupError},
	} {
		setting, ok := v.Setting()
		if !ok {
			t.Errorf("%+v: no setting", v)
			continue
		}
		if got := Decide(context.Background(), &setting, "127.0.0.2", &Lists{}); got != v {
			t.Errorf("%+v: $RBLSMTPD=%q decides %+v", v, setting, got)
		}
	}
	for _, v := range []Verdict{
		{Block: true, Code: 451, Text: ""},
		{Block: true, Code: 451, Text: "-looks permanent"},
		{Block: true, Code: 451, Text: "nul\x00inside"},
	} {
		if setting, ok := v.Setting(); ok {
			t.Errorf("%+v: setting %q cannot say it", v, setting)
		}
	}
}
