package ucspi

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"net/netip"
	"strconv"
	"sync"
)

// The PROXY protocol, versions 1 and 2
// (haproxy.org/download/2.6/doc/proxy-protocol.txt): the header a balancer
// sends before the client's bytes to say whose connection it relays. This file
// frames and parses a header and builds one; proxyread.go reads it off a
// connection, byte-exactly.

// ProxyHeader is what a PROXY header says.
type ProxyHeader struct {
	Version int    // 1 or 2
	Command string // "PROXY", or "LOCAL" (v2's LOCAL, v1's UNKNOWN): the balancer's own connection
	// Source and Dest are the client's connection as the balancer accepted
	// it, the client's end first. Both are the zero AddrPort when the header
	// carries no TCP addresses (LOCAL, UNKNOWN, v2's AF_UNSPEC, AF_UNIX or
	// DGRAM): the socket's own addresses stand then.
	Source, Dest netip.AddrPort
}

// A ProxyError is why a header was refused, in the fixed words the log uses.
type ProxyError string

func (e ProxyError) Error() string { return string(e) }

const (
	errNoSignature ProxyError = "no signature"
	errTooLong     ProxyError = "line too long"
	errAddress     ProxyError = "bad address"
	errPort        ProxyError = "bad port"
	errVersion     ProxyError = "bad version"
	errCommand     ProxyError = "bad command"
	errFamily      ProxyError = "bad family"
	errLength      ProxyError = "bad length"
	errTLV         ProxyError = "bad TLV"
	errCRC         ProxyError = "CRC32C mismatch"
)

const (
	v1Prefix = "PROXY "
	v1Max    = 107 // "PROXY UNKNOWN ffff:...:ffff ffff:...:ffff 65535 65535\r\n"
	v2Fixed  = 16  // signature, version and command, family, length
)

var v2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

// proxyLength frames a header from its first bytes p: its whole length once p
// shows it, 0 while more bytes are needed, or the error that refuses it
// already. Every byte of p is the header's as long as the length is unknown,
// so a reader may consume them; it never needs a byte past the header.
func proxyLength(p []byte) (int, error) {
	switch {
	case len(p) == 0:
		return 0, nil
	case p[0] == 'P':
		if n := min(len(p), len(v1Prefix)); string(p[:n]) != v1Prefix[:n] {
			return 0, errNoSignature
		}
		if i := bytes.Index(p[:min(len(p), v1Max)], []byte("\r\n")); i >= 0 {
			return i + 2, nil
		}
		if len(p) >= v1Max {
			return 0, errTooLong
		}
		return 0, nil
	case p[0] == '\r':
		if n := min(len(p), len(v2Signature)); !bytes.Equal(p[:n], v2Signature[:n]) {
			return 0, errNoSignature
		}
		if len(p) < v2Fixed {
			return 0, nil
		}
		return v2Fixed + int(binary.BigEndian.Uint16(p[14:16])), nil
	}
	return 0, errNoSignature
}

// ParseProxy reads one whole header, exactly as proxyLength framed it.
func ParseProxy(b []byte) (ProxyHeader, error) {
	n, err := proxyLength(b)
	switch {
	case len(b) == 0:
		return ProxyHeader{}, errNoSignature
	case err != nil:
		return ProxyHeader{}, err
	case n == 0 || n > len(b):
		if b[0] == 'P' {
			return ProxyHeader{}, errTooLong // no CRLF
		}
		return ProxyHeader{}, errLength
	case n < len(b):
		return ProxyHeader{}, errLength
	case b[0] == 'P':
		return parseV1(string(b[len(v1Prefix) : n-2]))
	}
	return parseV2(b)
}

// parseV1 reads the line between "PROXY " and CRLF: "TCP4 SRC DST SPORT
// DPORT", the same with TCP6, or UNKNOWN followed by anything.
func parseV1(line string) (ProxyHeader, error) {
	h := ProxyHeader{Version: 1, Command: "PROXY"}
	proto, rest, _ := cut(line)
	var four bool
	switch proto {
	case "UNKNOWN":
		h.Command = "LOCAL"
		return h, nil
	case "TCP4":
		four = true
	case "TCP6":
	default:
		return h, errFamily
	}
	src, rest, _ := cut(rest)
	dst, rest, _ := cut(rest)
	sport, dport, _ := cut(rest)
	srcIP, ok1 := v1Addr(src, four)
	dstIP, ok2 := v1Addr(dst, four)
	if !ok1 || !ok2 {
		return h, errAddress
	}
	sp, ok1 := v1Port(sport)
	dp, ok2 := v1Port(dport)
	if !ok1 || !ok2 {
		return h, errPort
	}
	h.Source = netip.AddrPortFrom(srcIP, sp)
	h.Dest = netip.AddrPortFrom(dstIP, dp)
	return h, nil
}

// cut splits s at its first space: exactly one space separates the fields.
func cut(s string) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// v1Addr is an address of the family TCP4 or TCP6 names, in its canonical
// text: netip refuses leading zeros in IPv4, as the specification does; a
// zone is no part of it.
func v1Addr(s string, four bool) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Is4() != four || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

// v1Port is a port in decimal, 0 to 65535, without leading zeros.
func v1Port(s string) (uint16, bool) {
	if s == "" || len(s) > 5 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err == nil
}

