package dns

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
	"golang.org/x/net/dns/dnsmessage"
)

func TestFromDot(t *testing.T) {
	long := strings.Repeat("a", 63)
	for _, tc := range []struct {
		name string
		wire string // "" for a name djb refuses
	}{
		{"www.example.test", "\x03www\x07example\x04test\x00"},
		{"www.example.test.", "\x03www\x07example\x04test\x00"},
		{"..a..b..", "\x01a\x01b\x00"},
		{"", "\x00"},
		{".", "\x00"},
		{`a\.b.c`, "\x03a.b\x01c\x00"},
		{`\101\1010\7\0089`, "\x07AA0\x07\x0089\x00"},
		{`\777`, "\x01\xff\x00"},
		{`x\`, "\x01x\x00"},
		{`\\`, "\x01\\\x00"},
		{long + ".x", "\x3f" + long + "\x01x\x00"},
		{long + "a", ""},
		{strings.Repeat("abc.", 63) + "d", "" + strings.Repeat("\x03abc", 63) + "\x01d\x00"},
		{strings.Repeat("abc.", 63) + "de", ""},
	} {
		wire, ok := fromDot(tc.name)
		if tc.wire == "" {
			if ok {
				t.Errorf("fromDot(%q) = %q, want refusal", tc.name, wire)
			}
			continue
		}
		if !ok || string(wire) != tc.wire {
			t.Errorf("fromDot(%q) = %q %v, want %q", tc.name, wire, ok, tc.wire)
		}
	}
}

func TestToDot(t *testing.T) {
	for _, tc := range []struct{ wire, text string }{
		{"\x00", "."},
		{"", "."},
		{"\x05MiXeD\x04Case\x07Example\x03COM\x00", "mixed.case.example.com"},
		{"\x03a.b\x04te_s\x01-\x00", `a\056b.te_s.-`},
		{"\x04\x00\x7f\x80\xff\x03a b\x00", `\000\177\200\377.a\040b`},
		{"\x02:%\x01@\x00", `\072\045.\100`},
	} {
		if got := string(appendToDot(nil, []byte(tc.wire))); got != tc.text {
			t.Errorf("todot(%q) = %q, want %q", tc.wire, got, tc.text)
		}
	}
}

// pack builds an answer packet with miekg/dns (a test rig only).
func pack(t *testing.T, qname string, qtype uint16, rrs ...string) []byte {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(qname, qtype)
	m.Response = true
	for _, s := range rrs {
		rr, err := mdns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		m.Answer = append(m.Answer, rr)
	}
	m.Compress = true
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAddrPacket(t *testing.T) {
	p := pack(t, "www.test.", mdns.TypeA,
		"www.test. CNAME alias.test.",
		"alias.test. CNAME real.Test.",
		"real.Test. A 127.0.0.1",
		"elsewhere.test. A 127.0.0.2", // a foreign owner counts too
		"real.test. AAAA ::1",
		"real.test. TXT \"x\"",
	)
	addrs, err := addrPacket(p, typeA, 4)
	want := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}
	if err != nil || !slices.Equal(addrs, want) {
		t.Errorf("A: %v %v, want %v", addrs, err, want)
	}
	addrs, err = addrPacket(p, typeAAAA, 16)
	if err != nil || !slices.Equal(addrs, []netip.Addr{netip.MustParseAddr("::1")}) {
		t.Errorf("AAAA: %v %v", addrs, err)
	}
	// A record of the wrong size is passed over; one cut off by the end of
	// the packet makes the packet unreadable.
	odd := pack(t, "www.test.", mdns.TypeA, "www.test. A 127.0.0.1", "www.test. A 127.0.0.2")
	odd[len(odd)-5] = 3 // the second record's length, now 3
	if addrs, err := addrPacket(odd, typeA, 4); err != nil || len(addrs) != 1 {
		t.Errorf("wrong size: %v %v", addrs, err)
	}
	if addrs, err := addrPacket(p[:len(p)-40], typeA, 4); err == nil {
		t.Errorf("cut packet: %v, want an error", addrs)
	}
}

func TestNamePacket(t *testing.T) {
	for _, tc := range []struct {
		rrs  []string
		want string
	}{
		{[]string{"1.0.0.127.in-addr.arpa. PTR MiXeD.Case.Example.COM."}, "mixed.case.example.com"},
		{[]string{"1.0.0.127.in-addr.arpa. PTR first.test.", "1.0.0.127.in-addr.arpa. PTR second.test."}, "first.test"},
		{[]string{"1.0.0.127.in-addr.arpa. CNAME 1.0/24.0.0.127.in-addr.arpa.", "1.0/24.0.0.127.in-addr.arpa. PTR classless.test."}, "classless.test"},
		{[]string{`1.0.0.127.in-addr.arpa. PTR a\.b\000\255\ c.test.`}, `a\056b\000\377\040c.test`},
		{[]string{"1.0.0.127.in-addr.arpa. PTR ."}, "."},
		{[]string{"1.0.0.127.in-addr.arpa. A 1.2.3.4"}, ""},
		{nil, ""},
	} {
		p := pack(t, "1.0.0.127.in-addr.arpa.", mdns.TypePTR, tc.rrs...)
		if got, err := namePacket(p); err != nil || got != tc.want {
			t.Errorf("%q: %q %v, want %q", tc.rrs, got, err, tc.want)
		}
	}
}

func TestTXTPacket(t *testing.T) {
	p := pack(t, "x.test.", mdns.TypeTXT,
		`x.test. TXT "one " "two"`,
		`x.test. A 1.2.3.4`,
		`other.test. TXT "three" "" "\009\127\128end"`,
	)
	if got, err := txtPacket(p); err != nil || got != "one twothree???end" {
		t.Errorf("got %q %v", got, err)
	}
}

func TestGetNameLoops(t *testing.T) {
	// A pointer to itself: djb gives up after 1000 steps.
	p := []byte{0xc0, 0x00}
	if _, _, ok := getName(p, 0); ok {
		t.Error("a pointer loop was read")
	}
	// Labels then a pointer back: the position after is after the pointer.
	p = []byte("\x01a\x00\x01b\xc0\x00rest")
	name, next, ok := getName(p, 3)
	if !ok || string(name) != "\x01b\x01a\x00" || next != 7 {
		t.Errorf("got %q %d %v", name, next, ok)
	}
}

// FuzzAnswer feeds any packet to the answer readers: they never panic, and
// on a packet the x/net parser reads cleanly they find what it finds.
func FuzzAnswer(f *testing.F) {
	f.Fuzz(func(t *testing.T, p []byte) {
		a4, err4 := addrPacket(p, typeA, 4)
		a6, err6 := addrPacket(p, typeAAAA, 16)
		name, errName := namePacket(p)
		text, errTXT := txtPacket(p)
		x := exchange{q: []byte("\x01x\x00"), qtype: typeA}
		x.irrelevant(p, 0)

		want, ok := oracle(p)
		if !ok {
			return
		}
		if err4 != nil || err6 != nil || errName != nil || errTXT != nil {
			t.Fatalf("x/net reads it, ours fails: %v %v %v %v", err4, err6, errName, errTXT)
		}
		if !slices.Equal(a4, want.a4) || !slices.Equal(a6, want.a6) || name != want.name || text != want.text {
			t.Fatalf("ours %v %v %q %q\nx/net %v %v %q %q", a4, a6, name, text, want.a4, want.a6, want.name, want.text)
		}
	})
}

type found struct {
	a4, a6     []netip.Addr
	name, text string
}

// oracle reads p with golang.org/x/net/dns/dnsmessage, the way djb's readers
// select records, and says whether it could read every answer.
func oracle(p []byte) (found, bool) {
	var r found
	var parser dnsmessage.Parser
	h, err := parser.Start(p)
	if err != nil || len(p) < 12 || p[4] != 0 || p[5] != 1 {
		return r, false
	}
	_ = h
	if _, err := parser.Question(); err != nil {
		return r, false
	}
	if err := parser.SkipAllQuestions(); err != nil {
		return r, false
	}
	gotName := false
	for {
		hdr, err := parser.AnswerHeader()
		if err == dnsmessage.ErrSectionDone {
			break
		}
		if err != nil {
			return r, false
		}
		switch {
		case hdr.Class != dnsmessage.ClassINET:
			err = parser.SkipAnswer()
		case hdr.Type == dnsmessage.TypeA && hdr.Length == 4:
			var a dnsmessage.AResource
			a, err = parser.AResource()
			r.a4 = append(r.a4, netip.AddrFrom4(a.A))
		case hdr.Type == dnsmessage.TypeAAAA && hdr.Length == 16:
			var a dnsmessage.AAAAResource
			a, err = parser.AAAAResource()
			r.a6 = append(r.a6, netip.AddrFrom16(a.AAAA))
		case hdr.Type == dnsmessage.TypePTR && !gotName:
			var ptr dnsmessage.PTRResource
			ptr, err = parser.PTRResource()
			r.name, gotName = textOf(ptr.PTR), true
			if ptr.PTR.Length > 254 {
				return r, false // x/net allows one byte more than djb's 255 in wire form
			}
		case hdr.Type == dnsmessage.TypeTXT:
			var txt dnsmessage.TXTResource
			txt, err = parser.TXTResource()
			for _, s := range txt.TXT {
				r.text += strings.Map(func(c rune) rune {
					if c < 32 || c > 126 {
						return '?'
					}
					return c
				}, latin1(s))
			}
		default:
			err = parser.SkipAnswer()
		}
		if err != nil {
			return r, false
		}
	}
	return r, true
}

// latin1 makes each byte of s one rune, so that strings.Map sees bytes.
func latin1(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}

// textOf writes an x/net name the way djb's dns_domain_todot_cat does, from
// its own reading of the labels (x/net keeps no dot inside a label).
func textOf(n dnsmessage.Name) string {
	s := n.String()
	if s == "." {
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(s)-1; i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 32
		}
		switch {
		case c == '.', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteByte(c)
		default:
			b.WriteString("\\" + string(rune('0'+c>>6)) + string(rune('0'+c>>3&7)) + string(rune('0'+c&7)))
		}
	}
	return b.String()
}

// FuzzNames: a name djb's library encodes comes back, written out and read
// again, as the same name but for the case of its letters.
func FuzzNames(f *testing.F) {
	f.Fuzz(func(t *testing.T, name string) {
		wire, ok := fromDot(name)
		if !ok {
			return
		}
		text := appendToDot(nil, wire)
		again, ok := fromDot(string(text))
		if !ok || !equalNames(wire, again) {
			t.Fatalf("%q: %q as %q, read back as %q", name, wire, text, again)
		}
		if bytes.ContainsAny(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			t.Fatalf("%q written %q", name, text)
		}
	})
}
