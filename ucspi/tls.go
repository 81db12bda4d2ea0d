package ucspi

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ucspi-go/ucspi/ucspi/exit"
	"github.com/ucspi-go/ucspi/ucspi/scan"
	"github.com/ucspi-go/ucspi/ucspi/ssl"
)

// TLS is what sslserver adds to tcpserver's story, in ucspi-ssl's terms. A
// connection goes through tcpserver's steps (socket options, DNS, ident,
// rules: a denied client gets no handshake), then serveTLS: the handshake in
// the server, the program spawned as tcpserver spawns it but with its end of
// a socketpair as descriptors 0 and 1, and a relay between the two in two
// goroutines of the server. No process stands between the program and the
// network, so a connection costs the program and some memory of the server.
type TLS struct {
	Delayed    bool   // -n: the program starts at once and asks for TLS (UCSPI-TLS)
	ModSSL     bool   // -s: the mod_ssl variables
	TCPVars    bool   // -e: the TCP* variables too, and PROTO=TCP or TCP6
	ClientCert int    // NoClientCert (-Z), ClientCertMail (-m) or ClientCertHost (-z)
	Handshake  uint64 // -T: seconds for the handshake (0: no limit)
	Idle       uint64 // -w: seconds of silence both ways before a connection is dropped (0: none)
	Password   bool   // -3: the key's password comes on descriptor 3
	Drain      uint64 // --drain: seconds given to the connections in hand after SIGTERM
	Banner     string // -B: written through TLS (in clear with -n)

	store        *ssl.Store
	config       *tls.Config
	verifier     ssl.Verifier
	requestCerts bool     // CCAFILE is not "-"
	env          []string // our environment minus inherited connection variables
	envNames     map[string]bool
	live         atomic.Int64
	listening    atomic.Pointer[Listener]
}

// The client certificate a connection must show.
const (
	NoClientCert   = iota // -Z: none asked for (unless a rule sets CCAVERIFY)
	ClientCertMail        // -m: one, verified against CAFILE and CADIR
	ClientCertHost        // -z: one, verified, naming SSLREMOTEHOST
)

// tlsFault, set only in builds with the ucspifault tag, sees what each relay
// reads: the tests inject a panic through it.
var tlsFault func([]byte)

// The variables the program is given instead of, or besides (-e), tcpserver's.
var sslNames = []string{
	"SSLLOCALIP", "SSLLOCALPORT", "SSLLOCALHOST",
	"SSLREMOTEIP", "SSLREMOTEPORT", "SSLREMOTEHOST", "SSLREMOTEINFO",
	"SSLCTLFD", "SSLREADFD", "SSLWRITEFD", "TCP6INTERFACE",
}

// sslPrefixes are the families of -s variables.
var sslPrefixes = []string{"SSL_PROTOCOL", "SSL_CIPHER", "SSL_VERSION_", "SSL_SERVER_", "SSL_CLIENT_", "SSL_SESSION_"}

