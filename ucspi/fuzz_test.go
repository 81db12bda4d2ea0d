package ucspi

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ucspi-go/ucspi/ucspi/dns"
)

// FuzzHostLiteral: whatever the host argument, Host either gives an address or
// 0.88's error, and never asks the DNS about anything made of digits, dots,
// brackets or colons.
func FuzzHostLiteral(f *testing.F) {
	for _, s := range []string{"0", "", "127.0.0.1", "127.000.000.001", "[1.2.3.4]", "1.2.3", "::1", "[::1]",
		"fe80::1%eth0", "::ffff:1.2.3.4", "1.2.3.4.5", "999.1.1.1", "[", "]:", ":::"} {
		f.Add(s, false)
	}
	// No server to ask: a question fails at once with "input/output error".
	os.Setenv("DNSCACHEIP", "0.0.0.0")
	defer os.Unsetenv("DNSCACHEIP")
	r := dns.New()
	f.Fuzz(func(t *testing.T, host string, ipv4Only bool) {
		ip, err := Host(r, host, ipv4Only)
		if err == nil && !ip.IsValid() {
			t.Fatalf("Host(%q) = invalid address without an error", host)
		}
		if err == nil && ipv4Only && !ip.Is4() {
			t.Fatalf("Host(%q, -4) = %v", host, ip)
		}
		literal := strings.Contains(host, ":") || strings.Trim(host, "0123456789.[]") == ""
		if literal && err != nil && strings.Contains(err.Error(), "input/output error") {
			t.Fatalf("Host(%q) asked the DNS", host)
		}
		if addrs, ok := dns.Literal4(host); ok && err == nil && host != "0" && host != "" && ip != addrs[0] {
			t.Fatalf("Host(%q) = %v, dns_ip4 %v", host, ip, addrs)
		}
	})
}

// FuzzServices: getservbyname over any /etc/services never panics and finds
// only what the file says.
func FuzzServices(f *testing.F) {
	f.Add("smtp 25/tcp mail\n", "mail")
	f.Add("# x\nhttp\t80/tcp www # web\n", "www")
	f.Add("x 99999/tcp\n", "x")
	f.Add("y /tcp\nz 1/udp\n", "y")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, file, name string) {
		p := filepath.Join(dir, "services")
		if err := os.WriteFile(p, []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		port, ok := service(p, name)
		if ok && (!strings.Contains(file, name) || !strings.Contains(file, "/tcp")) {
			t.Fatalf("service(%q) = %d from %q", name, port, file)
		}
	})
}

// FuzzSafe: a log field is at most 103 bytes, of '!'..'~' only, never ':' or '%'.
func FuzzSafe(f *testing.F) {
	for _, s := range []string{"", "host.example", "a:b%c", strings.Repeat("x", 100), "\x00\xff\n "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendSafe(nil, s)
		if len(b) > 103 {
			t.Fatalf("%d bytes for %q", len(b), s)
		}
		for _, c := range b {
			if c < '!' || c > '~' || c == ':' || c == '%' {
				t.Fatalf("%q in the log field for %q", c, s)
			}
		}
		c := &Description{Local: netip.MustParseAddrPort("1.2.3.4:5"), Remote: netip.MustParseAddrPort("[::1]:6"), RemoteInfo: &s}
		if line := (&logger{name: "tcpserver"}).appendVerdict(nil, "ok", 1, c); strings.Count(string(line), "\n") != 1 {
			t.Fatalf("ok line %q", line)
		}
	})
}
