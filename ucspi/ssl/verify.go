package ssl

import (
	"crypto/x509"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/ucspi-go/ucspi/ucspi/exit"
)

// The reasons sslserver gives for refusing a client's certificate, in its
// "dropping connection, unable to accept TLS: REASON" line.
var (
	ErrNoClientCert  = errors.New("no client certificate")
	ErrUntrusted     = errors.New("client certificate not trusted")
	ErrClientExpired = errors.New("client certificate expired")
	ErrClientName    = errors.New("client name does not match")
)

// Verifier checks a peer's certificate chain against certificate authorities,
// with OpenSSL's depth: depth d allows d intermediate certificates between
// the peer's and the authority's.
type Verifier struct {
	Roots *x509.CertPool
	Depth int
}

// chain verifies certs (the peer's first) for usage at time now.
func (v *Verifier) chain(certs []*x509.Certificate, usage x509.ExtKeyUsage, now time.Time) error {
	opts := x509.VerifyOptions{
		Roots:         v.Roots,
		Intermediates: x509.NewCertPool(),
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{usage},
	}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	chains, err := certs[0].Verify(opts)
	if err != nil {
		return err
	}
	for _, c := range chains {
		if len(c) <= v.Depth+2 {
			return nil
		}
	}
	return errDepth
}

var errDepth = errors.New("certificate chain too long")

// Client verifies a client's certificate chain as sslserver -m does, and with
// host not "" (-z) that the certificate names host (a DNS name or an IP
// address). The error is one of the Err* reasons.
func (v *Verifier) Client(certs []*x509.Certificate, host string, now time.Time) error {
	if len(certs) == 0 {
		return ErrNoClientCert
	}
	if err := v.chain(certs, x509.ExtKeyUsageClientAuth, now); err != nil {
		if expired(err) {
			return ErrClientExpired
		}
		return ErrUntrusted
	}
	if host != "" && certs[0].VerifyHostname(host) != nil {
		return ErrClientName
	}
	return nil
}

// Server verifies a server's certificate chain (unless roots is nil, sslclient
// -X) and that it names host (unless host is "", sslclient -N), for
// sslclient's "unable to establish TLS ...: REASON".
func (v *Verifier) Server(certs []*x509.Certificate, host string, now time.Time) error {
	if len(certs) == 0 {
		return errors.New("no server certificate")
	}
	if v.Roots != nil {
		if err := v.chain(certs, x509.ExtKeyUsageServerAuth, now); err != nil {
			var ua x509.UnknownAuthorityError
			switch {
			case expired(err):
				return errors.New("certificate expired or not yet valid")
			case errors.As(err, &ua):
				return errors.New("certificate signed by unknown authority")
			case err == errDepth:
				return err
			}
			return errors.New("certificate not trusted: " + bare(err))
		}
	}
	if host != "" && certs[0].VerifyHostname(host) != nil {
		return errors.New("certificate name does not match " + host)
	}
	return nil
}

func expired(err error) bool {
	var ci x509.CertificateInvalidError
	return errors.As(err, &ci) && ci.Reason == x509.Expired
}

// Reason words a failed handshake for the log: the reasons above as they
// are, a timeout as "timed out", a system error as djb's error_str, the end of
// the connection as "connection closed", Go's other TLS errors without their
// "tls: " prefix.
func Reason(err error) string {
	var errno syscall.Errno
	switch {
	case errors.Is(err, ErrNoClientCert), errors.Is(err, ErrUntrusted),
		errors.Is(err, ErrClientExpired), errors.Is(err, ErrClientName):
		return err.Error()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timed out"
	case errors.As(err, &errno):
		return exit.Reason(errno)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case strings.Contains(err.Error(), "client didn't provide a certificate"):
		return ErrNoClientCert.Error()
	}
	return bare(err)
}