// prepareTLS reads what ucspi-ssl reads at start, before listening: the key's
// password (-3), the certificate and key, the certificate authorities, the
// cipher list. A file that cannot be used stops the server.
func (s *Server) prepareTLS() error {
	t := s.TLS
	if t == nil {
		return nil
	}
	var password []byte
	if t.Password {
		f := os.NewFile(3, "password")
		pw, err := ssl.ReadPassword(f)
		f.Close()
		if err != nil {
			return exit.FatalSys(exit.Temporary, err, "unable to read password: ")
		}
		password = pw
	}
	cert := os.Getenv("CERTCHAINFILE")
	if cert == "" {
		cert = os.Getenv("CERTFILE")
	}
	if cert == "" {
		return exit.Fatal(exit.Temporary, "unable to load certificate: neither CERTFILE nor CERTCHAINFILE is set")
	}
	var err error
	t.store, err = ssl.NewStore(cert, os.Getenv("KEYFILE"), password, func(err error) {
		s.warn("unable to reload certificate " + err.Error())
	})
	if err != nil {
		return exit.Fatal(exit.Temporary, "unable to load certificate ", err.Error())
	}
	if leaf := t.store.Pair().Leaf; time.Now().After(leaf.NotAfter) {
		s.warn("certificate " + cert + " expired at " + ssl.Date(leaf.NotAfter))
	}
	if t.verifier.Roots, err = ssl.LoadCAs(os.Getenv("CAFILE"), os.Getenv("CADIR")); err != nil {
		return exit.Fatal(exit.Temporary, "unable to load certificate ", err.Error())
	}
	if t.ClientCert != NoClientCert && os.Getenv("CAFILE") == "" && os.Getenv("CADIR") == "" {
		return exit.Fatal(exit.Temporary, "unable to load CA list: -m and -z need CAFILE or CADIR")
	}
	t.verifier.Depth = 1
	if d, ok := os.LookupEnv("VERIFYDEPTH"); ok {
		n, _ := scan.Ulong(d)
		t.verifier.Depth = int(min(n, 100))
	}
	t.config = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: t.store.GetCertificate}
	if list, ok := os.LookupEnv("CIPHERS"); ok && list != "" {
		ids, ignored := ssl.ParseCiphers(list)
		t.config.CipherSuites = ids
		if len(ignored) > 0 {
			s.warn("CIPHERS: ignoring " + strings.Join(ignored, ", ") + " (Go's TLS offers only the cipher suites it names)")
		}
	}
	if os.Getenv("DHFILE") != "" {
		s.warn("DHFILE ignored: Go's TLS has no DHE key exchange")
	}
	withCert := t.config.Clone()
	withCert.ClientAuth = tls.RequireAnyClientCert
	cca := os.Getenv("CCAFILE")
	t.requestCerts = cca != "-"
	if t.requestCerts && cca != "" {
		// The authorities named in the certificate request.
		if withCert.ClientCAs, err = ssl.LoadCAs(cca, ""); err != nil {
			return exit.Fatal(exit.Temporary, "unable to load certificate ", err.Error())
		}
	}
	// One Config serves every handshake, so that its session ticket keys,
	// made once and rotated by crypto/tls, resume any session; a connection
	// that must show a certificate gets the variant asking for one.
	t.config.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if c, ok := hello.Conn.(*ssl.Conn); ok && c.WantCert {
			return withCert, nil
		}
		return nil, nil
	}
	t.env = WithoutSSL(Environment(os.Environ(), nil))
	t.envNames = make(map[string]bool, len(t.env))
	for _, kv := range t.env {
		t.envNames[nameOf(kv)] = true
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		keepGCSlack()
	}
	return nil
}

// gcSlack is the garbage sslserver lets pile up between collections, at
// least. A handshake leaves some 50 KB of it, so tcpserver's GOGC of 10
// (ucspi/memory.go: a goal of about 1 MB on a live heap of a few hundred KB)
// meant a collection every dozen connections, at about a millisecond of CPU
// each: a third of the server's CPU per connection beyond the handshake.
const gcSlack = 4 << 20

// keepGCSlack sets GOGC after every collection from the live heap it left:
// the runtime's 100 (and its floor of a 4 MB goal) while that heap is small,
// down to tcpserver's 10 as it grows (held connections), so that the garbage
// allowed stays about gcSlack, not a tenth of the heap. It learns of each
// collection from afterEachGC.
func keepGCSlack() {
	samples := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"},
	}
	afterEachGC(func() {
		metrics.Read(samples)
		var scanned uint64
		for _, s := range samples {
			if s.Value.Kind() == metrics.KindUint64 {
				scanned += s.Value.Uint64()
			}
		}
		percent := 100
		if scanned > 0 {
			percent = int(max(gcPercent, min(100, gcSlack*100/scanned)))
		}
		debug.SetGCPercent(percent)
	})
}

