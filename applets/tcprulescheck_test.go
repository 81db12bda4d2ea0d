package applets

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ucspi-go/ucspi/cdbrules"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

// compileWith runs tcprules prog on rules in dir, leaving name.cdb there.
func compileWith(t *testing.T, prog, dir, name, rules string) {
	t.Helper()
	res := reftest.Run(t, prog, reftest.Cmd{Args: []string{name + ".cdb", name + ".tmp"}, Stdin: []byte(rules), Dir: dir})
	if res.Code != 0 {
		t.Fatalf("%s: %d %s", prog, res.Code, res.Stderr)
	}
}

// lookup is one tcprulescheck run: its environment, "" values meaning unset.
type lookup struct{ ip, host, info string }

func (l lookup) env() []string {
	env := []string{"PATH=/usr/bin:/bin"}
	for _, kv := range [][2]string{{"TCPREMOTEIP", l.ip}, {"TCPREMOTEHOST", l.host}, {"TCPREMOTEINFO", l.info}} {
		if kv[1] != "" {
			env = append(env, kv[0]+"="+strings.TrimPrefix(kv[1], "(empty)"))
		}
	}
	return env
}

const crossRules = `xyz@86.75.30.9:allow,which=/first/
xyz@=one.two.three:allow,which=/second/
86.75.30.9:allow,which=/third/
=one.two.three:allow,which=/fourth/
86.75.30.:allow,which=/fifth/
86.75.:allow,which=/sixth/
86.:allow,which=/seventh/
=.two.three:allow,which=/eighth/
=.three:allow,which=/ninth/
=:allow,which=/tenth/
127.0-5.:allow,which=/range/,where=/whatever/
1.2.3.37-53:deny
1.2.3.4:deny,IGNORED=/x/
joe@1.2.3.4:allow,RELAYCLIENT=""
@1.2.3.5:allow,EMPTYINFO=//
1.2.3.5:allow,DUP=/first/
1.2.3.5:deny
=known.edu:allow,which=/known/,TCPLOCALHOST=/movie.edu/
=.abuser.edu:deny
bill@=x.abuser.edu:allow,which=/bill/
:allow,which=/eleventh/
`

// The first 28 are djb's rts.tests, in its order; the rest reach every other
// step of the search order, ranges, deny, variables, and unset versus empty.
var crossLookups = []lookup{
	{"86.75.30.9", "one.two.three", "xyz"}, {"86.75.30.9", "", "xyz"}, {"86.75.30.10", "one.two.three", "xyz"},
	{"86.75.30.9", "one.two.three", "abc"}, {"86.75.30.9", "", "abc"}, {"86.75.30.9", "one.two.three", ""},
	{"86.75.30.9", "", ""}, {"86.75.30.10", "one.two.three", "abc"}, {"86.75.30.10", "one.two.three", ""},
	{"86.75.30.10", "four.two.three", ""}, {"86.75.30.10", "", ""}, {"86.75.20.10", "four.two.three", "abc"},
	{"86.75.20.10", "", "abc"}, {"86.75.20.10", "four.two.three", ""}, {"86.75.20.10", "", ""},
	{"86.85.20.10", "four.two.three", "abc"}, {"86.85.20.10", "", "abc"}, {"86.85.20.10", "four.two.three", ""},
	{"86.85.20.10", "", ""}, {"96.85.20.10", "four.two.three", "abc"}, {"96.85.20.10", "four.two.three", ""},
	{"96.85.20.10", "four.three", "abc"}, {"96.85.20.10", "four.three", ""}, {"96.85.20.10", "four", "abc"},
	{"96.85.20.10", "four", ""}, {"96.85.20.10", "", "abc"}, {"96.85.20.10", "", ""}, {"", "", ""},
	{"127.0.0.1", "", ""}, {"127.3.0.1", "", ""}, {"127.5.9.9", "", ""}, {"127.6.0.1", "", ""},
	{"1.2.3.36", "", ""}, {"1.2.3.37", "", ""}, {"1.2.3.45", "", ""}, {"1.2.3.53", "", ""}, {"1.2.3.54", "", ""},
	{"1.2.3.4", "", ""}, {"1.2.3.4", "", "joe"}, {"1.2.3.4", "", "bill"}, {"1.2.3.5", "", ""},
	{"1.2.3.5", "", "(empty)"}, {"1.2.3.6", "(empty)", ""}, {"1.2.3.6", "(empty)", "(empty)"},
	{"1.2.3.6", "known.edu", ""}, {"1.2.3.6", "www.known.edu", ""}, {"1.2.3.6", "abuser.edu", ""},
	{"1.2.3.6", "x.abuser.edu", ""}, {"1.2.3.6", "x.abuser.edu", "bill"}, {"1.2.3.6", "y.x.abuser.edu", "bill"},
	{"1.2.3.6", ".", ""}, {"1.2.3.6", "a..three", ""}, {"86.75.30.9x", "", ""}, {"(empty)", "", ""},
	{"86.75.30", "", ""}, {"..", "", ""}, {"9.9.9.9", "", ""},
}

