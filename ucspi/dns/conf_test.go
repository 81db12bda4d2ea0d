package dns

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCacheIPs(t *testing.T) {
	for _, tc := range []struct{ v, want string }{
		{"127.0.0.1", "127.0.0.1"},
		{"127.0.0.1.10.0.0.1", "127.0.0.1 10.0.0.1"},
		{"..127.0.0.1...10.0.0.1.", "127.0.0.1 10.0.0.1"},
		{"127.0.0.1 10.0.0.1", "127.0.0.1"}, // djb stops at the space
		{"127.0.0.1,10.0.0.1", "127.0.0.1"},
		{"300.1.2.3", "44.1.2.3"},
		{"1.2.3", ""},
		{"::1", "::1"},
		{"::1.127.0.0.2", "::1 127.0.0.2"},
		{"2001:db8::53 127.0.0.2", "2001:db8::53"},
		{"::ffff:127.0.0.9", "127.0.0.9"},
		{"junk", ""},
		{"0.0.0.0", "0.0.0.0"},
		{strings.Repeat("127.0.0.1.", 20), strings.TrimSpace(strings.Repeat("127.0.0.1 ", 16))},
	} {
		var got []string
		for _, a := range cacheIPs(tc.v) {
			got = append(got, a.String())
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("cacheIPs(%q) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// withFiles points the configuration files at a temporary directory.
func withFiles(t *testing.T, resolv, rewrite string, host string) {
	t.Helper()
	dir := t.TempDir()
	old := []any{resolvConf, rewriteDefault, hostname}
	resolvConf, rewriteDefault = filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "dnsrewrite")
	hostname = func() (string, error) { return host, nil }
	t.Cleanup(func() {
		resolvConf, rewriteDefault, hostname = old[0].(string), old[1].(string), old[2].(func() (string, error))
	})
	if resolv != "" {
		os.WriteFile(resolvConf, []byte(resolv), 0o644)
	}
	if rewrite != "" {
		os.WriteFile(rewriteDefault, []byte(rewrite), 0o644)
	}
}

func TestReadServers(t *testing.T) {
	for _, tc := range []struct {
		env    string // "-" for unset
		resolv string
		want   string
	}{
		{"-", "", "127.0.0.1"},
		{"-", "nameserver 10.0.0.1\nnameserver\t 10.0.0.2 # x\nnameserver ::1\nnameserver 0.0.0.0\n#nameserver 1.1.1.1\n nameserver 9.9.9.9\nnameserver 10.0.0.3", "10.0.0.1 10.0.0.2 127.0.0.1 10.0.0.3"},
		{"-", "search example.test\n", "127.0.0.1"},
		{"10.1.1.1", "nameserver 10.0.0.1\n", "10.1.1.1"},
		{"", "nameserver 10.0.0.1\n", "10.0.0.1"},
		{"x", "nameserver 10.0.0.1\n", "10.0.0.1"},
		{"-", strings.Repeat("nameserver 10.0.0.1\n", 20), strings.TrimSpace(strings.Repeat("10.0.0.1 ", 16))},
		{"-", "nameserver 10.0.0.1\n" + strings.Repeat("#", 100_000) + "\nnameserver 10.0.0.2\n", "10.0.0.1 10.0.0.2"},
	} {
		withFiles(t, tc.resolv, "", "host")
		if tc.env == "-" {
			os.Unsetenv("DNSCACHEIP")
		} else {
			t.Setenv("DNSCACHEIP", tc.env)
		}
		servers, err := readServers()
		var got []string
		for _, a := range servers {
			got = append(got, a.String())
		}
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("DNSCACHEIP %q, resolv.conf %q: %q %v, want %q", tc.env, tc.resolv, got, err, tc.want)
		}
	}
	t.Setenv("DNSCACHEIP", "")
	withFiles(t, "", "", "host")
	os.Mkdir(resolvConf, 0o755) // unreadable: every lookup fails, as in djb's library
	if _, err := readServers(); !errors.Is(err, syscall.EISDIR) {
		t.Errorf("resolv.conf a directory: %v", err)
	}
}

func TestQualify(t *testing.T) {
	for _, tc := range []struct {
		name          string
		env           string // LOCALDOMAIN, "-" for unset
		resolv, rules string // rules "(empty)": an empty file
		host          string
		want          string // the names, space separated
	}{
		// The host's own domain, or none.
		{name: "www", env: "-", host: "me.example.test", want: "www.example.test"},
		{name: "www", env: "-", host: "me", want: "www"},
		{name: "www.", env: "-", host: "me", want: "www"},
		{name: "WWW.test.", env: "-", host: "me.example.test", want: "WWW.test"},
		{name: "127.0.0.1", env: "-", host: "me.example.test", want: "127.0.0.1"},
		{name: "12", env: "-", host: "me.example.test", want: "12.example.test"},
		{name: "[12]", env: "-", host: "me.example.test", want: "[12]"},
		// $LOCALDOMAIN: each domain tried in turn, never the bare name.
		{name: "www", env: "a.test b.test", want: "www.a.test www.b.test"},
		{name: "www", env: "a.test  b.test", want: "www.a.test www. www.b.test"},
		{name: "www", env: "", want: "www"}, // "www+." loses its dot to "*.:"
		{name: "www.x", env: "a.test", want: "www.x"},
		// resolv.conf's first search or domain line.
		{name: "www", env: "-", resolv: "nameserver 1.2.3.4\nsearch\ta.test  b.test\ndomain c.test\n", want: "www.a.test www.b.test"},
		{name: "www", env: "-", resolv: "domain c.test\nsearch a.test\n", want: "www.c.test"},
		{name: "www", env: "-", resolv: "search\n", host: "h.d.test", want: "www.d.test"},
		// /etc/dnsrewrite, in place of all of that.
		{name: "www", env: "a.test", rules: "(empty)", want: "www"},
		{name: "www.Example.TEST", env: "-", rules: "*.example.test:.other.test\n", want: "www.other.test"},
		{name: "www", env: "-", rules: "=www:mail.test \t\r\n=ww:no\n", want: "mail.test"},
		{name: "xwww", env: "-", rules: "=www:mail.test\n", want: "xwww"},
		{name: "anything.test", env: "-", rules: "-.test:fixed.test\n", want: "fixed.test"},
		{name: "a.b", env: "-", rules: "?:+.one+.two\n", want: "a.b"},
		{name: "ab", env: "-", rules: "?:+.one+.two\nnonsense\n*.two:.TWO\n", want: "ab.one ab.TWO"},
	} {
		withFiles(t, tc.resolv, tc.rules, tc.host)
		if tc.rules == "(empty)" {
			os.WriteFile(rewriteDefault, nil, 0o644) // an empty file: no rules at all
		}
		if tc.env == "-" {
			os.Unsetenv("LOCALDOMAIN")
		} else {
			t.Setenv("LOCALDOMAIN", tc.env)
		}
		os.Unsetenv("DNSREWRITEFILE")
		names, err := New().Qualify(tc.name)
		if err != nil || strings.Join(names, " ") != tc.want {
			t.Errorf("%+v: %q %v", tc, names, err)
		}
	}
	// $DNSREWRITEFILE names the file.
	withFiles(t, "", "", "me")
	file := filepath.Join(t.TempDir(), "rw")
	os.WriteFile(file, []byte("=a:b.test\n"), 0o644)
	t.Setenv("DNSREWRITEFILE", file)
	if names, err := New().Qualify("a"); err != nil || !slices.Equal(names, []string{"b.test"}) {
		t.Errorf("DNSREWRITEFILE: %q %v", names, err)
	}
}

func TestConfigurationKept(t *testing.T) {
	var c cached[int]
	reads := 0
	read := func() (int, error) { reads++; return reads, nil }
	now := time.Unix(1000, 0)
	for i := range confUses {
		if v, _ := c.get(now, read); v != 1 {
			t.Fatalf("use %d: read again", i)
		}
	}
	if v, _ := c.get(now, read); v != 2 {
		t.Errorf("after %d uses: %d reads, want 2", confUses, v)
	}
	if v, _ := c.get(now.Add(confLifetime+time.Second), read); v != 3 {
		t.Errorf("after ten minutes: %d reads, want 3", v)
	}
	fail := func() (int, error) { reads++; return 0, syscall.EACCES }
	c = cached[int]{}
	c.get(now, fail)
	if _, err := c.get(now, read); err != nil {
		t.Errorf("a failed read is kept: %v", err)
	}
}

func TestLiteral4(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string // "-" for not a literal
	}{
		{"127.000.000.001", "127.0.0.1"},
		{"[127.0.0.1]", "127.0.0.1"},
		{"127.0.0.1.", "127.0.0.1"},
		{"1.2.3", ""},
		{"", ""},
		{"1.2.3.4.5.6.7.8", "1.2.3.4 5.6.7.8"},
		{"300.2.3.4", "44.2.3.4"},
		{"1.2.3.x", "-"},
		{"::1", "-"},
	} {
		addrs, ok := Literal4(tc.name)
		var got []string
		for _, a := range addrs {
			got = append(got, a.String())
		}
		s := strings.Join(got, " ")
		if !ok {
			s = "-"
		}
		if s != tc.want {
			t.Errorf("Literal4(%q) = %q, want %q", tc.name, s, tc.want)
		}
	}
}

func TestReverseName(t *testing.T) {
	for ip, want := range map[string]string{
		"1.2.3.4":           "4.3.2.1.in-addr.arpa",
		"::ffff:10.0.0.255": "255.0.0.10.in-addr.arpa",
		"2001:db8::1":       "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
	} {
		if got := reverseName(netip.MustParseAddr(ip)); got != want {
			t.Errorf("%s: %s, want %s", ip, got, want)
		}
	}
}

// FuzzLiteral4 checks dns_ip4's reading on any input: a name of digits, dots
// and brackets is a literal with one address per four bytes, the bytes being
// the dot-separated numbers modulo 256; anything else is not a literal.
func FuzzLiteral4(f *testing.F) {
	f.Fuzz(func(t *testing.T, name string) {
		addrs, literal := Literal4(name)
		if strings.Trim(name, "0123456789.[]") != "" {
			if literal {
				t.Fatalf("%q read as a literal", name)
			}
			return
		}
		if !literal {
			t.Fatalf("%q not read as a literal", name)
		}
		fields := strings.Split(strings.NewReplacer("[", "", "]", "").Replace(name), ".")
		if len(addrs) != len(fields)/4 {
			t.Fatalf("%q: %d addresses from %d numbers", name, len(addrs), len(fields))
		}
		for i, a := range addrs {
			b := a.As4()
			for j := range 4 {
				var n byte
				for _, d := range fields[4*i+j] {
					n = n*10 + byte(d-'0')
				}
				if b[j] != n {
					t.Fatalf("%q: address %d is %v", name, i, a)
				}
			}
		}
	})
}

// FuzzCacheIPs: whatever $DNSCACHEIP holds, at most 16 servers come out, each
// as the text it was read from says (an IPv4 address modulo 256, or IPv6).
func FuzzCacheIPs(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		servers := cacheIPs(v)
		if len(servers) > maxServers {
			t.Fatalf("%q: %d servers", v, len(servers))
		}
		for _, s := range servers {
			if !s.IsValid() || s.Is4In6() {
				t.Fatalf("%q: server %v", v, s)
			}
		}
	})
}

// FuzzRewrite: any dnsrewrite rule on any name gives a name, and a rule that
// is not one of djb's four kinds changes nothing.
func FuzzRewrite(f *testing.F) {
	f.Fuzz(func(t *testing.T, name, rule string) {
		got := rewrite(name, rule)
		if rule == "" || !strings.ContainsRune("?=*-", rune(rule[0])) || !strings.Contains(rule, ":") {
			if got != name {
				t.Fatalf("rewrite(%q, %q) = %q", name, rule, got)
			}
		}
	})
}