// WithoutSSL is env without the connection variables an outer sslserver or
// sslclient may have left: SSL* and mod_ssl's SSL_* (OpenSSL's own, like
// SSL_CERT_FILE, stay).
func WithoutSSL(env []string) []string {
	out := env[:0:0]
next:
	for _, kv := range env {
		name := nameOf(kv)
		for _, n := range sslNames {
			if name == n {
				continue next
			}
		}
		for _, p := range sslPrefixes {
			if strings.HasPrefix(name, p) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// warn prints "NAME: warning: TEXT" unless -q.
func (s *Server) warn(text string) {
	if s.log.verbosity >= 1 {
		b := append(s.log.appendName(nil), "warning: "...)
		s.log.write(append(append(b, text...), '\n'))
	}
}

// appendAccept adds sslserver -V's "sslserver: ssl P accept TLSv1.3:CIPHER".
func (l *logger) appendAccept(b []byte, pid int, c *Description) []byte {
	if l.verbosity < 3 || c.TLS == "" {
		return b
	}
	b = append(l.appendName(b), "ssl "...)
	b = strconv.AppendInt(b, int64(pid), 10)
	b = append(b, " accept "...)
	b = append(b, c.TLS...)
	return append(b, '\n')
}

// serveTLS is the rest of a connection's story under sslserver: handshake,
// environment, spawn, relay. (-n goes its own way: serveDelayed.)
func (s *Server) serveTLS(fd int, c *Description, scope uint32, ruleVars []string) {
	ssl.HandshakeStack()
	t := s.TLS
	t.live.Add(1)
	defer t.live.Add(-1)
	conn, err := ssl.NewConn(fd, c.Local, c.Remote)
	if err != nil {
		s.dropped(c.Remote, c, &failure{"unable to accept TLS: ", err})
		return
	}
	conn.WantCert = t.wantsCert(ruleVars)
	spawned := false
	defer func() {
		if v := recover(); v != nil {
			if !spawned {
				s.dropped(c.Remote, c, &failure{"internal error: ", fmt.Errorf("%v", v)})
			} else {
				s.panicked(v)
			}
			conn.Close()
		}
	}()
	if t.Delayed {
		s.serveDelayed(conn, c, scope, ruleVars, &spawned)
		return
	}
	tc, sslVars, err := s.handshake(conn, c, t.ModSSL)
	if err == nil && t.Banner != "" {
		conn.SetWriteDeadline(t.deadline())
		if _, err = io.WriteString(tc, t.Banner); err != nil {
			err = &failure{"unable to print banner: ", err}
		}
		conn.SetWriteDeadline(time.Time{})
	}
	var prog *os.File
	theirs := -1
	if err == nil {
		if prog, theirs, err = ssl.Socketpair(); err != nil {
			err = &failure{"unable to create socketpair: ", err}
		}
	}
	if err != nil {
		f, ok := err.(*failure)
		if !ok {
			f = &failure{"unable to accept TLS: ", errors.New(ssl.Reason(err))}
		}
		s.dropped(c.Remote, c, f)
		conn.Close()
		return
	}
	env := t.environ(append(t.vars(s.connVars(c, scope)), sslVars...), ruleVars)
	if s.spawn(theirs, c, env) == 0 {
		conn.Close()
		prog.Close()
		return
	}
	spawned = true
	p := &ssl.Pipe{Net: tc, Sock: conn, Prog: prog, Idle: seconds(t.Idle), Fault: tlsFault, OnPanic: s.panicked}
	p.Run()
	tc.Close()
	prog.Close()
}

// failure is an error too, so that the steps before the spawn can return one.
func (f *failure) Error() string { return f.what + ssl.Reason(f.err) }

// wantsCert: the connection must show a certificate, by -m, -z or its
// rule's CCAVERIFY, unless CCAFILE is "-".
func (t *TLS) wantsCert(ruleVars []string) bool {
	if !t.requestCerts {
		return false
	}
	if t.ClientCert != NoClientCert {
		return true
	}
	for _, kv := range ruleVars {
		if nameOf(kv) == "CCAVERIFY" {
			return true
		}
	}
	return false
}

// handshake runs the server's side of the handshake within -T, Nagle off so
// that no flight waits, then -d/-D's choice; it checks the client's
// certificate if one was asked for. It notes the protocol and cipher in c and
// returns the -s variables if withVars.
func (s *Server) handshake(conn *ssl.Conn, c *Description, withVars bool) (*tls.Conn, []string, error) {
	t := s.TLS
	t.store.Refresh(time.Now())
	if !s.NoDelay { // else accepted has set it
		conn.Control(func(fd int) { setsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1) })
	}
	conn.SetDeadline(t.deadline())
	tc := tls.Server(conn, t.config)
	err := tc.Handshake()
	conn.SetDeadline(time.Time{})
	if !s.NoDelay {
		conn.Control(func(fd int) { setsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 0) })
	}
	if err != nil {
		return nil, nil, err
	}
	cs := tc.ConnectionState()
	verify := "NONE"
	if conn.WantCert {
		host := ipText(c.Remote.Addr(), false)
		if c.RemoteHost != nil {
			host = *c.RemoteHost
		}
		if t.ClientCert != ClientCertHost {
			host = ""
		}
		if err := t.verifier.Client(cs.PeerCertificates, host, time.Now()); err != nil {
			return nil, nil, err
		}
		verify = "SUCCESS"
	}
	c.TLS = ssl.ProtocolName(cs.Version) + ":" + ssl.CipherName(cs.CipherSuite)
	if !withVars {
		return tc, nil, nil
	}
	served := conn.Served
	if served == nil { // a resumed session: no certificate was sent
		served = t.store.Pair()
	}
	var client *x509.Certificate
	if len(cs.PeerCertificates) > 0 {
		client = cs.PeerCertificates[0]
	}
	return tc, ssl.Vars(&cs, served.Leaf, client, verify), nil
}

func (t *TLS) deadline() time.Time {
	if t.Handshake == 0 {
		return time.Time{}
	}
	return time.Now().Add(seconds(t.Handshake))
}

func seconds(n uint64) time.Duration {
	const most = uint64(1<<63-1) / uint64(time.Second)
	return time.Duration(min(n, most)) * time.Second
}

func (t *TLS) vars(tcp []string) []string { return SSLVars(tcp, t.TCPVars) }

// environ is the program's environment: ours, the connection's variables
// (vars), then the rule's, later ones winning. In the common case, no rule
// variables and no -e (whose PROTO overrides PROTO=SSL), vars name each
// variable once, so if our environment names none of them they are simply
// appended, as tcpserver's environ does, without Environment's tables.
func (t *TLS) environ(vars, ruleVars []string) []string {
	if len(ruleVars) == 0 && !t.TCPVars {
		plain := true
		for _, kv := range vars {
			if t.envNames[nameOf(kv)] {
				plain = false
				break
			}
		}
		if plain {
			return slices.Concat(t.env, vars)
		}
	}
	return Environment(t.env, append(vars, ruleVars...))
}

// SSLVars turns a connection's TCP variables into ucspi-ssl's: PROTO=SSL and
// SSL* in place of TCP*, or with withTCP (-e) both, PROTO staying TCP or TCP6.
func SSLVars(tcp []string, withTCP bool) []string {
	vars := make([]string, 1, 2*len(tcp)+1)
	vars[0] = "PROTO=SSL"
	for _, kv := range tcp {
		if strings.HasPrefix(kv, "TCP") && !strings.HasPrefix(kv, "TCP6") {
			vars = append(vars, "SSL"+kv[3:])
		}
	}
	if withTCP {
		vars = append(vars, tcp...)
	}
	return vars
}

// panicked reports a panic in a connection's goroutines, which ends that
// connection only.
func (s *Server) panicked(v any) {
	if s.log.verbosity >= 1 {
		s.log.write(s.log.appendDrop(nil, "internal error: ", fmt.Errorf("%v", v)))
	}
}

// drain is SIGTERM under --drain n: stop accepting at once, then give the
// TLS connections in hand up to n seconds to end. Without --drain the server
// exits at once, which ends them (their programs see the end of their input).
func (s *Server) drain() {
	t := s.TLS
	if t == nil || t.Drain == 0 {
		return
	}
	if l := t.listening.Load(); l != nil {
		l.Close()
	}
	end := time.Now().Add(seconds(t.Drain))
	for t.live.Load() > 0 && time.Now().Before(end) {
		time.Sleep(10 * time.Millisecond)
	}
}
