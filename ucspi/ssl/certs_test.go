package ssl

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/certs"
)

func needOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
}

func openssl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %q: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestParsePairOrdersTheChain(t *testing.T) {
	dir := t.TempDir()
	root := certs.NewAuthority(t, dir, "root")
	mid := root.Intermediate(t, dir, "mid")
	leaf := mid.Issue(t, dir, "leaf", certs.Spec{})
	rootPEM, _ := os.ReadFile(root.File)
	midPEM, _ := os.ReadFile(mid.File)
	// ucspi-ssl's CERTCHAINFILE order (root first), the usual one (leaf
	// first), and a muddle, each with the key in the same file.
	for _, parts := range [][][]byte{
		{rootPEM, midPEM, leaf.CertPEM, leaf.KeyPEM},
		{leaf.KeyPEM, leaf.CertPEM, midPEM, rootPEM},
		{midPEM, leaf.KeyPEM, rootPEM, leaf.CertPEM},
	} {
		file := bytes.Join(parts, nil)
		pair, err := ParsePair(file, file, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := [][]byte{leaf.Cert.Raw, mid.Cert.Raw, root.Cert.Raw}
		if len(pair.Certificate) != 3 || pair.Leaf != nil && !pair.Leaf.Equal(leaf.Cert) {
			t.Fatalf("%d certificates, leaf %v", len(pair.Certificate), pair.Leaf.Subject)
		}
		for i := range want {
			if !bytes.Equal(pair.Certificate[i], want[i]) {
				t.Errorf("certificate %d is not the expected one", i)
			}
		}
	}
}

func TestLoadPairFailures(t *testing.T) {
	dir := t.TempDir()
	ca := certs.NewAuthority(t, dir, "ca")
	a := ca.Issue(t, dir, "a", certs.Spec{})
	b := ca.Issue(t, dir, "b", certs.Spec{RSA: true})
	for _, tc := range []struct {
		name, cert, key string
		file, reason    string
	}{
		{"missing", filepath.Join(dir, "nosuch.pem"), "", "nosuch.pem", "file does not exist"},
		{"a directory", dir, "", dir, "is a directory"},
		{"key missing", a.CertFile, filepath.Join(dir, "nosuch.key"), "nosuch.key", "file does not exist"},
		{"no key in the certificate file", a.CertFile, "", "a.pem", "no private key found"},
		{"mismatched", a.CertFile, b.KeyFile, "b.key", "private key does not match certificate"},
		{"no certificate", a.KeyFile, a.KeyFile, "a.key", "no certificate found"},
	} {
		_, err := LoadPair(tc.cert, tc.key, nil)
		var fe *FileError
		if !errors.As(err, &fe) || !strings.HasSuffix(fe.File, tc.file) || fe.Reason != tc.reason {
			t.Errorf("%s: %v; want %s: %s", tc.name, err, tc.file, tc.reason)
		}
	}
	if _, err := LoadPair(b.CertFile, b.KeyFile, nil); err != nil {
		t.Errorf("RSA pair: %v", err)
	}
}

func TestEncryptedKeys(t *testing.T) {
	needOpenSSL(t)
	dir := t.TempDir()
	c := certs.NewAuthority(t, dir, "ca").Issue(t, dir, "c", certs.Spec{})
	legacy := filepath.Join(dir, "legacy.key")
	pkcs8 := filepath.Join(dir, "pkcs8.key")
	openssl(t, "pkey", "-in", c.KeyFile, "-aes256", "-passout", "pass:s3cret", "-traditional", "-out", legacy)
	openssl(t, "pkey", "-in", c.KeyFile, "-aes256", "-passout", "pass:s3cret", "-out", pkcs8)
	if _, err := LoadPair(c.CertFile, legacy, []byte("s3cret")); err != nil {
		t.Errorf("legacy PEM encryption with the password: %v", err)
	}
	// A wrong password whose decryption passes the padding check (about
	// one in 256): found by trying.
	lucky := []byte(nil)
	encrypted, err := os.ReadFile(legacy)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(encrypted)
	for i := 0; i < 100000 && lucky == nil; i++ {
		p := []byte("wrong" + strconv.Itoa(i))
		//lint:ignore SA1019 the legacy encryption sslserver -3 decrypts
		if _, err := x509.DecryptPEMBlock(block, p); err == nil {
			lucky = p
		}
	}
	for _, tc := range []struct {
		key      string
		password []byte
		reason   string
	}{
		{legacy, nil, "private key is encrypted"},
		{legacy, []byte("wrong"), "unable to decrypt private key"},
		{legacy, lucky, "unable to decrypt private key"},
		{pkcs8, []byte("s3cret"), "encrypted PKCS#8 key not supported"},
	} {
		_, err := LoadPair(c.CertFile, tc.key, tc.password)
		var fe *FileError
		if !errors.As(err, &fe) || fe.File != tc.key || !strings.HasPrefix(fe.Reason, tc.reason) {
			t.Errorf("%s with %q: %v; want %s", filepath.Base(tc.key), tc.password, err, tc.reason)
		}
	}
}

func TestReadPassword(t *testing.T) {
	for in, want := range map[string]string{"s3cret\x00junk": "s3cret", "s3cret": "s3cret", "": "", "\x00": ""} {
		pw, err := ReadPassword(strings.NewReader(in))
		if err != nil || string(pw) != want {
			t.Errorf("ReadPassword(%q) = %q, %v", in, pw, err)
		}
	}
	if _, err := ReadPassword(bytes.NewReader(bytes.Repeat([]byte("p"), maxPassword+300))); err == nil {
		t.Error("a password without end was taken")
	}
}

func TestLoadCAs(t *testing.T) {
	dir := t.TempDir()
	cadir := filepath.Join(dir, "cadir")
	os.Mkdir(cadir, 0o755)
	one := certs.NewAuthority(t, cadir, "one")
	two := certs.NewAuthority(t, dir, "two")
	os.WriteFile(filepath.Join(cadir, "README"), []byte("not a certificate"), 0o644)
	pool, err := LoadCAs(two.File, cadir)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []*certs.Authority{one, two} {
		leaf := a.Issue(t, dir, "leaf", certs.Spec{})
		if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
			t.Errorf("%s's certificate: %v", a.Cert.Subject.CommonName, err)
		}
	}
	if _, err := LoadCAs(filepath.Join(cadir, "README"), ""); err == nil {
		t.Error("a CAFILE without certificates was taken")
	}
	if _, err := LoadCAs("", filepath.Join(dir, "nosuch")); err == nil {
		t.Error("a missing CADIR was taken")
	}
}

