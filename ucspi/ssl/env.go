package ssl

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// The mod_ssl-style variables of sslserver -s and sslclient -s, in
// ucspi-ssl's formats: SSL_PROTOCOL "TLSv1.3", SSL_CIPHER as OpenSSL names
// it, distinguished names on one line ("/C=DE/O=Example/CN=mx"), the serial
// in decimal, dates as OpenSSL prints them ("Nov 30 11:42:07 2026 GMT").
// There is no SSL_SESSION_ID: Go's crypto/tls exposes none.

// Interface is SSL_VERSION_INTERFACE, the value ucspi-ssl documents.
const Interface = "ucspi-ssl"

// Library is SSL_VERSION_LIBRARY: Go's crypto/tls, named by Go's version.
var Library = "Go/" + strings.TrimPrefix(runtime.Version(), "go")

// Vars returns the -s variables of a connection. server and client are the
// certificates of each side (client nil when none was sent); verify is
// SSL_CLIENT_VERIFY ("SUCCESS" or "NONE"; "" leaves it out).
func Vars(cs *tls.ConnectionState, server, client *x509.Certificate, verify string) []string {
	vars := make([]string, 0, 40)
	add := func(name, value string) { vars = append(vars, name+"="+value) }
	add("SSL_PROTOCOL", ProtocolName(cs.Version))
	add("SSL_CIPHER", CipherName(cs.CipherSuite))
	use, alg := 0, 0
	if s := suiteOf(cs.CipherSuite); s != nil {
		use, alg = s.use, s.alg
	}
	add("SSL_CIPHER_USEKEYSIZE", strconv.Itoa(use))
	add("SSL_CIPHER_ALGKEYSIZE", strconv.Itoa(alg))
	add("SSL_VERSION_INTERFACE", Interface)
	add("SSL_VERSION_LIBRARY", Library)
	vars = appendCertVars(vars, "SSL_SERVER_", server)
	vars = appendCertVars(vars, "SSL_CLIENT_", client)
	if verify != "" {
		add("SSL_CLIENT_VERIFY", verify)
	}
	return vars
}

// components are the parts of a name given a variable of their own, by
// mod_ssl's suffix.
var components = []struct {
	suffix string
	oid    asn1.ObjectIdentifier
}{
	{"C", oidCountry},
	{"ST", oidProvince},
	{"L", oidLocality},
	{"O", oidOrganization},
	{"OU", oidUnit},
	{"CN", oidCommonName},
	{"Email", oidEmail},
}

var (
	oidCountry      = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidProvince     = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidLocality     = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidOrganization = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidUnit         = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidCommonName   = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidEmail        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
)

// shortName is OpenSSL's short name for the attribute of a name with OID oid,
// as its one-line form shows it; others appear as their dotted OID. A
// switch, not a map: a map would be built at every start of every applet.
func shortName(oid string) (string, bool) {
	switch oid {
	case "2.5.4.6":
		return "C", true
	case "2.5.4.8":
		return "ST", true
	case "2.5.4.7":
		return "L", true
	case "2.5.4.10":
		return "O", true
	case "2.5.4.11":
		return "OU", true
	case "2.5.4.3":
		return "CN", true
	case "1.2.840.113549.1.9.1":
		return "emailAddress", true
	case "2.5.4.5":
		return "serialNumber", true
	case "2.5.4.4":
		return "SN", true
	case "2.5.4.42":
		return "GN", true
	case "2.5.4.43":
		return "initials", true
	case "2.5.4.12":
		return "title", true
	case "2.5.4.9":
		return "street", true
	case "2.5.4.17":
		return "postalCode", true
	case "2.5.4.46":
		return "dnQualifier", true
	case "2.5.4.65":
		return "pseudonym", true
	case "2.5.4.97":
		return "organizationIdentifier", true
	case "0.9.2342.19200300.100.1.25":
		return "DC", true
	case "0.9.2342.19200300.100.1.1":
		return "UID", true
	case "1.3.6.1.4.1.311.60.2.1.3":
		return "jurisdictionC", true
	case "2.5.4.15":
		return "businessCategory", true
	}
	return "", false
}

func appendCertVars(vars []string, prefix string, c *x509.Certificate) []string {
	if c == nil {
		return vars
	}
	add := func(name, value string) { vars = append(vars, prefix+name+"="+value) }
	subject, issuer := rdns(c.RawSubject), rdns(c.RawIssuer)
	add("S_DN", OneLine(subject))
	for _, comp := range components {
		if v, ok := first(subject, comp.oid); ok {
			add("S_DN_"+comp.suffix, v)
		}
	}
	add("I_DN", OneLine(issuer))
	for _, comp := range components {
		if v, ok := first(issuer, comp.oid); ok {
			add("I_DN_"+comp.suffix, v)
		}
	}
	add("M_SERIAL", c.SerialNumber.String())
	add("V_START", Date(c.NotBefore))
	add("V_END", Date(c.NotAfter))
	add("CERT", strings.TrimSuffix(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})), "\n"))
	return vars
}

// Date is a certificate's time as OpenSSL prints it: "Nov  3 11:42:07 2026 GMT".
func Date(t time.Time) string { return t.UTC().Format("Jan _2 15:04:05 2006 GMT") }

// rdns is a name's attributes in the certificate's order; a name that does not
// parse has none.
func rdns(raw []byte) []pkix.AttributeTypeAndValue {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &seq); err != nil || len(rest) > 0 {
		return nil
	}
	var atvs []pkix.AttributeTypeAndValue
	for _, rdn := range seq {
		atvs = append(atvs, rdn...)
	}
	return atvs
}

func first(atvs []pkix.AttributeTypeAndValue, oid asn1.ObjectIdentifier) (string, bool) {
	for _, a := range atvs {
		if a.Type.Equal(oid) {
			return escape(text(a.Value), false), true
		}
	}
	return "", false
}

// OneLine is OpenSSL's one-line form of a name (X509_NAME_oneline, what
// `openssl x509 -subject -nameopt compat` prints after "subject="): each
// attribute as /SHORT=value, bytes outside printable ASCII as \xHH.
func OneLine(atvs []pkix.AttributeTypeAndValue) string {
	var b strings.Builder
	for _, a := range atvs {
		name, ok := shortName(a.Type.String())
		if !ok {
			name = a.Type.String()
		}
		b.WriteString("/" + name + "=" + escape(text(a.Value), true))
	}
	return b.String()
}

// text is an attribute's value as a string; a value of another type (never
// seen in practice) as Go prints it.
func text(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// escape shows control characters as \xHH, and with all set every byte outside
// printable ASCII (OpenSSL's one-line form escapes UTF-8 byte by byte), so no
// value can cut the environment or the log short.
func escape(s string, all bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c == 0x7f || (all && c > '~') {
			b.WriteString(`\x`)
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
