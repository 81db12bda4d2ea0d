package ssl

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ucspi-go/ucspi/ucspi/exit"
)

// FileError is a certificate, key or CA file that could not be used, and why:
// its text, "FILE: REASON", completes "unable to load certificate ".
type FileError struct {
	File   string
	Reason string
}

func (e *FileError) Error() string { return e.File + ": " + e.Reason }

// LoadPair reads a certificate chain from certFile and its private key from
// keyFile ("" when the key is in certFile too), as ucspi-ssl reads CERTFILE
// or CERTCHAINFILE and KEYFILE. password decrypts a key encrypted the legacy
// PEM way (sslserver -3); nil means the key must be in the clear.
func LoadPair(certFile, keyFile string, password []byte) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, &FileError{certFile, exit.Reason(err)}
	}
	keyPEM, name := certPEM, certFile
	if keyFile != "" && keyFile != certFile {
		if keyPEM, err = os.ReadFile(keyFile); err != nil {
			return nil, &FileError{keyFile, exit.Reason(err)}
		}
		name = keyFile
	}
	pair, err := ParsePair(certPEM, keyPEM, password)
	var fe *FileError
	if errors.As(err, &fe) {
		// ParsePair names the file by its role; say which file that is.
		if fe.File == "key" {
			fe.File = name
		} else {
			fe.File = certFile
		}
	}
	return pair, err
}

// ParsePair is LoadPair on the files' contents. The certificates may come in
// any order: the leaf is the one whose public key is the private key's, and
// the others follow it issuer by issuer, as a client expects them, any left
// over at the end. An error is a *FileError naming the file "certificate" or
// "key".
func ParsePair(certPEM, keyPEM, password []byte) (*tls.Certificate, error) {
	var certs []*x509.Certificate
	for rest := certPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, &FileError{"certificate", "unable to parse certificate: " + bare(err)}
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, &FileError{"certificate", "no certificate found"}
	}
	key, err := parseKey(keyPEM, password)
	if err != nil {
		return nil, &FileError{"key", err.Error()}
	}
	chain := order(certs, key.Public())
	if chain == nil {
		return nil, &FileError{"key", "private key does not match certificate"}
	}
	pair := &tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		pair.Certificate = append(pair.Certificate, c.Raw)
	}
	return pair, nil
}

// parseKey finds the first private key in keyPEM.
func parseKey(keyPEM, password []byte) (crypto.Signer, error) {
	for rest := keyPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil, errors.New("no private key found")
		}
		der := b.Bytes
		switch b.Type {
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted PKCS#8 key not supported, only legacy PEM encryption (openssl pkey -traditional)")
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
		default:
			continue
		}
		//lint:ignore SA1019 legacy PEM encryption is what ucspi-ssl's -3 decrypts
		if x509.IsEncryptedPEMBlock(b) {
			if password == nil {
				return nil, errors.New("private key is encrypted (sslserver -3 reads its password)")
			}
			var err error
			//lint:ignore SA1019 see above
			if der, err = x509.DecryptPEMBlock(b, password); err != nil {
				return nil, errors.New("unable to decrypt private key: " + bare(err))
			}
			// A wrong password passes the padding check about one time in
			// 256, and leaves garbage: it is still the password that is wrong.
			key, err := parseKeyDER(b.Type, der)
			if err != nil {
				return nil, errors.New("unable to decrypt private key: " + bare(x509.IncorrectPasswordError))
			}
			return key, nil
		}
		return parseKeyDER(b.Type, der)
	}
}

func parseKeyDER(typ string, der []byte) (crypto.Signer, error) {
	var key any
	var err error
	switch typ {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(der)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(der)
	default:
		key, err = x509.ParsePKCS8PrivateKey(der)
	}
	if err != nil {
		return nil, errors.New("unable to parse private key: " + bare(err))
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("unsupported private key type %T", key)
}

// order returns certs with the one holding public first and its issuers after
// it, or nil when none holds public.
func order(certs []*x509.Certificate, public crypto.PublicKey) []*x509.Certificate {
	pub, ok := public.(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return nil
	}
	used := make([]bool, len(certs))
	var chain []*x509.Certificate
	for i, c := range certs {
		if pub.Equal(c.PublicKey) {
			chain, used[i] = append(chain, c), true
			break
		}
	}
	if chain == nil {
		return nil
	}
	for next := true; next; {
		next = false
		last := chain[len(chain)-1]
		if bytes.Equal(last.RawIssuer, last.RawSubject) {
			break // self-signed: nothing issued it
		}
		for i, c := range certs {
			if !used[i] && bytes.Equal(c.RawSubject, last.RawIssuer) {
				chain, used[i], next = append(chain, c), true, true
				break
			}
		}
	}
	for i, c := range certs {
		if !used[i] {
			chain = append(chain, c)
		}
	}
	return chain
}

// LoadCAs reads the certificate authorities of file (a PEM bundle) and of
// every file in dir that holds PEM certificates (OpenSSL's hashed directory,
// or any directory of them); "" skips either. A file that holds none is an
// error; files of a directory that hold none are skipped.
func LoadCAs(file, dir string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, &FileError{file, exit.Reason(err)}
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, &FileError{file, "no certificate found"}
		}
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, &FileError{dir, exit.Reason(err)}
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
				continue
			}
			if b, err := os.ReadFile(p); err == nil {
				pool.AppendCertsFromPEM(b)
			}
		}
	}
	return pool, nil
}

// bare drops Go's package prefix from an error's text.
func bare(err error) string {
	s := err.Error()
	for _, p := range []string{"x509: ", "tls: "} {
		if len(s) > len(p) && s[:len(p)] == p {
			return s[len(p):]
		}
	}
	return s
}
