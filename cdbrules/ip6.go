package cdbrules

import (
	"errors"
	"net/netip"
	"strconv"
)

// FormatIP6 writes ip as the IPv6 patch's ip6_fmt does, which is the text
// ucspi-tcp-ipv6 puts in TCPREMOTEIP and looks rules up by. It differs from
// RFC 5952 in one way: a lone zero group is compressed too (2001:db8::1:1:1:1:1
// rather than 2001:db8:0:1:1:1:1:1). The first longest run of zero groups
// becomes "::"; an IPv4-mapped address ends in its dotted quad.
func FormatIP6(ip [16]byte) string {
	return string(appendIP6(make([]byte, 0, 39), ip))
}

func appendIP6(b []byte, ip [16]byte) []byte {
	s, n := zeroRun(groups(ip))
	for k := 0; k < 8; k++ {
		if k == 6 && isMapped(ip) {
			return netip.AddrFrom4([4]byte(ip[12:])).AppendTo(b)
		}
		if k == s && n > 0 {
			if k == 0 {
				b = append(b, ':')
			}
			b = append(b, ':')
			k += n - 1
			continue
		}
		b = strconv.AppendUint(b, uint64(ip[2*k])<<8|uint64(ip[2*k+1]), 16)
		if k < 7 {
			b = append(b, ':')
		}
	}
	return b
}

func groups(ip [16]byte) [8]uint16 {
	var g [8]uint16
	for k := range g {
		g[k] = uint16(ip[2*k])<<8 | uint16(ip[2*k+1])
	}
	return g
}

// zeroRun finds the first longest run of zero groups: its start and length
// (length 0 when there is none). A run of one counts, as in ip6_fmt.
func zeroRun(g [8]uint16) (start, n int) {
	for k := 0; k < 8; {
		if g[k] != 0 {
			k++
			continue
		}
		j := k
		for j < 8 && g[j] == 0 {
			j++
		}
		if j-k > n {
			start, n = k, j-k
		}
		k = j
	}
	return start, n
}

func isMapped(ip [16]byte) bool {
	return [12]byte(ip[:12]) == [12]byte{10: 0xff, 11: 0xff}
}

// errAmbiguous6 is an IPv6 prefix whose members' compact text cannot be told
// apart from non-members' by any text prefix, so no set of keys is exact.
var errAmbiguous6 = errors.New("unable to compile this IPv6 prefix exactly (its compact text is ambiguous)")

// cidrKeys gives the keys that make a lookup match exactly the addresses in p,
// in ascending order, through emit. See docs/rules.md for why these and only
// these keys are right.
//
// IPv4: the prefix is widened to the next octet boundary and each covering
// prefix is written the way the lookup cuts a dotted quad: "10." for /8,
// "192.168.16." ... "192.168.31." for /20, the address itself for /32.
//
// IPv6: likewise at 16-bit groups, written as the lookup cuts the ip6_fmt text
// after a colon. With groups G0..Gk, the key is "G0:...:Gk:"; when Gk is 0 the
// group may be the start of the "::" run instead, so "G0:...:G(k-1)::" is a key
// too (and "G0:...:Gk:" only while a later, longer zero run can exist, k <= 4).
// A zero group before Gk makes the prefix inexpressible: the text "a::b:" does
// not say how many groups "::" stood for. Past /112 the keys are the whole
// addresses; one ending in a zero group is refused too, as its text ("a:b::")
// is also a prefix key.
func cidrKeys(p netip.Prefix, emit func(key []byte) error) error {
	p = p.Masked()
	a, bits := p.Addr(), p.Bits()
	if a.Is4In6() && bits >= 96 {
		a, bits = a.Unmap(), bits-96
	}
	if a.Is4() {
		return cidr4Keys(a.As4(), bits, emit)
	}
	return cidr6Keys(groups(a.As16()), bits, emit)
}

func cidr4Keys(ip [4]byte, bits int, emit func([]byte) error) error {
	octets := max(1, (bits+7)/8)
	spread := 1 << (8*octets - bits)
	key := make([]byte, 0, 16)
	for v := 0; v < spread; v++ {
		key = key[:0]
		for i := 0; i < octets; i++ {
			o := int(ip[i])
			if i == octets-1 {
				o += v
			}
			key = strconv.AppendUint(key, uint64(o), 10)
			if i < 3 {
				key = append(key, '.')
			}
		}
		if err := emit(key); err != nil {
			return err
		}
	}
	return nil
}

func cidr6Keys(g [8]uint16, bits int, emit func([]byte) error) error {
	n := max(1, (bits+15)/16)
	spread := 1 << (16*n - bits)
	key := make([]byte, 0, 48)
	if n == 8 {
		// Whole addresses: the text of each is unambiguous.
		var ip [16]byte
		for k, v := range g {
			ip[2*k], ip[2*k+1] = byte(v>>8), byte(v)
		}
		for v := 0; v < spread; v++ {
			w := int(g[7]) + v
			ip[14], ip[15] = byte(w>>8), byte(w)
			// An address ending in zero groups is written "...::", which
			// is also the key of every address starting so.
			key = appendIP6(key[:0], ip)
			if key[len(key)-1] == ':' {
				return errAmbiguous6
			}
			if err := emit(key); err != nil {
				return err
			}
		}
		return nil
	}
	for k := 0; k < n-1; k++ {
		if g[k] == 0 {
			return errAmbiguous6
		}
	}
	for v := 0; v < spread; v++ {
		last := int(g[n-1]) + v
		key = key[:0]
		for k := 0; k < n-1; k++ {
			key = strconv.AppendUint(key, uint64(g[k]), 16)
			key = append(key, ':')
		}
		stem := len(key)
		if last == 0 {
			if stem == 0 {
				key = append(key, ':') // "::" at the start of the text
			}
			if err := emit(append(key, ':')); err != nil {
				return err
			}
			if n > 5 {
				continue
			}
		}
		key = append(strconv.AppendUint(key[:stem], uint64(last), 16), ':')
		if err := emit(key); err != nil {
			return err
		}
	}
	return nil
}
