package cdbrules

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func lookupKeys(t *testing.T, p Peer) []string {
	t.Helper()
	var keys []string
	m, err := newRules(compileOurs(t, []byte("nothing.matches:deny\n"))).Lookup(p, func(k string) { keys = append(keys, k) })
	if err != nil || m.Found {
		t.Fatalf("%+v: %v %v", p, m, err)
	}
	return keys
}

func TestSearchOrder(t *testing.T) {
	for _, c := range []struct {
		p    Peer
		keys []string
	}{
		{Peer{IP: "86.75.30.9", Host: "one.two.three", HostKnown: true, Info: "xyz", InfoKnown: true},
			[]string{"xyz@86.75.30.9", "xyz@=one.two.three", "86.75.30.9", "=one.two.three", "86.75.30.", "86.75.", "86.", "=.two.three", "=.three", "=", ""}},
		{Peer{IP: "86.75.30.9", Info: "xyz", InfoKnown: true},
			[]string{"xyz@86.75.30.9", "86.75.30.9", "86.75.30.", "86.75.", "86.", ""}},
		{Peer{IP: "86.75.30.9", Host: "four", HostKnown: true},
			[]string{"86.75.30.9", "=four", "86.75.30.", "86.75.", "86.", "=", ""}},
		{Peer{IP: "1.2.3.4", HostKnown: true, InfoKnown: true},
			[]string{"@1.2.3.4", "@=", "1.2.3.4", "=", "1.2.3.", "1.2.", "1.", "=", ""}},
		{Peer{IP: "2001:db8::1", Host: "h.example", HostKnown: true},
			[]string{"2001:db8::1", "=h.example", "2001:db8::", "2001:db8:", "2001:", "=.example", "=", ""}},
		{Peer{IP: "::1"}, []string{"::1", "::", ":", ""}},
		{Peer{IP: "::ffff:1.2.3.4"}, []string{"::ffff:1.2.3.4", "::ffff:1.2.3.", "::ffff:1.2.", "::ffff:1.", "::ffff:", "::", ":", ""}},
		{Peer{IP: ""}, []string{"", ""}},
	} {
		if got := lookupKeys(t, c.p); !reflect.DeepEqual(got, c.keys) {
			t.Errorf("%+v:\n got %q\nwant %q", c.p, got, c.keys)
		}
	}
}

func TestDecision(t *testing.T) {
	for _, c := range []struct {
		data string
		deny bool
		env  []string
	}{
		{"", false, nil},
		{"D\x00", true, nil},
		{"D\x00+A=b\x00+C=\x00", true, []string{"A=b", "C="}},
		{"+A=b\x00D\x00", true, []string{"A=b"}},
		{"+noequals\x00+=x\x00", false, []string{"=x"}},
		{"+A=b\x00+B=c", false, []string{"A=b"}},
		{"x\x00\x00+A=a=b\x00", false, []string{"A=a=b"}},
	} {
		d := Match{Key: "k", Data: []byte(c.data), Found: true}.Decision()
		if d.Deny != c.deny || !slices.Equal(d.Env, c.env) || d.Key != "k" || !d.Found {
			t.Errorf("%q: %+v", c.data, d)
		}
	}
}

func writeCDB(t *testing.T, rules string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.cdb")
	if err := os.WriteFile(path, compileOurs(t, []byte(rules)), 0644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLookupFile(t *testing.T) {
	path := writeCDB(t, `joe@1.2.3.4:allow,WHO=/joe/
1.2.3.4:deny
=good.example:allow,RELAYCLIENT="",X=/y/
2001:db8::1:allow,V6=/exact/
2001:db8::/32:deny
10.0.0.0/8:allow,NET=/ten/
:allow,DEFAULT=/yes/
`)
	for _, c := range []struct {
		ip, host, info string
		want           Decision
	}{
		{"1.2.3.4", "", "joe", Decision{Key: "joe@1.2.3.4", Found: true, Env: []string{"WHO=joe"}}},
		{"1.2.3.4", "", "", Decision{Key: "1.2.3.4", Found: true, Deny: true}},
		{"1.2.3.5", "good.example", "", Decision{Key: "=good.example", Found: true, Env: []string{"RELAYCLIENT=", "X=y"}}},
		{"::ffff:1.2.3.4", "", "", Decision{Key: "1.2.3.4", Found: true, Deny: true}},
		{"::ffff:10.9.8.7", "", "", Decision{Key: "10.", Found: true, Env: []string{"NET=ten"}}},
		{"2001:db8::1", "", "", Decision{Key: "2001:db8::1", Found: true, Env: []string{"V6=exact"}}},
		{"2001:DB8:0:0:0:0:0:1", "", "", Decision{Key: "2001:db8::1", Found: true, Env: []string{"V6=exact"}}},
		{"2001:db8:0:1:1:1:1:1", "", "", Decision{Key: "2001:db8:", Found: true, Deny: true}},
		{"2001:db8:5::1", "", "", Decision{Key: "2001:db8:", Found: true, Deny: true}},
		{"fe80::1%eth0", "", "", Decision{Key: "", Found: true, Env: []string{"DEFAULT=yes"}}},
	} {
		got, err := LookupFile(path, testPeer(c.ip, c.host, c.info))
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %q %q: %+v %v, want %+v", c.ip, c.host, c.info, got, err, c.want)
		}
	}

	nodefault := writeCDB(t, "1.2.3.4:deny\n")
	if got, err := LookupFile(nodefault, testPeer("5.6.7.8", "", "")); err != nil || got.Found || got.Deny || got.Key != "" {
		t.Errorf("no rule matched: %+v %v", got, err)
	}

	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.cdb")
	os.WriteFile(empty, nil, 0644)
	truncated := filepath.Join(dir, "truncated.cdb")
	os.WriteFile(truncated, []byte("short"), 0644)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want error
	}{
		{filepath.Join(dir, "missing.cdb"), fs.ErrNotExist},
		{dir, syscall.EISDIR},
		{empty, syscall.EINVAL},
		{fifo, syscall.EINVAL},
		{truncated, syscall.EPROTO},
	} {
		_, err := LookupFile(c.path, testPeer("1.2.3.4", "", ""))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.path, err, c.want)
		}
	}
}

