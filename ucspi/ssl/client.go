package ssl

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"os"
	"time"
)

// sslclient's TLS. As with tcpclient, the program takes over sslclient's
// process (the same pid); its descriptors 6 and 7 are a socketpair whose
// other end a child relays to and from the TLS connection. Go cannot fork
// without exec, so the child is this binary run again (ServeClient), given the
// connected socket, its end of the socketpair and a control socket on which
// it reads a ClientConfig and answers with the outcome of the handshake. So
// the handshake is over, and verified, before the program runs: a failure
// leaves no program running.

// ClientConfig is what sslclient's options ask of the TLS connection.
type ClientConfig struct {
	CAFile, CADir string // -a, -A: the authorities; neither: the system's
	NoVerify      bool   // -X: take any certificate chain
	Name          string // -n: the name the certificate must hold ("" for -N)
	ServerName    string // sent as SNI ("" for an address)
	CertFile      string // -c: a certificate to show
	KeyFile       string // -k: its key ("" for in CertFile)
	Password      []byte // -3: the key's password, nil for none
	Ciphers       string // -z: an OpenSSL cipher list
	Depth         int    // -V: intermediates allowed
	Timeout       time.Duration
	Idle          time.Duration // -w
	ModSSL        bool          // -s: the SSL_* variables
}

// MarshalBinary is cc as sslclient sends it to its child (ServeClient): each
// field in order, strings and the password as a length and the bytes (the
// password's length plus one, 0 for nil), numbers and booleans as varints.
// Not encoding/json, whose package init and reflection every start of every
// applet paid for.
func (cc *ClientConfig) MarshalBinary() ([]byte, error) {
	var b []byte
	str := func(s string) { b = append(binary.AppendUvarint(b, uint64(len(s))), s...) }
	flag := func(v bool) {
		if v {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	str(cc.CAFile)
	str(cc.CADir)
	flag(cc.NoVerify)
	str(cc.Name)
	str(cc.ServerName)
	str(cc.CertFile)
	str(cc.KeyFile)
	if cc.Password == nil {
		b = append(b, 0)
	} else {
		b = append(binary.AppendUvarint(b, uint64(len(cc.Password))+1), cc.Password...)
	}
	str(cc.Ciphers)
	b = binary.AppendVarint(b, int64(cc.Depth))
	b = binary.AppendVarint(b, int64(cc.Timeout))
	b = binary.AppendVarint(b, int64(cc.Idle))
	flag(cc.ModSSL)
	return b, nil
}

var errConfig = errors.New("malformed configuration")

// UnmarshalBinary reads what MarshalBinary wrote.
func (cc *ClientConfig) UnmarshalBinary(b []byte) error {
	bad := false
	next := func(n uint64) []byte {
		if bad || n > uint64(len(b)) {
			bad = true
			return nil
		}
		v := b[:n:n]
		b = b[n:]
		return v
	}
	uvarint := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			bad = true
			return 0
		}
		b = b[n:]
		return v
	}
	varint := func() int64 {
		v, n := binary.Varint(b)
		if n <= 0 {
			bad = true
			return 0
		}
		b = b[n:]
		return v
	}
	str := func() string { return string(next(uvarint())) }
	flag := func() bool {
		v := next(1)
		return len(v) == 1 && v[0] == 1
	}
	var c ClientConfig
	c.CAFile = str()
	c.CADir = str()
	c.NoVerify = flag()
	c.Name = str()
	c.ServerName = str()
	c.CertFile = str()
	c.KeyFile = str()
	if n := uvarint(); n > 0 {
		c.Password = append([]byte{}, next(n-1)...)
	}
	c.Ciphers = str()
	c.Depth = int(varint())
	c.Timeout = time.Duration(varint())
	c.Idle = time.Duration(varint())
	c.ModSSL = flag()
	if bad || len(b) != 0 {
		return errConfig
	}
	*cc = c
	return nil
}