// Both ways: the reference tcprulescheck reads our cdb, ours reads the
// reference's, and every answer is the reference's on its own file.
func TestTcprulescheckCrossCompatible(t *testing.T) {
	refCheck, ourCheck := reftest.Ref(t, "tcprulescheck"), reftest.Ours(t, "tcprulescheck")
	dir := t.TempDir()
	compileWith(t, reftest.Ref(t, "tcprules"), dir, "ref", crossRules)
	compileWith(t, reftest.Ours(t, "tcprules"), dir, "ours", crossRules)
	if len(crossLookups) < 50 {
		t.Fatalf("only %d lookups", len(crossLookups))
	}
	for _, l := range crossLookups {
		want := reftest.Run(t, refCheck, reftest.Cmd{Args: []string{"ref.cdb"}, Env: l.env(), Dir: dir})
		for _, c := range [][2]string{{refCheck, "ours.cdb"}, {ourCheck, "ref.cdb"}, {ourCheck, "ours.cdb"}} {
			got := reftest.Run(t, c[0], reftest.Cmd{Args: []string{c[1]}, Env: l.env(), Dir: dir})
			if !bytes.Equal(got.Stdout, want.Stdout) || !bytes.Equal(got.Stderr, want.Stderr) || got.Code != want.Code {
				t.Errorf("%+v: %s %s: %d %q %q, want %d %q %q", l, filepath.Base(c[0]), c[1],
					got.Code, got.Stdout, got.Stderr, want.Code, want.Stdout, want.Stderr)
			}
		}
	}
}

// The same with the IPv6 reference, on IPv6 rules.
func TestTcprulescheckIPv6CrossCompatible(t *testing.T) {
	refCheck, ourCheck := reftest.Ref6(t, "tcprulescheck"), reftest.Ours(t, "tcprulescheck")
	rules := `::1:allow,which=/loopback/
joe@::1:allow,which=/joe/
2001:db8::1:allow,which=/exact/
2001:db8::1:5:deny
2001:db8:1::deny
2001:db8:allow,which=/db8/
2001:db8::allow,which=/db8zero/
fe80::1.2.3.4-9:deny
::ffff:1.2.3.4:allow,which=/mapped/
=.example.com:allow,which=/domain/
1.2.3.:allow,which=/v4/
:deny
`
	dir := t.TempDir()
	compileWith(t, reftest.Ref6(t, "tcprules"), dir, "ref", rules)
	compileWith(t, reftest.Ours(t, "tcprules"), dir, "ours", rules)
	for _, l := range []lookup{
		{"::1", "", ""}, {"::1", "", "joe"}, {"::2", "", ""}, {"2001:db8::1", "", ""}, {"2001:db8::2", "", ""},
		{"2001:db8::1:5", "", ""}, {"2001:db8::1:6", "", ""}, {"2001:db8:1::5", "", ""}, {"2001:db8:2::5", "", ""},
		{"2001:db9::1", "", ""}, {"fe80::1.2.3.5", "", ""}, {"::ffff:1.2.3.4", "", ""}, {"::ffff:1.2.3.5", "", ""},
		{"1.2.3.4", "", ""}, {"2001:db9::1", "www.example.com", ""}, {"2001:db9::1", "example.com", ""},
	} {
		want := reftest.Run(t, refCheck, reftest.Cmd{Args: []string{"ref.cdb"}, Env: l.env(), Dir: dir})
		for _, c := range [][2]string{{refCheck, "ours.cdb"}, {ourCheck, "ref.cdb"}} {
			got := reftest.Run(t, c[0], reftest.Cmd{Args: []string{c[1]}, Env: l.env(), Dir: dir})
			if !bytes.Equal(got.Stdout, want.Stdout) || got.Code != want.Code {
				t.Errorf("%+v: %s %s: %q, want %q", l, filepath.Base(c[0]), c[1], got.Stdout, want.Stdout)
			}
		}
	}
}

