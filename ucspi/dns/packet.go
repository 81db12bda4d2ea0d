package dns

import (
	"net/netip"
	"syscall"
)

// The wire format, read by djb's rules (dns_packet.c, dns_domain.c,
// dns_dfd.c, dns_dtda.c) rather than by a general DNS library: the rules
// are the behaviour ucspi-tcp's users see. A name is kept in wire form (length-
// prefixed labels, a zero at the end) from the question to the answer, so a
// label may hold any byte, a dot included, as in djb's library.

// Record types and the class this package asks for.
const (
	typeA    = 1
	typePTR  = 12
	typeTXT  = 16
	typeAAAA = 28
	classIN  = 1
)

// errProto is what djb's library sets for a name it cannot encode and a
// packet it cannot read.
var errProto error = syscall.EPROTO

// fromDot is dns_domain_fromdot: the wire form of a dotted name. Empty labels
// are skipped (so "a..b." is a.b), a backslash takes the next byte as it is or
// up to three octal digits as one byte. ok is false for a label longer than 63
// bytes or a name longer than 255.
func fromDot(name string) (wire []byte, ok bool) {
	var label [63]byte
	n := 0 // bytes in label
	wire = make([]byte, 0, len(name)+2)
	end := func() bool {
		if n == 0 {
			return true
		}
		if len(wire)+n+1 > 255 {
			return false
		}
		wire = append(append(wire, byte(n)), label[:n]...)
		n = 0
		return true
	}
	for i := 0; i < len(name); i++ {
		ch := name[i]
		if ch == '.' {
			if !end() {
				return nil, false
			}
			continue
		}
		if ch == '\\' {
			if i++; i == len(name) {
				break // a final backslash is dropped
			}
			ch = name[i]
			if ch >= '0' && ch <= '7' {
				ch -= '0'
				for k := 0; k < 2 && i+1 < len(name) && name[i+1] >= '0' && name[i+1] <= '7'; k++ {
					i++
					ch = ch<<3 + name[i] - '0'
				}
			}
		}
		if n == len(label) {
			return nil, false
		}
		label[n] = ch
		n++
	}
	if !end() || len(wire)+1 > 255 {
		return nil, false
	}
	return append(wire, 0), true
}

// appendToDot is dns_domain_todot_cat: wire name as text, letters lowercased,
// bytes other than a-z 0-9 - _ written as a backslash and three octal digits,
// the root as ".".
func appendToDot(b, wire []byte) []byte {
	if len(wire) == 0 || wire[0] == 0 {
		return append(b, '.')
	}
	for i := 0; i < len(wire) && wire[i] != 0; {
		if i > 0 {
			b = append(b, '.')
		}
		n := int(wire[i])
		i++
		for _, ch := range wire[i:min(i+n, len(wire))] {
			if ch >= 'A' && ch <= 'Z' {
				ch += 'a' - 'A'
			}
			switch {
			case ch >= 'a' && ch <= 'z', ch >= '0' && ch <= '9', ch == '-', ch == '_':
				b = append(b, ch)
			default:
				b = append(b, '\\', '0'+ch>>6, '0'+ch>>3&7, '0'+ch&7)
			}
		}
		i += n
	}
	return b
}

