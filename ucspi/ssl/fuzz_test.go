package ssl

import (
	"bytes"
	"crypto"
	"strings"
	"testing"
)

// FuzzParsePair: whatever the files hold, ParsePair returns a pair whose leaf
// holds the key, or a FileError naming the certificate or the key; it never
// panics.
func FuzzParsePair(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), []byte(""), []byte(""))
	f.Add([]byte(""), []byte("-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nAAAA\n-----END EC PRIVATE KEY-----\n"), []byte("pw"))
	f.Fuzz(func(t *testing.T, certPEM, keyPEM, password []byte) {
		pair, err := ParsePair(certPEM, keyPEM, password)
		if err != nil {
			fe, ok := err.(*FileError)
			if !ok || (fe.File != "certificate" && fe.File != "key") || fe.Reason == "" {
				t.Fatalf("error %#v", err)
			}
			return
		}
		pub := pair.PrivateKey.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool })
		if pair.Leaf == nil || !pub.Equal(pair.Leaf.PublicKey) || len(pair.Certificate) == 0 {
			t.Fatal("a pair whose leaf does not hold the key")
		}
	})
}

// FuzzOneLine: any name, however encoded, comes out on one line of printable
// ASCII, its components without control characters.
func FuzzOneLine(f *testing.F) {
	f.Add([]byte("0\x1b1\v0\t\x06\x03U\x04\x06\x13\x02DE1\f0\n\x06\x03U\x04\x03\f\x03a\nb"))
	f.Add([]byte("0\x00"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		atvs := rdns(raw)
		line := OneLine(atvs)
		for i := 0; i < len(line); i++ {
			if line[i] < ' ' || line[i] > '~' {
				t.Fatalf("OneLine gave %q", line)
			}
		}
		for _, comp := range components {
			if v, ok := first(atvs, comp.oid); ok && strings.ContainsAny(v, "\x00\n\r") {
				t.Fatalf("component %s = %q", comp.suffix, v)
			}
		}
	})
}

// FuzzReadClientResult: whatever sslclient's child answers (or a stranger on
// its control socket), the result is variables or a reason, never both, and
// the variables are what AppendEnv would have sent.
func FuzzReadClientResult(f *testing.F) {
	f.Add([]byte("ok\nSSL_PROTOCOL=TLSv1.3\x00SSL_CIPHER=TLS_AES_128_GCM_SHA256\x00\x00"))
	f.Add([]byte("fail\ncertificate signed by unknown authority"))
	f.Add([]byte("ok\n\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		vars, err := ReadClientResult(bytes.NewReader(b))
		ok := bytes.HasPrefix(b, []byte("ok\n"))
		if ok != (err == nil) || err != nil && (len(vars) > 0 || err.Error() == "") {
			t.Fatalf("%q: vars %q, error %v", b, vars, err)
		}
		for _, kv := range vars {
			if kv == "" || strings.ContainsRune(kv, 0) {
				t.Fatalf("%q: variable %q", b, kv)
			}
		}
	})
}
