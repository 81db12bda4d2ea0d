package ssl

import (
	"crypto/tls"
	"strings"
)

// suite is a cipher suite Go's crypto/tls implements, with the name OpenSSL
// gives it (what `openssl s_client` prints and ucspi-ssl puts in SSL_CIPHER)
// and its key sizes in bits as OpenSSL reports them (SSL_CIPHER_USEKEYSIZE,
// SSL_CIPHER_ALGKEYSIZE; 3DES has 168 bits of key but 112 of strength).
type suite struct {
	id       uint16
	openssl  string
	use, alg int
}

var suites = []suite{
	{tls.TLS_AES_128_GCM_SHA256, "TLS_AES_128_GCM_SHA256", 128, 128},
	{tls.TLS_AES_256_GCM_SHA384, "TLS_AES_256_GCM_SHA384", 256, 256},
	{tls.TLS_CHACHA20_POLY1305_SHA256, "TLS_CHACHA20_POLY1305_SHA256", 256, 256},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256", 128, 128},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384", 256, 256},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256", 128, 128},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384", 256, 256},
	{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305", 256, 256},
	{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305", 256, 256},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE-ECDSA-AES128-SHA", 128, 128},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ECDHE-ECDSA-AES256-SHA", 256, 256},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE-RSA-AES128-SHA", 128, 128},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ECDHE-RSA-AES256-SHA", 256, 256},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "ECDHE-ECDSA-AES128-SHA256", 128, 128},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "ECDHE-RSA-AES128-SHA256", 128, 128},
	{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, "ECDHE-RSA-DES-CBC3-SHA", 112, 168},
	{tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA, "ECDHE-ECDSA-RC4-SHA", 128, 128},
	{tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA, "ECDHE-RSA-RC4-SHA", 128, 128},
	{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, "AES128-GCM-SHA256", 128, 128},
	{tls.TLS_RSA_WITH_AES_256_GCM_SHA384, "AES256-GCM-SHA384", 256, 256},
	{tls.TLS_RSA_WITH_AES_128_CBC_SHA, "AES128-SHA", 128, 128},
	{tls.TLS_RSA_WITH_AES_256_CBC_SHA, "AES256-SHA", 256, 256},
	{tls.TLS_RSA_WITH_AES_128_CBC_SHA256, "AES128-SHA256", 128, 128},
	{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, "DES-CBC3-SHA", 112, 168},
	{tls.TLS_RSA_WITH_RC4_128_SHA, "RC4-SHA", 128, 128},
}

func suiteOf(id uint16) *suite {
	for i := range suites {
		if suites[i].id == id {
			return &suites[i]
		}
	}
	return nil
}

// CipherName is OpenSSL's name for a cipher suite; Go's own (IANA's) for one
// the table lacks.
func CipherName(id uint16) string {
	if s := suiteOf(id); s != nil {
		return s.openssl
	}
	return tls.CipherSuiteName(id)
}

// ProtocolName is OpenSSL's name for a protocol version: "TLSv1.3".
func ProtocolName(version uint16) string {
	switch version {
	case tls.VersionTLS13:
		return "TLSv1.3"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS10:
		return "TLSv1"
	}
	return "unknown"
}

// ParseCiphers reads an OpenSSL cipher list ($CIPHERS, sslclient -z) as far
// as Go can honour it: the TLS 1.2 suites named exactly (separated by colons,
// commas or spaces) are enabled, and "!NAME" or "-NAME" keeps NAME out even if
// named again later. Go takes no order from the list (it picks the best suite
// both sides have) and cannot restrict TLS 1.3's suites; every other token
// (HIGH, !aNULL, @STRENGTH, TLSv1+HIGH, a TLS 1.3 name, a suite Go lacks) comes
// back in ignored, for one warning. nil means Go's defaults: nothing usable
// was named.
func ParseCiphers(list string) (ids []uint16, ignored []string) {
	banned := map[uint16]bool{}
	for _, tok := range strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' }) {
		name, ban := tok, false
		if strings.HasPrefix(tok, "!") || strings.HasPrefix(tok, "-") {
			name, ban = tok[1:], true
		}
		s := suiteByName(name)
		if s == nil || s.id>>8 == 0x13 { // TLS 1.3 suites are not configurable in Go
			ignored = append(ignored, tok)
			continue
		}
		if ban {
			banned[s.id] = true
			ids = remove(ids, s.id)
			continue
		}
		if !banned[s.id] && !contains(ids, s.id) {
			ids = append(ids, s.id)
		}
	}
	return ids, ignored
}

func suiteByName(name string) *suite {
	for i := range suites {
		if suites[i].openssl == name {
			return &suites[i]
		}
	}
	return nil
}

func contains(ids []uint16, id uint16) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func remove(ids []uint16, id uint16) []uint16 {
	out := ids[:0]
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}
