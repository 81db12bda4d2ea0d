package rblsmtpd

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func TestClientAddr(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" means no usable address
	}{
		{"1.2.3.4", "1.2.3.4"},
		{"::ffff:1.2.3.4", "1.2.3.4"},
		{"2001:db8::1", "2001:db8::1"},
		{"fe80::1%eth0", "fe80::1"},
		{"::1", "::1"},
		{"", ""},
		{"1.2.3", ""},
		{"01.2.3.4", ""},
		{"[::1]", ""},
		{"host.example", ""},
	} {
		ip, ok := ClientAddr(tc.in)
		got := ""
		if ok {
			got = ip.String()
		}
		if got != tc.want {
			t.Errorf("ClientAddr(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestQueryName(t *testing.T) {
	for _, tc := range []struct {
		ip, base, want string
	}{
		{"1.2.3.4", "rbl.test", "4.3.2.1.rbl.test."},
		{"127.0.0.2", "zen.spamhaus.org.", "2.0.0.127.zen.spamhaus.org."},
		{"255.10.0.199", "x", "199.0.10.255.x."},
		{"1.2.3.4", "", "4.3.2.1."},
		{"2001:db8::1", "rbl.test", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.rbl.test."},
		{"2001:db8:abcd:12::fe", "b", "e.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.1.0.0.d.c.b.a.8.b.d.0.1.0.0.2.b."},
	} {
		if got := QueryName(netip.MustParseAddr(tc.ip), tc.base); got != tc.want {
			t.Errorf("QueryName(%s, %q) = %q, want %q", tc.ip, tc.base, got, tc.want)
		}
	}
}

// FuzzQueryName: whatever the client, its name under a base reads back, label by
// label, as the address it came from.
func FuzzQueryName(f *testing.F) {
	f.Add("1.2.3.4")
	f.Add("::ffff:10.0.0.1")
	f.Add("2001:db8::1")
	f.Add("fe80::1%eth0")
	f.Fuzz(func(t *testing.T, s string) {
		ip, ok := ClientAddr(s)
		if !ok {
			return
		}
		name := QueryName(ip, "base.test")
		labels, found := strings.CutSuffix(name, ".base.test.")
		if !found {
			t.Fatalf("QueryName(%v) = %q: not under the base", ip, name)
		}
		parts := strings.Split(labels, ".")
		var back netip.Addr
		if ip.Is4() {
			var a [4]byte
			if len(parts) != 4 {
				t.Fatalf("QueryName(%v) = %q", ip, name)
			}
			for i, p := range parts {
				n, err := strconv.ParseUint(p, 10, 8)
				if err != nil || strconv.Itoa(int(n)) != p {
					t.Fatalf("QueryName(%v) = %q: label %q", ip, name, p)
				}
				a[3-i] = byte(n)
			}
			back = netip.AddrFrom4(a)
		} else {
			var a [16]byte
			if len(parts) != 32 {
				t.Fatalf("QueryName(%v) = %q", ip, name)
			}
			for i, p := range parts {
				n, err := strconv.ParseUint(p, 16, 8)
				if err != nil || len(p) != 1 || strings.ToLower(p) != p {
					t.Fatalf("QueryName(%v) = %q: label %q", ip, name, p)
				}
				a[15-i/2] |= byte(n) << (4 * (i % 2))
			}
			back = netip.AddrFrom16(a)
		}
		if back != ip {
			t.Fatalf("QueryName(%v) = %q reads back as %v", ip, name, back)
		}
	})
}