// The one-line names, serial and dates are what openssl x509 prints.
func TestVarsAsOpenSSLPrints(t *testing.T) {
	needOpenSSL(t)
	dir := t.TempDir()
	ca := certs.NewAuthority(t, dir, "ca")
	c := ca.Issue(t, dir, "c", certs.Spec{
		Subject: pkix.Name{Country: []string{"DE"}, Province: []string{"Berlin"}, Locality: []string{"Mitte"},
			Organization: []string{"Example Org"}, OrganizationalUnit: []string{"Mail"}, CommonName: "mx.example",
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidEmail, Value: "postmaster@example.org"}}},
		Serial:    1234567890123,
		NotBefore: time.Date(2026, 3, 5, 7, 8, 9, 0, time.UTC),
		NotAfter:  time.Date(2027, 11, 30, 11, 42, 7, 0, time.UTC),
	})
	vars := map[string]string{}
	for _, kv := range appendCertVars(nil, "X_", c.Cert) {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	out := openssl(t, "x509", "-in", c.CertFile, "-noout", "-subject", "-issuer", "-serial", "-startdate", "-enddate", "-nameopt", "compat")
	fields := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		fields[k] = v
	}
	serial, _ := new(big.Int).SetString(fields["serial"], 16)
	for name, want := range map[string]string{
		"X_S_DN": fields["subject"], "X_I_DN": fields["issuer"], "X_M_SERIAL": serial.String(),
		"X_V_START": fields["notBefore"], "X_V_END": fields["notAfter"],
		"X_S_DN_C": "DE", "X_S_DN_ST": "Berlin", "X_S_DN_L": "Mitte", "X_S_DN_O": "Example Org",
		"X_S_DN_OU": "Mail", "X_S_DN_CN": "mx.example", "X_S_DN_Email": "postmaster@example.org",
		"X_I_DN_CN": "ca", "X_I_DN_C": "DE",
	} {
		if vars[name] != want || want == "" {
			t.Errorf("%s=%q, want %q", name, vars[name], want)
		}
	}
	if vars["X_CERT"] != strings.TrimSuffix(string(c.CertPEM), "\n") {
		t.Errorf("X_CERT is not the certificate's PEM")
	}
}

func TestOneLineEscapes(t *testing.T) {
	atvs := []pkix.AttributeTypeAndValue{
		{Type: oidCommonName, Value: "caf\u00e9\n/x"},
		{Type: []int{1, 2, 3, 4}, Value: "odd"},
	}
	if got, want := OneLine(atvs), `/CN=caf\xC3\xA9\x0A/x/1.2.3.4=odd`; got != want {
		t.Errorf("OneLine = %q, want %q", got, want)
	}
}