// CIDR rules compiled by us work in the IPv6 reference's tcprulescheck: it
// matches exactly the addresses in each prefix.
func TestCIDRThroughIPv6Reference(t *testing.T) {
	refCheck := reftest.Ref6(t, "tcprulescheck")
	prefixes := []string{"10.0.0.0/8", "192.168.16.0/20", "172.16.5.128/25", "2001:db8::/32", "2001:dba::/31", "2001:dc8:1::/48", "2001:dd8::/48", "fe80::/10", "2001:de8:1:2:3:4:5:100/120"}
	var rules strings.Builder
	for i, p := range prefixes {
		fmt.Fprintf(&rules, "%s:allow,N=/%d/\n", p, i)
	}
	rules.WriteString(":deny\n")
	dir := t.TempDir()
	compileWith(t, reftest.Ours(t, "tcprules"), dir, "cidr", rules.String())
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range prefixes {
		p := netip.MustParsePrefix(s)
		for k := 0; k < 8; k++ {
			b := p.Addr().AsSlice()
			for bit := p.Bits() - 2; bit < len(b)*8; bit++ {
				if bit >= 0 && r.IntN(2) == 0 {
					b[bit/8] ^= 0x80 >> (bit % 8)
				}
			}
			a, _ := netip.AddrFromSlice(b)
			want := "deny connection\n"
			for j, other := range prefixes { // disjoint: at most one holds a
				if netip.MustParsePrefix(other).Contains(a) {
					want = fmt.Sprintf("set environment variable N=%d\nallow connection\n", j)
				}
			}
			res := reftest.Run(t, refCheck, reftest.Cmd{Args: []string{"cidr.cdb"}, Env: lookup{ip: cdbrules.CanonicalIP(a.String())}.env(), Dir: dir})
			if !strings.HasSuffix(string(res.Stdout), want) {
				t.Errorf("%s, %s: %q, want ...%q", p, a, res.Stdout, want)
			}
		}
	}
}

