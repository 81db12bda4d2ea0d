package rblsmtpd

import (
	"net/netip"
	"strings"
)

// ClientAddr reads $TCPREMOTEIP: an IPv4 address, or an IPv6 one as
// ucspi-tcp-ipv6's tcpserver writes it (an IPv4-mapped address is the IPv4
// address it maps, a zone is dropped). ok is false for anything else, and then
// no list is consulted: 0.88 would have looked up the text itself, dots
// reversed, under each base (an unset variable asked the bases themselves).
func ClientAddr(s string) (ip netip.Addr, ok bool) {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap().WithZone(""), true
}

// QueryName is the name a list publishes ip's entry under, as absolute name:
// d.c.b.a.base for a.b.c.d, and for IPv6 the 32 nibbles of the address in
// reverse order (RFC 5782 section 2.4), e.g. for 2001:db8::1
// 1.0.0.0.[...].8.b.d.0.1.0.0.2.base.
func QueryName(ip netip.Addr, base string) string {
	var b strings.Builder
	if ip.Is4() {
		a := ip.As4()
		for i := 3; i >= 0; i-- {
			writeUint(&b, a[i])
			b.WriteByte('.')
		}
	} else {
		const hex = "0123456789abcdef"
		a := ip.As16()
		for i := 15; i >= 0; i-- {
			b.WriteByte(hex[a[i]&15])
			b.WriteByte('.')
			b.WriteByte(hex[a[i]>>4])
			b.WriteByte('.')
		}
	}
	// The absolute form keeps the resolver from trying search domains; a base
	// given with its own trailing dot means the same zone.
	if base = strings.TrimRight(base, "."); base != "" {
		b.WriteString(base)
		b.WriteByte('.')
	}
	return b.String()
}

func writeUint(b *strings.Builder, n byte) {
	if n >= 100 {
		b.WriteByte('0' + n/100)
	}
	if n >= 10 {
		b.WriteByte('0' + n/10%10)
	}
	b.WriteByte('0' + n%10)
}