// equalNames is dns_domain_equal: the same wire name, ignoring the case of
// ASCII letters (length bytes are below 'A', so they compare exactly).
func equalNames(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// appendQuery is the question packet (with TCP's two length bytes in front):
// id, recursion desired, one question of qtype for the wire name q, class IN.
func appendQuery(b []byte, id uint16, q []byte, qtype uint16) []byte {
	n := 12 + len(q) + 4
	b = append(b, byte(n>>8), byte(n), byte(id>>8), byte(id), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0)
	b = append(b, q...)
	return append(b, byte(qtype>>8), byte(qtype), 0, classIN)
}

// skipName is dns_packet_skipname: the position after the name at pos, which
// ends at its first compression pointer; ok is false past the end or at a
// reserved label type.
func skipName(buf []byte, pos int) (int, bool) {
	for pos < len(buf) {
		ch := buf[pos]
		pos++
		switch {
		case ch >= 192:
			return pos + 1, true
		case ch >= 64:
			return 0, false
		case ch == 0:
			return pos, true
		}
		pos += int(ch)
	}
	return 0, false
}

// getName is dns_packet_getname: the wire name at pos, compression pointers
// followed (at most 1000 steps in all), and the position after it in place.
func getName(buf []byte, pos int) (name []byte, next int, ok bool) {
	var out [255]byte
	n := 0
	steps := 0
	state := 0 // bytes left in the current label
	resume := 0
	next1 := func() (byte, bool) {
		if pos >= len(buf) {
			return 0, false
		}
		pos++
		return buf[pos-1], true
	}
	for {
		ch, more := next1()
		if !more {
			return nil, 0, false
		}
		if steps++; steps >= 1000 {
			return nil, 0, false
		}
		if state > 0 {
			if n == len(out) {
				return nil, 0, false
			}
			out[n] = ch
			n++
			state--
			continue
		}
		for ch >= 192 {
			low, more := next1()
			if !more {
				return nil, 0, false
			}
			if resume == 0 {
				resume = pos
			}
			pos = int(ch-192)<<8 | int(low)
			if ch, more = next1(); !more {
				return nil, 0, false
			}
			if steps++; steps >= 1000 {
				return nil, 0, false
			}
		}
		if ch >= 64 || n == len(out) {
			return nil, 0, false
		}
		out[n] = ch
		n++
		if ch == 0 {
			break
		}
		state = int(ch)
	}
	if resume == 0 {
		resume = pos
	}
	return append([]byte(nil), out[:n]...), resume, true
}

// header is the fixed part of a packet djb's library looks at.
type header struct {
	id      uint16
	tc      bool // truncated: ask again over TCP
	rcode   byte
	qdcount uint16
	ancount uint16
}

func readHeader(buf []byte) (header, bool) {
	if len(buf) < 12 {
		return header{}, false
	}
	return header{
		id:      uint16(buf[0])<<8 | uint16(buf[1]),
		tc:      buf[2]&2 != 0,
		rcode:   buf[3] & 15,
		qdcount: uint16(buf[4])<<8 | uint16(buf[5]),
		ancount: uint16(buf[6])<<8 | uint16(buf[7]),
	}, true
}

// answers calls each for every record of the answer section, as djb's
// dns_*_packet functions walk it: the question's name is skipped with its type
// and class unread, and a record is its skipped owner name, type, class and
// data length, its data at pos (which may lie past the end of the packet:
// each reader checks what it reads). The walk stops when each returns false;
// ok is false when the packet ends before a record's header.
func answers(buf []byte, each func(typ, class uint16, pos, datalen int) bool) bool {
	h, ok := readHeader(buf)
	if !ok {
		return false
	}
	pos, ok := skipName(buf, 12)
	if !ok {
		return false
	}
	pos += 4
	for range h.ancount {
		if pos, ok = skipName(buf, pos); !ok || pos+10 > len(buf) {
			return false
		}
		typ := uint16(buf[pos])<<8 | uint16(buf[pos+1])
		class := uint16(buf[pos+2])<<8 | uint16(buf[pos+3])
		datalen := int(buf[pos+8])<<8 | int(buf[pos+9])
		pos += 10
		if !each(typ, class, pos, datalen) {
			return true
		}
		pos += datalen
	}
	return true
}

// addrPacket is dns_ip4_packet (size 4, type A) and ucspi-tcp-ipv6's
// dns_ip6_packet (size 16, type AAAA): every address record of the answer
// section, whatever its owner; records of other types (a CNAME chain) are
// passed over, as are address records of another size.
func addrPacket(buf []byte, qtype uint16, size int) ([]netip.Addr, error) {
	var addrs []netip.Addr
	cut := false
	ok := answers(buf, func(typ, class uint16, pos, datalen int) bool {
		if typ != qtype || class != classIN || datalen != size {
			return true
		}
		if pos+size > len(buf) {
			cut = true
			return false
		}
		a, _ := netip.AddrFromSlice(buf[pos : pos+size])
		addrs = append(addrs, a)
		return true
	})
	if !ok || cut {
		return nil, errProto
	}
	return addrs, nil
}

// namePacket is dns_name_packet: the first PTR record of the answer section,
// whatever its owner, as dns_domain_todot_cat writes it; "" when there is none.
func namePacket(buf []byte) (string, error) {
	var name []byte
	failed := false
	ok := answers(buf, func(typ, class uint16, pos, _ int) bool {
		if typ != typePTR || class != classIN {
			return true
		}
		wire, _, ok := getName(buf, pos)
		if ok {
			name = appendToDot(nil, wire)
		}
		failed = !ok
		return false
	})
	if !ok || failed {
		return "", errProto
	}
	return string(name), nil
}

// txtPacket is dns_txt_packet: the strings of every TXT record of the answer
// section joined together, each byte outside 32..126 turned into '?'.
func txtPacket(buf []byte) (string, error) {
	var text []byte
	failed := false
	ok := answers(buf, func(typ, class uint16, pos, datalen int) bool {
		if typ != typeTXT || class != classIN {
			return true
		}
		if pos+datalen > len(buf) {
			failed = true
			return false
		}
		left := 0 // bytes left in the current string; at 0 a length byte comes
		for _, ch := range buf[pos : pos+datalen] {
			if left == 0 {
				left = int(ch)
				continue
			}
			left--
			if ch < 32 || ch > 126 {
				ch = '?'
			}
			text = append(text, ch)
		}
		return true
	})
	if !ok || failed {
		return "", errProto
	}
	return string(text), nil
}