// Files that are not cdbs: the same message and exit code as 0.88, never a
// crash (except for a directory, where 0.88 crashes and we say why).
func TestTcprulescheckBadFiles(t *testing.T) {
	refCheck, ourCheck := reftest.Ref(t, "tcprulescheck"), reftest.Ours(t, "tcprulescheck")
	dir := t.TempDir()
	compileWith(t, reftest.Ours(t, "tcprules"), dir, "good", crossRules)
	good, _ := os.ReadFile(filepath.Join(dir, "good.cdb"))
	r := rand.New(rand.NewPCG(3, 4))
	var files []string
	add := func(name string, data []byte) {
		os.WriteFile(filepath.Join(dir, name), data, 0644)
		files = append(files, name)
	}
	add("empty", nil)
	add("garbage", []byte("this is not a cdb"))
	for _, n := range []int{1, 8, 100, 2047, 2048, 2049, 2100, 2200, len(good) / 2, len(good) - 100, len(good) - 9, len(good) - 1} {
		add(fmt.Sprintf("truncated-%d", n), good[:n])
	}
	for i := 0; i < 25; i++ {
		b := bytes.Clone(good)
		for k := 1 + r.IntN(4); k > 0; k-- {
			b[r.IntN(len(b))] ^= byte(1 + r.IntN(255))
		}
		add(fmt.Sprintf("flipped-%d", i), b)
	}
	for i := 0; i < 10; i++ {
		b := bytes.Clone(good[:2048])
		for k := 0; k < 8; k++ {
			b[r.IntN(2048)] = byte(r.IntN(256))
		}
		add(fmt.Sprintf("header-%d", i), b)
	}
	syscall.Mkfifo(filepath.Join(dir, "fifo"), 0644)
	files = append(files, "fifo", "missing", "/dev/null")
	for _, f := range files {
		for _, l := range []lookup{{"86.75.30.9", "one.two.three", "xyz"}, {"1.2.3.45", "", ""}} {
			want := reftest.Run(t, refCheck, reftest.Cmd{Args: []string{f}, Env: l.env(), Dir: dir})
			got := reftest.Run(t, ourCheck, reftest.Cmd{Args: []string{f}, Env: l.env(), Dir: dir})
			if !bytes.Equal(got.Stdout, want.Stdout) || !bytes.Equal(got.Stderr, want.Stderr) || got.Code != want.Code {
				t.Errorf("%s %+v: ours %d %q %q, reference %d %q %q", f, l, got.Code, got.Stdout, got.Stderr, want.Code, want.Stdout, want.Stderr)
			}
		}
	}
	res := reftest.Run(t, ourCheck, reftest.Cmd{Args: []string{"."}, Dir: dir})
	if res.Code != 111 || string(res.Stderr) != "tcprulescheck: fatal: unable to read .: is a directory\n" {
		t.Errorf("directory: %d %q", res.Code, res.Stderr)
	}
}

func TestTcprulescheckArguments(t *testing.T) {
	dir := t.TempDir()
	compileWith(t, reftest.Ours(t, "tcprules"), dir, "rules", crossRules)
	// 0.88's command lines: usage, the first argument is the file whatever it
	// looks like, later arguments are ignored.
	for _, args := range [][]string{nil, {"-v"}, {"--help", "x"}, {"-x"}, {"--"}, {"rules.cdb", "-v"}, {"rules.cdb", "extra"}} {
		want := reftest.Run(t, reftest.Ref(t, "tcprulescheck"), reftest.Cmd{Args: args, Dir: dir})
		got := reftest.Run(t, reftest.Ours(t, "tcprulescheck"), reftest.Cmd{Args: args, Dir: dir})
		if !bytes.Equal(got.Stdout, want.Stdout) || !bytes.Equal(got.Stderr, want.Stderr) || got.Code != want.Code {
			t.Errorf("%q: ours %d %q %q, reference %d %q %q", args, got.Code, got.Stdout, got.Stderr, want.Code, want.Stdout, want.Stderr)
		}
	}
	// -v before a file: every key tried, then the answer.
	for _, flag := range []string{"-v", "--verbose"} {
		res := reftest.Run(t, reftest.Ours(t, "tcprulescheck"), reftest.Cmd{Args: []string{flag, "rules.cdb"}, Dir: dir,
			Env: lookup{"86.75.20.10", "four.two.three", "abc"}.env()})
		want := "try abc@86.75.20.10:\ntry abc@=four.two.three:\ntry 86.75.20.10:\ntry =four.two.three:\ntry 86.75.20.:\ntry 86.75.:\n" +
			"rule 86.75.:\nset environment variable which=sixth\nallow connection\n"
		if string(res.Stdout) != want || res.Code != 0 {
			t.Errorf("%s: %d %q", flag, res.Code, res.Stdout)
		}
	}
	res := reftest.Run(t, reftest.Ours(t, "tcprulescheck"), reftest.Cmd{Args: []string{"-v", "rules.cdb"}, Dir: dir, Env: lookup{ip: "9.9.9.9"}.env()})
	if want := "try 9.9.9.9:\ntry 9.9.9.:\ntry 9.9.:\ntry 9.:\ntry :\nrule :\nset environment variable which=eleventh\nallow connection\n"; string(res.Stdout) != want {
		t.Errorf("-v to the default rule: %q", res.Stdout)
	}
}
