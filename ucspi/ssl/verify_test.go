package ssl

import (
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/certs"
)

func TestVerifyClient(t *testing.T) {
	dir := t.TempDir()
	ca := certs.NewAuthority(t, dir, "ca")
	mid := ca.Intermediate(t, dir, "mid")
	foreign := certs.NewAuthority(t, dir, "foreign")
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	client := func(a *certs.Authority, spec certs.Spec) *x509.Certificate {
		spec.Client = true
		return a.Issue(t, dir, "client", spec).Cert
	}
	good := client(ca, certs.Spec{DNSNames: []string{"client.example"}})
	viaMid := client(mid, certs.Spec{})
	v := &Verifier{Roots: roots, Depth: 1}
	now := time.Now()
	for _, tc := range []struct {
		name  string
		certs []*x509.Certificate
		host  string
		depth int
		want  error
	}{
		{"good", []*x509.Certificate{good}, "", 1, nil},
		{"good, named", []*x509.Certificate{good}, "client.example", 1, nil},
		{"none", nil, "", 1, ErrNoClientCert},
		{"foreign", []*x509.Certificate{client(foreign, certs.Spec{})}, "", 1, ErrUntrusted},
		{"expired", []*x509.Certificate{client(ca, certs.Spec{Expired: true})}, "", 1, ErrClientExpired},
		{"a server's certificate", []*x509.Certificate{ca.Issue(t, dir, "server", certs.Spec{}).Cert}, "", 1, ErrUntrusted},
		{"wrong name", []*x509.Certificate{good}, "other.example", 1, ErrClientName},
		{"intermediate within depth", []*x509.Certificate{viaMid, mid.Cert}, "", 1, nil},
		{"intermediate beyond depth", []*x509.Certificate{viaMid, mid.Cert}, "", 0, ErrUntrusted},
		{"intermediate not sent", []*x509.Certificate{viaMid}, "", 1, ErrUntrusted},
	} {
		v.Depth = tc.depth
		if err := v.Client(tc.certs, tc.host, now); err != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestVerifyServer(t *testing.T) {
	dir := t.TempDir()
	ca := certs.NewAuthority(t, dir, "ca")
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	good := ca.Issue(t, dir, "good", certs.Spec{DNSNames: []string{"mx.example"}, IPs: []net.IP{net.IPv4(127, 0, 0, 9)}}).Cert
	expired := ca.Issue(t, dir, "expired", certs.Spec{Expired: true}).Cert
	self := certs.NewAuthority(t, dir, "self").Issue(t, dir, "self", certs.Spec{}).Cert
	now := time.Now()
	for _, tc := range []struct {
		name  string
		cert  *x509.Certificate
		roots *x509.CertPool
		host  string
		want  string // "" for success, else a word the reason must contain
	}{
		{"good", good, roots, "mx.example", ""},
		{"good, by address", good, roots, "127.0.0.9", ""},
		{"expired", expired, roots, "localhost", "expired"},
		{"unknown authority", self, roots, "localhost", "unknown authority"},
		{"wrong name", good, roots, "other.example", "name"},
		{"-X: any authority", self, nil, "localhost", ""},
		{"-X still checks the name", self, nil, "other.example", "name"},
		{"-N: any name", good, roots, "", ""},
	} {
		v := &Verifier{Roots: tc.roots, Depth: 1}
		err := v.Server([]*x509.Certificate{tc.cert}, tc.host, now)
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestReason(t *testing.T) {
	for err, want := range map[error]string{
		ErrClientName:          "client name does not match",
		os.ErrDeadlineExceeded: "timed out",
		syscall.ECONNRESET:     "connection reset",
		errors.New("tls: first record does not look like a TLS handshake"): "first record does not look like a TLS handshake",
		errors.New("tls: client didn't provide a certificate"):             "no client certificate",
	} {
		if got := Reason(err); got != want {
			t.Errorf("Reason(%v) = %q, want %q", err, got, want)
		}
	}
}