// Handshake runs the client's side of TLS on sock within Timeout and
// verifies the server as asked. It returns the connection and, with ModSSL,
// the -s variables.
func (cc *ClientConfig) Handshake(sock *Conn) (*tls.Conn, []string, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cc.ServerName, InsecureSkipVerify: true}
	v := &Verifier{Depth: cc.Depth}
	if !cc.NoVerify {
		if cc.CAFile != "" || cc.CADir != "" {
			roots, err := LoadCAs(cc.CAFile, cc.CADir)
			if err != nil {
				return nil, nil, err
			}
			v.Roots = roots
		} else {
			roots, err := x509.SystemCertPool()
			if err != nil {
				return nil, nil, err
			}
			v.Roots = roots
		}
	}
	var sent *x509.Certificate // ours, once a server asked for it
	if cc.CertFile != "" {
		pair, err := LoadPair(cc.CertFile, cc.KeyFile, cc.Password)
		if err != nil {
			return nil, nil, err
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			sent = pair.Leaf
			return pair, nil
		}
	}
	if cc.Ciphers != "" {
		cfg.CipherSuites, _ = ParseCiphers(cc.Ciphers)
	}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		return v.Server(cs.PeerCertificates, cc.Name, time.Now())
	}
	if cc.Timeout > 0 {
		sock.SetDeadline(time.Now().Add(cc.Timeout))
	}
	tc := tls.Client(sock, cfg)
	err := tc.Handshake()
	sock.SetDeadline(time.Time{})
	if err != nil {
		return nil, nil, err
	}
	if !cc.ModSSL {
		return tc, nil, nil
	}
	cs := tc.ConnectionState()
	return tc, Vars(&cs, cs.PeerCertificates[0], sent, ""), nil
}

// The descriptors of sslclient's child.
const (
	ClientSocketFD  = 3 // the connected socket
	ClientProgramFD = 4 // its end of the program's socketpair
	ClientControlFD = 5 // the control socket
)

// ServeClient is sslclient's child: it reads its ClientConfig from the
// control socket, makes the handshake, answers "ok" and the variables, or
// "fail" and the reason, then relays until both ends are passed on.
func ServeClient() {
	ctl := os.NewFile(ClientControlFD, "control")
	var cc ClientConfig
	b, err := io.ReadAll(io.LimitReader(ctl, 1<<20))
	if err == nil {
		err = cc.UnmarshalBinary(b)
	}
	if err != nil {
		ctl.Write([]byte("fail\n" + err.Error()))
		return
	}
	sock, err := NewConn(ClientSocketFD, netip.AddrPort{}, netip.AddrPort{})
	if err != nil {
		ctl.Write([]byte("fail\n" + err.Error()))
		return
	}
	tc, vars, err := cc.Handshake(sock)
	if err != nil {
		ctl.Write([]byte("fail\n" + clientReason(err)))
		return
	}
	ctl.Write(AppendEnv([]byte("ok\n"), vars))
	ctl.Close()
	prog, err := NewFile(ClientProgramFD, "program")
	if err != nil {
		tc.Close()
		return
	}
	p := &Pipe{Net: tc, Sock: sock, Prog: prog, Idle: cc.Idle}
	p.Run()
	tc.Close()
	prog.Close()
}

// clientReason words a failed handshake for "unable to establish TLS with
// IP port N: REASON"; a certificate file that could not be used says which.
func clientReason(err error) string {
	var fe *FileError
	if errors.As(err, &fe) {
		return "unable to load certificate " + fe.File + ": " + fe.Reason
	}
	return Reason(err)
}

// ReadClientResult reads the child's answer from the control socket: the -s
// variables, or why the handshake failed.
func ReadClientResult(ctl io.Reader) ([]string, error) {
	b, err := io.ReadAll(io.LimitReader(ctl, 1<<20))
	switch {
	case bytes.HasPrefix(b, []byte("ok\n")):
		var vars []string
		for _, kv := range bytes.Split(bytes.TrimSuffix(b[3:], []byte{0, 0}), []byte{0}) {
			if len(kv) > 0 {
				vars = append(vars, string(kv))
			}
		}
		return vars, nil
	case bytes.HasPrefix(b, []byte("fail\n")) && len(b) > 5:
		return nil, errors.New(string(b[5:]))
	case err != nil:
		return nil, errors.New(Reason(err))
	}
	return nil, errors.New("the TLS child ended without an answer")
}
