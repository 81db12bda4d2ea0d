package ucspi

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"net/netip"
	"strings"
	"testing"
)

// v2 builds a version 2 header: verCmd, famProto, the address block, then
// the TLVs, each "type, value"; a CRC32C TLV's value is computed when given
// as nil.
func v2(verCmd, famProto byte, block []byte, tlvs ...any) []byte {
	b := append([]byte{}, v2Signature...)
	b = append(b, verCmd, famProto, 0, 0)
	b = append(b, block...)
	crcAt := -1
	for i := 0; i < len(tlvs); i += 2 {
		typ, value := tlvs[i].(int), tlvs[i+1]
		b = append(b, byte(typ))
		if value == nil {
			crcAt = len(b) + 2
			value = []byte{0, 0, 0, 0}
		}
		v := value.([]byte)
		b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
		b = append(b, v...)
	}
	binary.BigEndian.PutUint16(b[14:], uint16(len(b)-16))
	if crcAt >= 0 {
		binary.BigEndian.PutUint32(b[crcAt:], crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	}
	return b
}

var (
	inet4  = []byte{10, 1, 2, 3, 192, 0, 2, 1, 0x15, 0xb3, 0, 25} // 10.1.2.3:5555 -> 192.0.2.1:25
	inet6  = append(append(netip.MustParseAddr("2001:db8::7").AsSlice(), netip.MustParseAddr("2001:db8::1").AsSlice()...), 0x15, 0xb3, 0x01, 0xbb)
	unixAB = make([]byte, 216)
)

func TestParseProxy(t *testing.T) {
	src4, dst4 := netip.MustParseAddrPort("10.1.2.3:5555"), netip.MustParseAddrPort("192.0.2.1:25")
	src6, dst6 := netip.MustParseAddrPort("[2001:db8::7]:5555"), netip.MustParseAddrPort("[2001:db8::1]:443")
	for _, c := range []struct {
		name   string
		in     []byte
		want   ProxyHeader
		reason string
	}{
		{"v1 TCP4", []byte("PROXY TCP4 10.1.2.3 192.0.2.1 5555 25\r\n"), ProxyHeader{1, "PROXY", src4, dst4}, ""},
		{"v1 TCP6", []byte("PROXY TCP6 2001:db8::7 2001:db8::1 5555 443\r\n"), ProxyHeader{1, "PROXY", src6, dst6}, ""},
		{"v1 UNKNOWN", []byte("PROXY UNKNOWN\r\n"), ProxyHeader{1, "LOCAL", netip.AddrPort{}, netip.AddrPort{}}, ""},
		{"v1 UNKNOWN with fields", []byte("PROXY UNKNOWN whatever follows\r\n"), ProxyHeader{Version: 1, Command: "LOCAL"}, ""},
		{"v1 ports 0 and 65535", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 0 65535\r\n"),
			ProxyHeader{1, "PROXY", netip.MustParseAddrPort("1.2.3.4:0"), netip.MustParseAddrPort("5.6.7.8:65535")}, ""},
		{"v2 PROXY TCP4", v2(0x21, 0x11, inet4), ProxyHeader{2, "PROXY", src4, dst4}, ""},
		{"v2 PROXY TCP6", v2(0x21, 0x21, inet6), ProxyHeader{2, "PROXY", src6, dst6}, ""},
		{"v2 LOCAL", v2(0x20, 0x00, nil), ProxyHeader{Version: 2, Command: "LOCAL"}, ""},
		{"v2 LOCAL with addresses", v2(0x20, 0x11, inet4), ProxyHeader{Version: 2, Command: "LOCAL"}, ""},
		{"v2 LOCAL, family ignored", v2(0x20, 0x77, []byte{1, 2, 3}), ProxyHeader{Version: 2, Command: "LOCAL"}, ""},
		{"v2 PROXY UNSPEC", v2(0x21, 0x00, nil), ProxyHeader{Version: 2, Command: "PROXY"}, ""},
		{"v2 PROXY UDP", v2(0x21, 0x12, inet4), ProxyHeader{Version: 2, Command: "PROXY"}, ""},
		{"v2 PROXY UNIX", v2(0x21, 0x31, unixAB), ProxyHeader{Version: 2, Command: "PROXY"}, ""},
		{"v2 TLVs and CRC32C", v2(0x21, 0x11, inet4, 0x02, []byte("example.com"), 0x03, nil, 0x04, []byte{}, 0xe0, []byte("x")),
			ProxyHeader{2, "PROXY", src4, dst4}, ""},
		{"v2 longer address block", v2(0x21, 0x11, append(append([]byte{}, inet4...), 0x04, 0, 0)), ProxyHeader{2, "PROXY", src4, dst4}, ""},

		{"no signature", []byte("GET / HTTP/1.0\r\n"), ProxyHeader{}, "no signature"},
		{"no signature, PROXY without space", []byte("PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n"), ProxyHeader{}, "no signature"},
		{"no signature, v2 almost", append([]byte("\r\n\r\n\x00\r\nQUIX\n"), 0x21, 0x11, 0, 0), ProxyHeader{}, "no signature"},
		{"line too long", []byte("PROXY UNKNOWN " + strings.Repeat("x", 94) + "\r\n"), ProxyHeader{}, "line too long"},
		{"line too long, bare LF", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), ProxyHeader{}, "line too long"},
		{"bad address", []byte("PROXY TCP4 10.1.2.300 192.0.2.1 5555 25\r\n"), ProxyHeader{}, "bad address"},
		{"bad address, leading zero", []byte("PROXY TCP4 10.01.2.3 192.0.2.1 5555 25\r\n"), ProxyHeader{}, "bad address"},
		{"bad address, family", []byte("PROXY TCP4 2001:db8::7 192.0.2.1 5555 25\r\n"), ProxyHeader{}, "bad address"},
		{"bad address, TCP6 with IPv4", []byte("PROXY TCP6 10.1.2.3 2001:db8::1 5555 25\r\n"), ProxyHeader{}, "bad address"},
		{"bad address, two spaces", []byte("PROXY TCP4  10.1.2.3 192.0.2.1 5555 25\r\n"), ProxyHeader{}, "bad address"},
		{"bad address, zone", []byte("PROXY TCP6 fe80::1%eth0 2001:db8::1 5555 25\r\n"), ProxyHeader{}, "bad address"},
		{"bad address, missing", []byte("PROXY TCP4 10.1.2.3\r\n"), ProxyHeader{}, "bad address"},
		{"bad port", []byte("PROXY TCP4 10.1.2.3 192.0.2.1 65536 25\r\n"), ProxyHeader{}, "bad port"},
		{"bad port, leading zero", []byte("PROXY TCP4 10.1.2.3 192.0.2.1 5555 025\r\n"), ProxyHeader{}, "bad port"},
		{"bad port, extra field", []byte("PROXY TCP4 10.1.2.3 192.0.2.1 5555 25 9\r\n"), ProxyHeader{}, "bad port"},
		{"bad port, sign", []byte("PROXY TCP4 10.1.2.3 192.0.2.1 +5555 25\r\n"), ProxyHeader{}, "bad port"},
		{"bad port, missing", []byte("PROXY TCP4 10.1.2.3 192.0.2.1 5555\r\n"), ProxyHeader{}, "bad port"},
		{"bad family, v1", []byte("PROXY UDP4 10.1.2.3 192.0.2.1 5555 25\r\n"), ProxyHeader{}, "bad family"},
		{"bad family, v1 lower case", []byte("PROXY tcp4 10.1.2.3 192.0.2.1 5555 25\r\n"), ProxyHeader{}, "bad family"},
		{"bad version", v2(0x11, 0x11, inet4), ProxyHeader{}, "bad version"},
		{"bad command", v2(0x22, 0x11, inet4), ProxyHeader{}, "bad command"},
		{"bad family, v2", v2(0x21, 0x41, inet4), ProxyHeader{}, "bad family"},
		{"bad family, v2 transport", v2(0x21, 0x13, inet4), ProxyHeader{}, "bad family"},
		{"bad length", v2(0x21, 0x11, inet4[:11]), ProxyHeader{}, "bad length"},
		{"bad length, TCP6", v2(0x21, 0x21, inet4), ProxyHeader{}, "bad length"},
		{"bad TLV, short", v2(0x21, 0x11, append(append([]byte{}, inet4...), 0x04, 0)), ProxyHeader{}, "bad TLV"},
		{"bad TLV, overlong", v2(0x21, 0x11, append(append([]byte{}, inet4...), 0x04, 0, 9, 1)), ProxyHeader{}, "bad TLV"},
		{"bad TLV, CRC32C size", v2(0x21, 0x11, inet4, 0x03, []byte{1, 2, 3}), ProxyHeader{}, "bad TLV"},
		{"CRC32C mismatch", v2(0x21, 0x11, inet4, 0x03, []byte{1, 2, 3, 4}), ProxyHeader{}, "CRC32C mismatch"},
	} {
		got, err := ParseProxy(c.in)
		reason := ""
		if err != nil {
			reason = err.Error()
		}
		if reason != c.reason || (err == nil && got != c.want) {
			t.Errorf("%s: ParseProxy(%q) = %+v, %q; want %+v, %q", c.name, c.in, got, reason, c.want, c.reason)
		}
	}
}

