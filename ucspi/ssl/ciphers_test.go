package ssl

import (
	"crypto/tls"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// Every suite Go implements has an OpenSSL name in the table, and it is the
// name OpenSSL itself gives the suite's standard (IANA) name, which is Go's.
func TestCipherNamesAreOpenSSLs(t *testing.T) {
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if suiteOf(s.ID) == nil {
			t.Errorf("%s (%#04x) has no OpenSSL name", s.Name, s.ID)
		}
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("no openssl to compare names with")
	}
	out, err := exec.Command("openssl", "ciphers", "-stdname", "ALL:COMPLEMENTOFALL").Output()
	if err != nil {
		t.Fatalf("openssl ciphers: %v", err)
	}
	openssl := map[string]string{} // standard name -> OpenSSL name
	for line := range strings.SplitSeq(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[1] == "-" {
			openssl[f[0]] = f[2]
		}
	}
	compared := 0
	for _, s := range suites {
		want, ok := openssl[tls.CipherSuiteName(s.id)]
		if !ok {
			continue // this OpenSSL build leaves it out (RC4, 3DES)
		}
		compared++
		if s.openssl != want {
			t.Errorf("%s: our name %q, OpenSSL's %q", tls.CipherSuiteName(s.id), s.openssl, want)
		}
	}
	if compared < 15 {
		t.Errorf("only %d suites compared with openssl ciphers", compared)
	}
}

func TestParseCiphers(t *testing.T) {
	for _, tc := range []struct {
		list    string
		ids     []uint16
		ignored []string
	}{
		{"ECDHE-ECDSA-AES256-GCM-SHA384", []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}, nil},
		{"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305, AES128-SHA",
			[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_RSA_WITH_AES_128_CBC_SHA}, nil},
		{"TLSv1+HIGH:!SSLv2:!MD5", nil, []string{"TLSv1+HIGH", "!SSLv2", "!MD5"}},
		{"HIGH:ECDHE-RSA-AES256-SHA:@STRENGTH", []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA}, []string{"HIGH", "@STRENGTH"}},
		{"AES128-SHA:!AES128-SHA:AES128-SHA:AES256-SHA", []uint16{tls.TLS_RSA_WITH_AES_256_CBC_SHA}, nil},
		{"-AES256-SHA:AES256-SHA:AES256-SHA", nil, nil},
		{"TLS_AES_128_GCM_SHA256:DHE-RSA-AES256-SHA", nil, []string{"TLS_AES_128_GCM_SHA256", "DHE-RSA-AES256-SHA"}},
		{"", nil, nil},
	} {
		ids, ignored := ParseCiphers(tc.list)
		if !slices.Equal(ids, tc.ids) || !slices.Equal(ignored, tc.ignored) {
			t.Errorf("ParseCiphers(%q) = %x, %q; want %x, %q", tc.list, ids, ignored, tc.ids, tc.ignored)
		}
	}
}

func FuzzParseCiphers(f *testing.F) {
	f.Add("ECDHE-ECDSA-AES256-GCM-SHA384:!aNULL")
	f.Add("TLSv1+HIGH:!SSLv2:!MD5")
	f.Add("-AES128-SHA,AES128-SHA AES256-SHA:")
	f.Fuzz(func(t *testing.T, list string) {
		ids, ignored := ParseCiphers(list)
		seen := map[uint16]bool{}
		for _, id := range ids {
			s := suiteOf(id)
			if s == nil || seen[id] || id>>8 == 0x13 || !strings.Contains(list, s.openssl) {
				t.Fatalf("ParseCiphers(%q) enabled %#04x", list, id)
			}
			seen[id] = true
		}
		for _, tok := range ignored {
			if tok == "" || !strings.Contains(list, tok) {
				t.Fatalf("ParseCiphers(%q) ignored %q", list, tok)
			}
		}
	})
}