// parseV2 reads a binary header: version and command, family and transport,
// the addresses, then TLVs, checking a CRC32C TLV when there is one.
func parseV2(b []byte) (ProxyHeader, error) {
	h := ProxyHeader{Version: 2}
	if b[12]>>4 != 2 {
		return h, errVersion
	}
	switch b[12] & 0xf {
	case 0:
		h.Command = "LOCAL"
	case 1:
		h.Command = "PROXY"
	default:
		return h, errCommand
	}
	family, transport := b[13]>>4, b[13]&0xf
	size, known := v2AddrSize(family)
	if transport > 2 {
		known = false
	}
	if !known {
		if h.Command == "LOCAL" {
			return h, nil // "the family is ignored", and so the block is
		}
		return h, errFamily
	}
	block := b[v2Fixed:]
	if len(block) < size {
		return h, errLength
	}
	if err := checkTLVs(b, v2Fixed+size); err != nil {
		return h, err
	}
	if h.Command == "PROXY" && transport == 1 && (family == 1 || family == 2) {
		n := size/2 - 2
		src, _ := netip.AddrFromSlice(block[:n])
		dst, _ := netip.AddrFromSlice(block[n : 2*n])
		h.Source = netip.AddrPortFrom(src, binary.BigEndian.Uint16(block[2*n:]))
		h.Dest = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(block[2*n+2:]))
	}
	return h, nil
}

// v2AddrSize is the size of the address block of a family: AF_UNSPEC,
// AF_INET, AF_INET6, AF_UNIX.
func v2AddrSize(family byte) (int, bool) {
	switch family {
	case 0:
		return 0, true
	case 1:
		return 2*4 + 2*2, true
	case 2:
		return 2*16 + 2*2, true
	case 3:
		return 2 * 108, true
	}
	return 0, false
}

const tlvCRC32C = 0x03

// castagnoli is hash/crc32's CRC-32C table, made at its first use: made in
// our package init, it cost 0.1 ms at every start of every applet.
var castagnoli = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

// crc32c adds p to a CRC-32C in progress (not inverted at either end), a
// byte at a time from hash/crc32's table. crc32.Update calls its
// implementation through a function variable, so that every header buffer
// passed to it would have been moved to the heap, 256 bytes of garbage on
// every PROXY connection; headers are short enough for the table.
func crc32c(sum uint32, p []byte) uint32 {
	t := castagnoli()
	for _, c := range p {
		sum = t[byte(sum)^c] ^ sum>>8
	}
	return sum
}

// checkTLVs walks the TLVs of header b from off to its end: each must fit
// exactly; a CRC32C TLV must hold the checksum of the whole header with its
// own value taken as zeros. The others are skipped, unread.
func checkTLVs(b []byte, off int) error {
	for off < len(b) {
		if len(b)-off < 3 {
			return errTLV
		}
		typ, n := b[off], int(binary.BigEndian.Uint16(b[off+1:off+3]))
		value := off + 3
		if len(b)-value < n {
			return errTLV
		}
		if typ == tlvCRC32C {
			if n != 4 {
				return errTLV
			}
			sum := crc32c(^uint32(0), b[:value])
			sum = crc32c(sum, []byte{0, 0, 0, 0})
			sum = ^crc32c(sum, b[value+4:])
			if sum != binary.BigEndian.Uint32(b[value:]) {
				return errCRC
			}
		}
		off = value + n
	}
	return nil
}

// AppendProxy adds a header of the given version (1 or 2) saying that the
// connection from src to dst is relayed. When either is invalid it says
// nothing of addresses instead: v1's "PROXY UNKNOWN", v2's LOCAL. An IPv4
// address beside an IPv6 one is written IPv4-mapped.
func AppendProxy(b []byte, version int, src, dst netip.AddrPort) []byte {
	known := src.IsValid() && dst.IsValid()
	sa, da := src.Addr().Unmap(), dst.Addr().Unmap()
	four := sa.Is4() && da.Is4()
	if !four {
		sa, da = netip.AddrFrom16(sa.As16()), netip.AddrFrom16(da.As16())
	}
	sa, da = sa.WithZone(""), da.WithZone("")
	if version == 1 {
		if !known {
			return append(b, "PROXY UNKNOWN\r\n"...)
		}
		b = append(b, "PROXY TCP6 "...)
		if four {
			b[len(b)-2] = '4'
		}
		b = append(sa.AppendTo(b), ' ')
		b = append(da.AppendTo(b), ' ')
		b = append(strconv.AppendUint(b, uint64(src.Port()), 10), ' ')
		b = strconv.AppendUint(b, uint64(dst.Port()), 10)
		return append(b, "\r\n"...)
	}
	b = append(b, v2Signature...)
	if !known {
		return append(b, 0x20, 0x00, 0, 0)
	}
	family := byte(0x21) // TCP over IPv6
	if four {
		family = 0x11 // TCP over IPv4
	}
	size, _ := v2AddrSize(family >> 4)
	b = append(b, 0x21, family) // version 2, PROXY
	b = binary.BigEndian.AppendUint16(b, uint16(size))
	b = append(b, sa.AsSlice()...)
	b = append(b, da.AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}