// TestCRC32CCoversEverything: changing any byte of a checksummed header is
// caught, by the checksum or by the framing; all but the checksum's own type,
// which makes it a TLV to skip.
func TestCRC32CCoversEverything(t *testing.T) {
	h := v2(0x21, 0x11, inet4, 0x02, []byte("example.com"), 0x03, nil)
	if _, err := ParseProxy(h); err != nil {
		t.Fatal(err)
	}
	crcType := len(h) - 7
	for i := range h {
		if i == crcType {
			continue
		}
		b := bytes.Clone(h)
		b[i] ^= 0x40
		if got, err := ParseProxy(b); err == nil {
			t.Errorf("byte %d changed: accepted as %+v", i, got)
		}
	}
}

// TestProxyLength: the framing never claims a byte past the header and asks
// for more only while every byte so far may still be the header's.
func TestProxyLength(t *testing.T) {
	for _, h := range [][]byte{
		[]byte("PROXY TCP4 10.1.2.3 192.0.2.1 5555 25\r\n"), []byte("PROXY UNKNOWN\r\n"),
		v2(0x21, 0x11, inet4), v2(0x20, 0, nil), v2(0x21, 0x11, inet4, 0x03, nil),
	} {
		stream := append(bytes.Clone(h), "client's first bytes\r\n"...)
		for i := 0; i <= len(stream); i++ {
			n, err := proxyLength(stream[:i])
			switch {
			case err != nil:
				t.Fatalf("%q, first %d bytes: %v", h, i, err)
			case n == 0 && i >= len(h) && (h[0] == 'P' || i >= v2Fixed):
				t.Fatalf("%q, first %d bytes: no length yet", h, i)
			case n != 0 && n != len(h):
				t.Fatalf("%q, first %d bytes: length %d, want %d", h, i, n, len(h))
			}
		}
	}
	if _, err := proxyLength([]byte("PROXY " + strings.Repeat("x", 101))); err != errTooLong {
		t.Errorf("107 bytes without CRLF: %v", err)
	}
	if n, err := proxyLength([]byte("PROXY " + strings.Repeat("x", 100))); n != 0 || err != nil {
		t.Errorf("106 bytes without CRLF: %d, %v", n, err)
	}
	if _, err := proxyLength([]byte("PRIX")); err != errNoSignature {
		t.Errorf("PRIX: %v", err)
	}
}