func TestFormatIP6(t *testing.T) {
	for in, want := range map[string]string{
		"::":                      "::",
		"::1":                     "::1",
		"1::":                     "1::",
		"2001:db8::1":             "2001:db8::1",
		"2001:db8:0:1:1:1:1:1":    "2001:db8::1:1:1:1:1",
		"1:0:0:2:0:0:0:3":         "1:0:0:2::3",
		"1:0:0:2:0:0:3:4":         "1::2:0:0:3:4",
		"0:1:2:3:4:5:6:0":         "::1:2:3:4:5:6:0",
		"1:2:3:4:5:6:7:8":         "1:2:3:4:5:6:7:8",
		"fe80::abcd:ef01:2345":    "fe80::abcd:ef01:2345",
		"::ffff:1.2.3.4":          "::ffff:1.2.3.4",
		"::1.2.3.4":               "::102:304",
		"2001:0db8:0000::00ff:00": "2001:db8::ff:0",
	} {
		if got := FormatIP6(netip.MustParseAddr(in).As16()); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	// Where no zero group stands alone as the longest run, ip6_fmt and RFC 5952
	// agree.
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 20000; i++ {
		ip := randomIP6(r)
		if _, n := zeroRun(groups(ip)); n == 1 {
			continue
		}
		if got, want := FormatIP6(ip), netip.AddrFrom16(ip).String(); got != want {
			t.Fatalf("%s: ours %s", want, got)
		}
	}
}

// randomIP6 makes addresses rich in zero groups, so that every compression
// shape turns up.
func randomIP6(r *rand.Rand) [16]byte {
	var ip [16]byte
	for k := 0; k < 8; k++ {
		if r.IntN(2) == 0 {
			v := uint16(r.IntN(3))
			if r.IntN(2) == 0 {
				v = uint16(r.Uint32())
			}
			ip[2*k], ip[2*k+1] = byte(v>>8), byte(v)
		}
	}
	return ip
}

func cidrKeyList(t *testing.T, cidr string) []string {
	t.Helper()
	var list []string
	err := keys([]byte(cidr), nil, func(k []byte) error { list = append(list, string(k)); return nil })
	if err != nil {
		t.Fatalf("%s: %v", cidr, err)
	}
	return list
}

// The keys docs/rules.md and the man page promise.
func TestCIDRKeys(t *testing.T) {
	span := func(format string, lo, hi int) []string {
		var s []string
		for i := lo; i <= hi; i++ {
			s = append(s, fmt.Sprintf(format, i))
		}
		return s
	}
	for cidr, want := range map[string][]string{
		"10.0.0.0/8":               {"10."},
		"10.1.2.3/8":               {"10."},
		"192.168.0.0/16":           {"192.168."},
		"192.168.16.0/20":          span("192.168.%d.", 16, 31),
		"1.2.3.0/24":               {"1.2.3."},
		"1.2.3.4/32":               {"1.2.3.4"},
		"1.2.3.4/30":               span("1.2.3.%d", 4, 7),
		"1.2.3.0/25":               span("1.2.3.%d", 0, 127),
		"0.0.0.0/0":                span("%d.", 0, 255),
		"128.0.0.0/1":              span("%d.", 128, 255),
		"::ffff:10.0.0.0/104":      {"10."},
		"2001:db8::/32":            {"2001:db8:"},
		"2001:db8::/31":            {"2001:db8:", "2001:db9:"},
		"2001:db8:1::/48":          {"2001:db8:1:"},
		"2001:db8::/48":            {"2001:db8::", "2001:db8:0:"},
		"2001:db8:1:2:3::/80":      {"2001:db8:1:2:3:"},
		"2001:db8:1:2::/80":        {"2001:db8:1:2::", "2001:db8:1:2:0:"},
		"2001:db8:1:2:3::/96":      {"2001:db8:1:2:3::"},
		"2001:db8::/30":            {"2001:db8:", "2001:db9:", "2001:dba:", "2001:dbb:"},
		"::/16":                    {"::", "0:"},
		"fe80::/10":                span("fe%x:", 0x80, 0xbf),
		"::1/128":                  {"::1"},
		"2001:db8::2/127":          {"2001:db8::2", "2001:db8::3"},
		"2001:db8:0:1:1:1:1:1/128": {"2001:db8::1:1:1:1:1"},
	} {
		if got := cidrKeyList(t, cidr); !slices.Equal(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", cidr, got, want)
		}
	}
	for _, cidr := range []string{"2001:db8:0:1::/64", "fe80::/64", "::/32", "2001:0:5::/48", "2001:db8::/128", "::/128", "2001:db8::/127", "1:2:3:4:5:6:7:0/128"} {
		if err := keys([]byte(cidr), nil, func([]byte) error { return nil }); !errors.Is(err, errAmbiguous6) {
			t.Errorf("%s: %v, want refusal", cidr, err)
		}
	}
	// Not CIDR: 0.88's literal keys.
	for _, addr := range []string{"10.0.0.0/33", "joe@10.0.0.0/8", "010.0.0.0/8", "10.0.0/8", "=host/8"} {
		if got := cidrKeyList(t, addr); !slices.Equal(got, []string{addr}) {
			t.Errorf("%s: %q", addr, got)
		}
	}
	if n := len(cidrKeyList(t, "::/0")); n != 65537 {
		t.Errorf("::/0: %d keys", n)
	}
}

// A CIDR rule matches exactly the addresses in its prefix, through tcpserver's
// lookup: checked on random prefixes of every length against random addresses
// in, near and out of them, rich in zero groups so that every form of the
// compact text turns up.
func TestCIDRMatchesExactlyThePrefix(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	checked := 0
	fixed := []string{"::/16", "::/12", "::/0", "2001:db8::/48", "2001:db8:1:2:3::/96", "fe80::/10", "::1/128",
		"2001:db8::2/127", "1:2:3:4:5:6:7:100/120", "1:2:3:4:5:6::/112", "1:2:3:4:5::/80", "1:2:3:4:0::/80", "8000::/1"}
	for round := 0; round < 400+len(fixed); round++ {
		var p netip.Prefix
		if round < len(fixed) {
			p = netip.MustParsePrefix(fixed[round])
		} else if round%2 == 0 {
			var a [4]byte
			for i := range a {
				a[i] = byte(r.IntN(256))
			}
			p = netip.PrefixFrom(netip.AddrFrom4(a), r.IntN(33)).Masked()
		} else {
			bits := r.IntN(129)
			ip := randomIP6(r)
			for k := 0; k < (bits+15)/16-1; k++ {
				if ip[2*k] == 0 && ip[2*k+1] == 0 {
					ip[2*k+1] = byte(1 + r.IntN(255))
				}
			}
			p = netip.PrefixFrom(netip.AddrFrom16(ip), bits).Masked()
			if p.Addr().Is4In6() {
				continue
			}
		}
		if err := keys([]byte(p.String()), nil, func([]byte) error { return nil }); errors.Is(err, errAmbiguous6) && round >= len(fixed) {
			continue // refused, and TestCIDRKeys checks which are
		}
		rules := newRules(compileOurs(t, []byte(p.String()+":deny\n:allow\n")))
		for i := 0; i < 200; i++ {
			a := nearby(r, p)
			m, err := rules.Lookup(Peer{IP: CanonicalIP(a.String())}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := m.Decision(); d.Deny != p.Contains(a) {
				t.Fatalf("%s: %s (looked up as %s) matched %q: deny %v", p, a, CanonicalIP(a.String()), m.Key, d.Deny)
			}
			checked++
		}
	}
	t.Logf("%d lookups", checked)
}

// nearby is an address in p, or one differing from p's network in a single
// bit, or random.
func nearby(r *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	if p.Addr().Is6() {
		if rb := randomIP6(r); r.IntN(4) == 0 {
			return netip.AddrFrom16(rb)
		}
	}
	for i := p.Bits(); i < len(b)*8; i++ {
		if r.IntN(2) == 0 {
			b[i/8] ^= 0x80 >> (i % 8)
		}
	}
	if r.IntN(2) == 0 && p.Bits() > 0 {
		i := r.IntN(p.Bits())
		b[i/8] ^= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// tcprules replaces the cdb by renaming a complete file over it: readers
// looking up all the while see the old rules or the new, never an error.
func TestCompileIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path, tmp := filepath.Join(dir, "rules.cdb"), filepath.Join(dir, "rules.tmp")
	versions := []string{generateRulesWith(5000, "1.2.3.4:allow,V=/one/\n"), generateRulesWith(5000, "1.2.3.4:allow,V=/two/\n")}
	if err := Compile(strings.NewReader(versions[0]), path, tmp); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i <= 20; i++ {
			if err := Compile(strings.NewReader(versions[i%2]), path, tmp); err != nil {
				t.Error(err)
			}
		}
		close(done)
	}()
	lookups := 0
	for {
		select {
		case <-done:
			wg.Wait()
			if lookups == 0 {
				t.Error("no lookups ran")
			}
			return
		default:
		}
		d, err := LookupFile(path, testPeer("1.2.3.4", "", ""))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(d.Env, []string{"V=one"}) && !slices.Equal(d.Env, []string{"V=two"}) {
			t.Fatalf("lookup %d: %+v", lookups, d)
		}
		lookups++
	}
}

func generateRulesWith(n int, first string) string {
	return first + string(generateRules(n, 11, false))
}

// A line that cannot be parsed leaves the cdb alone.
func TestCompileErrorKeepsOldRules(t *testing.T) {
	dir := t.TempDir()
	path, tmp := filepath.Join(dir, "rules.cdb"), filepath.Join(dir, "rules.tmp")
	if err := Compile(strings.NewReader("1.2.3.4:deny\n"), path, tmp); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	err := Compile(strings.NewReader("1.2.3.4:allow\n5.6.7.8:bad\n"), path, tmp)
	var le *LineError
	if !errors.As(err, &le) || le.Number != 2 || string(le.Text) != "5.6.7.8:bad" {
		t.Fatalf("%v", err)
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Error("the cdb changed")
	}
	if err := Compile(strings.NewReader("2001:db8:0:1::/64:allow\n"), path, tmp); !errors.As(err, &le) || !errors.Is(le.Err, errAmbiguous6) {
		t.Errorf("inexpressible prefix: %v", err)
	}
}

// LookupFile keeps the file mapped between calls, but sees every change 0.88
// would see by opening it for each connection.
func TestLookupFileSeesChanges(t *testing.T) {
	dir := t.TempDir()
	path, tmp := filepath.Join(dir, "rules.cdb"), filepath.Join(dir, "rules.tmp")
	env := func() []string {
		t.Helper()
		d, err := LookupFile(path, testPeer("1.2.3.4", "", ""))
		if err != nil {
			t.Fatal(err)
		}
		return d.Env
	}
	for _, v := range []string{"one", "two", "six"} {
		if err := Compile(strings.NewReader("1.2.3.4:allow,V=/"+v+"/\n"), path, tmp); err != nil {
			t.Fatal(err)
		}
		if got := env(); !slices.Equal(got, []string{"V=" + v}) {
			t.Errorf("after compiling %s: %q", v, got)
		}
	}
	// Rewritten in place: same inode, same size.
	if err := os.WriteFile(path, compileOurs(t, []byte("1.2.3.4:allow,V=/ten/\n")), 0644); err != nil {
		t.Fatal(err)
	}
	if got := env(); !slices.Equal(got, []string{"V=ten"}) {
		t.Errorf("after rewriting in place: %q", got)
	}
	os.Remove(path)
	if _, err := LookupFile(path, testPeer("1.2.3.4", "", "")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after removing: %v", err)
	}
	os.WriteFile(path, nil, 0644)
	if _, err := LookupFile(path, testPeer("1.2.3.4", "", "")); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("after emptying: %v", err)
	}
}

// A mapped file truncated under a lookup is an error, not a crash.
func TestTruncatedWhileMapped(t *testing.T) {
	path := writeCDB(t, string(generateRules(2000, 12, false))+":allow\n")
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup(Peer{IP: "1.2.3.4"}, nil); !errors.Is(err, syscall.EPROTO) {
		t.Errorf("%v", err)
	}
}

// testPeer is a peer as tcpserver passes one: the address canonical, an empty
// host or info unknown.
func testPeer(ip, host, info string) Peer {
	return Peer{IP: CanonicalIP(ip), Host: host, HostKnown: host != "", Info: info, InfoKnown: info != ""}
}
