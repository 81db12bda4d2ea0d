// Package certs makes the certificates the TLS tests need: an authority,
// server and client certificates it issues (good, expired, named wrong), and
// a second, foreign authority. Nothing is committed: every run makes its own
// keys, written as PEM files into the test's directory.
package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Authority is a certificate authority that issues certificates.
type Authority struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	File string // its certificate, PEM, for CAFILE
}

// Cert is an issued certificate and its key, and the files holding them.
type Cert struct {
	Cert     *x509.Certificate
	Key      crypto.Signer
	CertPEM  []byte
	KeyPEM   []byte // PKCS#8
	CertFile string
	KeyFile  string
}

// Spec says what to issue. The zero Spec is a server certificate for
// localhost and 127.0.0.1, valid from an hour ago for a day.
type Spec struct {
	Subject   pkix.Name // default: CN=localhost
	DNSNames  []string  // default: localhost (when IPs is also empty)
	IPs       []net.IP  // default: 127.0.0.1 (when DNSNames is also empty)
	Client    bool      // for client authentication instead of server
	Expired   bool      // valid until an hour ago
	RSA       bool      // an RSA-2048 key instead of ECDSA P-256
	Serial    int64     // default: random
	NotBefore time.Time // overrides the default validity
	NotAfter  time.Time
}

// NewAuthority makes a self-signed authority and writes its certificate to
// dir/name.pem.
func NewAuthority(t testing.TB, dir, name string) *Authority { return newAuthority(t, dir, name, nil) }

// Intermediate makes an authority that a issues.
func (a *Authority) Intermediate(t testing.TB, dir, name string) *Authority {
	return newAuthority(t, dir, name, a)
}

func newAuthority(t testing.TB, dir, name string, parent *Authority) *Authority {
	t.Helper()
	key := newKey(t, false)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t, 0),
		Subject:               pkix.Name{Country: []string{"DE"}, Organization: []string{"Test " + name}, CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	issuer, signer := tmpl, crypto.Signer(key)
	if parent != nil {
		issuer, signer = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	a := &Authority{Cert: cert, Key: key, File: filepath.Join(dir, name+".pem")}
	write(t, a.File, pemOf("CERTIFICATE", der))
	return a
}

// Issue makes a certificate as spec says and writes it to dir/name.pem, its
// key to dir/name.key.
func (a *Authority) Issue(t testing.TB, dir, name string, spec Spec) *Cert {
	t.Helper()
	key := newKey(t, spec.RSA)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t, spec.Serial),
		Subject:      spec.Subject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     spec.DNSNames,
		IPAddresses:  spec.IPs,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if len(tmpl.Subject.Names) == 0 && tmpl.Subject.CommonName == "" && len(tmpl.Subject.Organization) == 0 {
		tmpl.Subject = pkix.Name{CommonName: "localhost"}
	}
	if len(spec.DNSNames) == 0 && len(spec.IPs) == 0 {
		tmpl.DNSNames, tmpl.IPAddresses = []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	if spec.Client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if spec.RSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	if spec.Expired {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)
	}
	if !spec.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = spec.NotBefore, spec.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, key.Public(), a.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := &Cert{Cert: cert, Key: key, CertPEM: pemOf("CERTIFICATE", der), KeyPEM: pemOf("PRIVATE KEY", pkcs8),
		CertFile: filepath.Join(dir, name+".pem"), KeyFile: filepath.Join(dir, name+".key")}
	write(t, c.CertFile, c.CertPEM)
	write(t, c.KeyFile, c.KeyPEM)
	return c
}

func newKey(t testing.TB, useRSA bool) crypto.Signer {
	t.Helper()
	var key crypto.Signer
	var err error
	if useRSA {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func serial(t testing.TB, n int64) *big.Int {
	t.Helper()
	if n != 0 {
		return big.NewInt(n)
	}
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func write(t testing.TB, file string, b []byte) {
	t.Helper()
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