func TestAppendProxy(t *testing.T) {
	src4, dst4 := netip.MustParseAddrPort("10.1.2.3:5555"), netip.MustParseAddrPort("192.0.2.1:25")
	src6 := netip.MustParseAddrPort("[2001:db8::7]:5555")
	mapped := netip.MustParseAddrPort("[::ffff:10.1.2.3]:5555")
	for _, c := range []struct {
		version  int
		src, dst netip.AddrPort
		want     string
	}{
		{1, src4, dst4, "PROXY TCP4 10.1.2.3 192.0.2.1 5555 25\r\n"},
		{1, mapped, dst4, "PROXY TCP4 10.1.2.3 192.0.2.1 5555 25\r\n"},
		{1, src6, dst4, "PROXY TCP6 2001:db8::7 ::ffff:192.0.2.1 5555 25\r\n"},
		{1, netip.AddrPort{}, dst4, "PROXY UNKNOWN\r\n"},
		{2, src4, dst4, string(v2(0x21, 0x11, inet4))},
		{2, src4, netip.AddrPort{}, string(v2(0x20, 0x00, nil))},
	} {
		if got := string(AppendProxy(nil, c.version, c.src, c.dst)); got != c.want {
			t.Errorf("AppendProxy(%d, %v, %v) = %q, want %q", c.version, c.src, c.dst, got, c.want)
		}
	}
}

// FuzzProxyHeader: whatever the bytes, the framing and the parser give a
// header or one of the fixed reasons, never more bytes than the header's;
// a header they accept with addresses is written back to the same addresses.
func FuzzProxyHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 10.1.2.3 192.0.2.1 5555 25\r\nHELO"))
	f.Add(v2(0x21, 0x21, inet6, 0x03, nil))
	reasons := map[error]bool{errNoSignature: true, errTooLong: true, errAddress: true, errPort: true, errVersion: true,
		errCommand: true, errFamily: true, errLength: true, errTLV: true, errCRC: true}
	f.Fuzz(func(t *testing.T, stream []byte) {
		n, err := proxyLength(stream)
		if err != nil {
			if !reasons[err] {
				t.Fatalf("framing %q: %v", stream, err)
			}
			return
		}
		if n == 0 || n > len(stream) {
			return
		}
		if len(stream) > 0 && stream[0] == 'P' && n > v1Max {
			t.Fatalf("a v1 header of %d bytes", n)
		}
		h, err := ParseProxy(stream[:n])
		if err != nil {
			if !reasons[err] {
				t.Fatalf("parsing %q: %v", stream[:n], err)
			}
			return
		}
		if h.Version != 1 && h.Version != 2 || h.Command != "PROXY" && h.Command != "LOCAL" {
			t.Fatalf("%q: %+v", stream[:n], h)
		}
		if h.Source.IsValid() {
			again, err := ParseProxy(AppendProxy(nil, h.Version, h.Source, h.Dest))
			if err != nil || again.Source.Addr().Unmap() != h.Source.Addr().Unmap() || again.Dest.Port() != h.Dest.Port() {
				t.Fatalf("%+v written and read back: %+v, %v", h, again, err)
			}
		}
	})
}
