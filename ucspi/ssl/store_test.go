package ssl

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/certs"
)

func TestStoreRenews(t *testing.T) {
	dir := t.TempDir()
	ca := certs.NewAuthority(t, dir, "ca")
	old := ca.Issue(t, dir, "old", certs.Spec{})
	renewed := ca.Issue(t, dir, "new", certs.Spec{RSA: true})
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	install := func(cert, key []byte) {
		t.Helper()
		// As renewal tools do: new files renamed into place.
		for file, b := range map[string][]byte{certFile: cert, keyFile: key} {
			if err := os.WriteFile(file+".tmp", b, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(file+".tmp", file); err != nil {
				t.Fatal(err)
			}
		}
	}
	install(old.CertPEM, old.KeyPEM)
	var warnings []string
	s, err := NewStore(certFile, keyFile, nil, func(err error) { warnings = append(warnings, err.Error()) })
	if err != nil {
		t.Fatal(err)
	}
	serving := func() *tls.Certificate {
		c, _ := s.GetCertificate(&tls.ClientHelloInfo{})
		return c
	}
	now := time.Unix(s.checked.Load(), 0) // the second NewStore looked
	if !serving().Leaf.Equal(old.Cert) {
		t.Fatal("not serving the certificate loaded")
	}
	install(renewed.CertPEM, renewed.KeyPEM)
	s.Refresh(now) // the second of the last look: no look
	if !serving().Leaf.Equal(old.Cert) {
		t.Error("looked at the files twice in one second")
	}
	now = now.Add(time.Second)
	s.Refresh(now)
	if !serving().Leaf.Equal(renewed.Cert) {
		t.Fatal("renewed files not picked up a second later")
	}

	// A half-done renewal (new certificate, old key) keeps the pair in use
	// and warns once, however often it is looked at.
	install(old.CertPEM, renewed.KeyPEM)
	for range 3 {
		now = now.Add(time.Second)
		s.Refresh(now)
	}
	if !serving().Leaf.Equal(renewed.Cert) {
		t.Error("a failed reload replaced the pair in use")
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "key.pem: private key does not match certificate") {
		t.Errorf("warnings %q; want one about the key", warnings)
	}
	install(old.CertPEM, old.KeyPEM)
	now = now.Add(time.Second)
	s.Refresh(now)
	if !serving().Leaf.Equal(old.Cert) || len(warnings) != 1 {
		t.Errorf("completed renewal: serving %v, %d warnings", serving().Leaf.Subject, len(warnings))
	}
	os.Remove(certFile)
	now = now.Add(time.Second)
	s.Refresh(now)
	if !serving().Leaf.Equal(old.Cert) || len(warnings) != 2 || !strings.Contains(warnings[1], "file does not exist") {
		t.Errorf("removed certificate: serving %v, warnings %q", serving().Leaf.Subject, warnings)
	}
}
