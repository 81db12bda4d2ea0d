package ucspi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/certs"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

// sslserver end to end: our binary against the TLS stacks people use
// (openssl s_client, gnutls-cli, Go's crypto/tls), with certificates the
// tests make.

// tlsRig is what the sslserver tests share: certificates and a directory.
type tlsRig struct {
	dir           string
	ca, foreign   *certs.Authority
	server, rsa   *certs.Cert
	client        *certs.Cert // issued by ca for client authentication
	foreignClient *certs.Cert
	expiredClient *certs.Cert
}

func newTLSRig(t *testing.T) *tlsRig {
	t.Helper()
	dir := t.TempDir()
	r := &tlsRig{dir: dir, ca: certs.NewAuthority(t, dir, "ca"), foreign: certs.NewAuthority(t, dir, "foreign")}
	r.server = r.ca.Issue(t, dir, "server", certs.Spec{})
	r.rsa = r.ca.Issue(t, dir, "server-rsa", certs.Spec{RSA: true})
	r.client = r.ca.Issue(t, dir, "client", certs.Spec{Client: true, DNSNames: []string{"client.test"}})
	r.foreignClient = r.foreign.Issue(t, dir, "foreign-client", certs.Spec{Client: true})
	r.expiredClient = r.ca.Issue(t, dir, "expired-client", certs.Spec{Client: true, Expired: true})
	return r
}

// env is a server's environment: PATH, its certificate, and extra.
func (r *tlsRig) env(cert *certs.Cert, extra ...string) []string {
	return append(pathEnv("CERTFILE="+cert.CertFile, "KEYFILE="+cert.KeyFile), extra...)
}

// start runs our sslserver with env and args (after -1).
func (r *tlsRig) start(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	return startServer(t, reftest.Ours(t, "sslserver"), env, args...)
}

// clientConfig trusts the rig's authority, optionally showing cert.
func (r *tlsRig) clientConfig(cert *certs.Cert) *tls.Config {
	roots := x509.NewCertPool()
	roots.AddCert(r.ca.Cert)
	c := &tls.Config{RootCAs: roots, ServerName: "localhost"}
	if cert != nil {
		c.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Cert.Raw}, PrivateKey: cert.Key, Leaf: cert.Cert}}
	}
	return c
}

// dialTLS connects with Go's TLS client and completes the handshake.
func dialTLS(t *testing.T, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// sClient runs openssl s_client against port with stdin and args, until the
// server closes, and returns what it printed.
func sClient(t *testing.T, r *tlsRig, port, stdin string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args = append([]string{"s_client", "-connect", "127.0.0.1:" + port, "-servername", "localhost",
		"-CAfile", r.ca.File, "-verify_return_error", "-ign_eof"}, args...)
	cmd := exec.CommandContext(ctx, "openssl", args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("openssl %q did not end: %s", args, out)
	}
	return string(out)
}

// field is the value after "name" and a colon or an equals sign on the first
// line holding it, "" when there is none.
func field(out, name string) string {
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `\s*[:=] ?(.*)$`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

// printEnvOnly prints the environment and does not read: s_client -ign_eof
// keeps its side open.
const printEnvOnly = "/usr/bin/env | /usr/bin/sort\n"

func TestSClientSeesWhatTheProgramIsTold(t *testing.T) {
	r := newTLSRig(t)
	print := script(t, r.dir, "print", printEnvOnly)
	for _, cert := range []*certs.Cert{r.server, r.rsa} {
		s := r.start(t, r.env(cert), "-V", "-s", "-RHl0", "127.0.0.1", "0", print)
		for _, version := range []string{"-tls1_2", "-tls1_3"} {
			out := sClient(t, r, s.port, "", version)
			proto, cipher := field(out, "Protocol"), field(out, "Cipher")
			if proto == "" || cipher == "" || !strings.Contains(out, "Verify return code: 0 (ok)") {
				t.Fatalf("%s: s_client said:\n%s", version, out)
			}
			line := regexp.MustCompile(`sslserver: ok (\d+) .*\nsslserver: ssl (\d+) accept ` + regexp.QuoteMeta(proto+":"+cipher) + "\n")
			s.waitLog("-V's line", func(l string) bool {
				m := line.FindAllStringSubmatch(l, -1)
				return len(m) > 0 && m[len(m)-1][1] == m[len(m)-1][2]
			})
			if got := field(out, "SSL_PROTOCOL"); got != proto {
				t.Errorf("%s: SSL_PROTOCOL=%s, s_client's Protocol %s", version, got, proto)
			}
			if got := field(out, "SSL_CIPHER"); got != cipher {
				t.Errorf("%s: SSL_CIPHER=%s, s_client's Cipher %s", version, got, cipher)
			}
			for _, want := range []string{"PROTO=SSL\n", "SSLLOCALIP=127.0.0.1\n", "SSLREMOTEIP=127.0.0.1\n",
				"SSLLOCALHOST=0\n", "SSL_CLIENT_VERIFY=NONE\n", "SSL_SERVER_S_DN=/CN=localhost\n"} {
				if !strings.Contains(out, want) {
					t.Errorf("%s: no %q in the program's environment:\n%s", version, want, out)
				}
			}
			if strings.Contains(out, "TCPREMOTEIP=") || strings.Contains(out, "SSLREMOTEINFO=") {
				t.Errorf("%s: TCP variables without -e, or SSLREMOTEINFO under -R:\n%s", version, out)
			}
		}
		s.stop()
	}
}

// A second TLS stack, GnuTLS.
func TestGnuTLSClient(t *testing.T) {
	if _, err := exec.LookPath("gnutls-cli"); err != nil {
		t.Skip("gnutls-cli not installed (apt-get install gnutls-bin)")
	}
	r := newTLSRig(t)
	print := script(t, r.dir, "print", printEnvOnly)
	s := r.start(t, r.env(r.server), "-s", "-RHl0", "127.0.0.1", "0", print)
	for _, prio := range []string{"NORMAL:-VERS-ALL:+VERS-TLS1.3", "NORMAL:-VERS-ALL:+VERS-TLS1.2"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, _ := exec.CommandContext(ctx, "gnutls-cli", "--x509cafile", r.ca.File, "--priority", prio,
			"-p", s.port, "localhost").CombinedOutput()
		cancel()
		version := "TLSv1." + prio[len(prio)-1:]
		gnutlsVersion := "(TLS1." + prio[len(prio)-1:]
		if !strings.Contains(string(out), "Handshake was completed") || !strings.Contains(string(out), gnutlsVersion) {
			t.Fatalf("gnutls-cli %s:\n%s", prio, out)
		}
		if got := field(string(out), "SSL_PROTOCOL"); got != version {
			t.Errorf("gnutls-cli %s: SSL_PROTOCOL=%s", prio, got)
		}
	}
}

func TestDataBothWaysAndBanner(t *testing.T) {
	r := newTLSRig(t)
	echo := script(t, r.dir, "echo", "/usr/bin/cat\necho end of input\n")
	s := r.start(t, r.env(r.server), "-v", "-RHl0", "-B", "banner\r\n", "127.0.0.1", "0", echo)
	c := dialTLS(t, s.addr("127.0.0.1"), r.clientConfig(nil))
	big := strings.Repeat("0123456789abcdef", 40000) // 640,000 bytes
	go func() {
		io.WriteString(c, big)
		c.CloseWrite() // close_notify: the program's end of input
	}()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "banner\r\n"+big+"end of input\n" {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	c.Close()
	s.waitLog("the end", func(l string) bool { return strings.Contains(l, "sslserver: end ") })
	s.stop()
	log := reftest.Pids([]byte(s.log.String()))
	want := "sslserver: status: 0/40\nsslserver: status: 1/40\nsslserver: pid PID from 127.0.0.1\n" +
		"sslserver: ok PID 0:127.0.0.1:" + s.port + " :127.0.0.1::CPORT\nsslserver: end PID status 0\nsslserver: status: 0/40\n"
	if got := regexp.MustCompile(`::\d+\n`).ReplaceAllString(string(log), "::CPORT\n"); got != want {
		t.Errorf("log\n%s\nwant\n%s", got, want)
	}
}

// -e gives the TCP* variables tcpserver gives, PROTO=TCP, besides SSL*.
func TestTCPVariables(t *testing.T) {
	r := newTLSRig(t)
	print := script(t, r.dir, "print", printEnvOnly)
	tcp := startServer(t, reftest.Ours(t, "tcpserver"), pathEnv(), "-RHl0", "127.0.0.1", "0", print)
	want, _ := talk(t, tcp.addr("127.0.0.1"), "", "")
	s := r.start(t, r.env(r.server), "-e", "-RHl0", "127.0.0.1", "0", print)
	c := dialTLS(t, s.addr("127.0.0.1"), r.clientConfig(nil))
	got, _ := io.ReadAll(c)
	tcpLines := func(env string) string {
		var keep []string
		for _, l := range strings.Split(env, "\n") {
			if strings.HasPrefix(l, "TCP") && !strings.Contains(l, "PORT=") || strings.HasPrefix(l, "PROTO=") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if tcpLines(string(got)) != tcpLines(want) || !strings.Contains(string(got), "\nSSLREMOTEIP=127.0.0.1\n") {
		t.Errorf("sslserver -e:\n%s\ntcpserver:\n%s", got, want)
	}
}

// The client certificates -m refuses, each dropped before its program runs,
// and the one it takes, described as openssl x509 describes it.
func TestClientCertificates(t *testing.T) {
	r := newTLSRig(t)
	marker := filepath.Join(r.dir, "ran")
	print := script(t, r.dir, "print", "/usr/bin/touch "+marker+"\n"+printEnvOnly)
	s := r.start(t, r.env(r.server, "CAFILE="+r.ca.File), "-v", "-m", "-s", "-RHl0", "127.0.0.1", "0", print)
	for _, tc := range []struct {
		name   string
		cert   *certs.Cert
		reason string
	}{
		{"no certificate", nil, "no client certificate"},
		{"a foreign one", r.foreignClient, "client certificate not trusted"},
		{"an expired one", r.expiredClient, "client certificate expired"},
	} {
		for _, version := range []string{"-tls1_2", "-tls1_3"} {
			before := strings.Count(s.log.String(), "sslserver: end ")
			args := []string{version}
			if tc.cert != nil {
				args = append(args, "-cert", tc.cert.CertFile, "-key", tc.cert.KeyFile)
			}
			sClient(t, r, s.port, "", args...)
			l := s.waitLog("the drop", func(l string) bool { return strings.Count(l, "sslserver: end ") > before })
			line := "sslserver: warning: dropping connection, unable to accept TLS: " + tc.reason + "\nsslserver: end 0 status 28416\n"
			if !strings.Contains(l, line) {
				t.Errorf("%s, %s: log lacks %q:\n%s", tc.name, version, line, l)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatalf("%s, %s: the program ran", tc.name, version)
			}
		}
	}
	out := sClient(t, r, s.port, "", "-cert", r.client.CertFile, "-key", r.client.KeyFile)
	x509 := func(args ...string) string {
		b, err := exec.Command("openssl", append([]string{"x509", "-in", r.client.CertFile, "-noout", "-nameopt", "compat"}, args...)...).Output()
		if err != nil {
			t.Fatal(err)
		}
		_, v, _ := strings.Cut(strings.TrimSpace(string(b)), "=")
		return v
	}
	serial, _ := new(big.Int).SetString(x509("-serial"), 16)
	for name, want := range map[string]string{
		"SSL_CLIENT_S_DN": x509("-subject"), "SSL_CLIENT_I_DN": x509("-issuer"),
		"SSL_CLIENT_M_SERIAL": serial.String(), "SSL_CLIENT_V_START": x509("-startdate"),
		"SSL_CLIENT_V_END": x509("-enddate"), "SSL_CLIENT_VERIFY": "SUCCESS", "SSL_CLIENT_S_DN_CN": "localhost",
	} {
		if got := field(out, name); got != want {
			t.Errorf("%s=%q, want %q", name, got, want)
		}
	}
}

// -z: the certificate must name the client; CCAVERIFY asks for one per rule;
// CCAFILE=- asks for none.
func TestClientNames(t *testing.T) {
	r := newTLSRig(t)
	print := script(t, r.dir, "print", printEnvOnly)
	// The client certificate names client.test; the client is 127.0.0.1,
	// known as localhost (-l sets the local name only).
	s := r.start(t, r.env(r.server, "CAFILE="+r.ca.File), "-v", "-z", "-RH", "-l0", "127.0.0.1", "0", print)
	sClient(t, r, s.port, "", "-cert", r.client.CertFile, "-key", r.client.KeyFile)
	s.waitLog("the drop", func(l string) bool {
		return strings.Contains(l, "unable to accept TLS: client name does not match\n")
	})
	s.stop()

	cdb := filepath.Join(r.dir, "rules.cdb")
	tcprules(t, cdb, "127.0.0.2:allow,CCAVERIFY=\"\"\n:allow\n")
	s = r.start(t, r.env(r.server, "CAFILE="+r.ca.File), "-v", "-x", cdb, "-RHl0", "127.0.0.1", "0", print)
	d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	if c, err := tls.DialWithDialer(d, "tcp", s.addr("127.0.0.1"), r.clientConfig(nil)); err == nil {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.ReadAll(c) // TLS 1.3: the refusal comes after the client's handshake
		c.Close()
	}
	s.waitLog("the drop", func(l string) bool { return strings.Contains(l, "unable to accept TLS: no client certificate\n") })
	c := dialTLS(t, s.addr("127.0.0.1"), r.clientConfig(nil)) // 127.0.0.1: no rule, no certificate
	if out, _ := io.ReadAll(c); !strings.Contains(string(out), "PROTO=SSL") {
		t.Errorf("a connection no rule asks a certificate of: %q", out)
	}
	c = dialTLS(t, s.addr("127.0.0.1"), r.clientConfig(r.client))
	if out, _ := io.ReadAll(c); strings.Contains(string(out), "SSL_CLIENT") {
		t.Errorf("a certificate shown unasked got into the environment")
	}
	d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}
	c, err := tls.DialWithDialer(d, "tcp", s.addr("127.0.0.1"), r.clientConfig(r.client))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if out, _ := io.ReadAll(c); !strings.Contains(string(out), "PROTO=SSL") {
		t.Errorf("CCAVERIFY with a good certificate: %q", out)
	}
	s.stop()

	s = r.start(t, r.env(r.server, "CAFILE="+r.ca.File, "CCAFILE=-"), "-m", "-RHl0", "127.0.0.1", "0", print)
	c = dialTLS(t, s.addr("127.0.0.1"), r.clientConfig(nil))
	if out, _ := io.ReadAll(c); !strings.Contains(string(out), "PROTO=SSL") {
		t.Errorf("-m with CCAFILE=- asked for a certificate: %q", out)
	}
}

func TestSessionResumption(t *testing.T) {
	r := newTLSRig(t)
	print := script(t, r.dir, "print", printEnvOnly)
	s := r.start(t, r.env(r.server), "-RHl0", "127.0.0.1", "0", print)
	for _, version := range []string{"-tls1_2", "-tls1_3"} {
		sess := filepath.Join(r.dir, "session"+version)
		first := sClient(t, r, s.port, "", version, "-sess_out", sess)
		if !strings.Contains(first, "New, TLSv1.") {
			t.Fatalf("%s: first connection:\n%s", version, first)
		}
		again := sClient(t, r, s.port, "", version, "-sess_in", sess)
		if !strings.Contains(again, "Reused, TLSv1.") || !strings.Contains(again, "PROTO=SSL") {
			t.Errorf("%s: the session was not resumed:\n%s", version, again)
		}
	}
}

func TestCiphers(t *testing.T) {
	r := newTLSRig(t)
	print := script(t, r.dir, "print", printEnvOnly)
	s := r.start(t, r.env(r.server, "CIPHERS=HIGH:ECDHE-ECDSA-AES256-GCM-SHA384:!aNULL", "DHFILE=/etc/dh.pem"),
		"-s", "-RHl0", "127.0.0.1", "0", print)
	s.waitLog("the warnings", func(l string) bool {
		return strings.Contains(l, "sslserver: warning: CIPHERS: ignoring HIGH, !aNULL (") &&
			strings.Contains(l, "sslserver: warning: DHFILE ignored: Go's TLS has no DHE key exchange\n")
	})
	out := sClient(t, r, s.port, "", "-tls1_2")
	if field(out, "Cipher") != "ECDHE-ECDSA-AES256-GCM-SHA384" || field(out, "SSL_CIPHER") != "ECDHE-ECDSA-AES256-GCM-SHA384" {
		t.Errorf("CIPHERS=ECDHE-ECDSA-AES256-GCM-SHA384:\n%s", out)
	}
	out = sClient(t, r, s.port, "", "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
	if strings.Contains(out, "PROTO=SSL") {
		t.Errorf("a cipher outside CIPHERS was taken:\n%s", out)
	}
	s.waitLog("the drop", func(l string) bool {
		return strings.Contains(l, "unable to accept TLS: no cipher suite supported by both client and server")
	})
}

// Plaintext, garbage, silence and a client that goes away: each connection
// is dropped with a reason, the others go on.
func TestBadClients(t *testing.T) {
	r := newTLSRig(t)
	print := script(t, r.dir, "print", printEnvOnly)
	s := r.start(t, r.env(r.server), "-v", "-T", "1", "-RHl0", "127.0.0.1", "0", print)
	for _, tc := range []struct {
		send, reason string
	}{
		{"GET / HTTP/1.0\r\n\r\n", "first record does not look like a TLS handshake"},
		{"\x16\x03\x01\xff\xff" + strings.Repeat("x", 64), "oversized record received"},
		{"", "timed out"},
		{"\x16\x03\x01\x00\x40abc", "connection closed"},
	} {
		before := strings.Count(s.log.String(), "sslserver: end ")
		c, err := net.Dial("tcp", s.addr("127.0.0.1"))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, tc.send)
		if tc.send != "" && strings.HasPrefix(tc.reason, "connection closed") {
			c.(*net.TCPConn).CloseWrite()
		}
		l := s.waitLog(tc.reason, func(l string) bool { return strings.Count(l, "sslserver: end ") > before })
		if !strings.Contains(l, "unable to accept TLS: "+tc.reason) || !strings.HasSuffix(l, "sslserver: end 0 status 28416\nsslserver: status: 0/40\n") {
			t.Errorf("%q: log\n%s", tc.send, l)
		}
		c.Close()
	}
}

// One client stalls its handshake while ten others complete theirs.
func TestStalledHandshake(t *testing.T) {
	r := newTLSRig(t)
	print := script(t, r.dir, "print", printEnvOnly)
	s := r.start(t, r.env(r.server), "-T", "20", "-RHl0", "127.0.0.1", "0", print)
	stalled, err := net.Dial("tcp", s.addr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	io.WriteString(stalled, "\x16\x03\x01") // the start of a record, and nothing more
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", s.addr("127.0.0.1"), r.clientConfig(nil))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if out, err := io.ReadAll(c); err != nil || !strings.Contains(string(out), "PROTO=SSL") {
				errs <- fmt.Errorf("read %q, %v", out, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("ten handshakes took %v beside a stalled one", d)
	}
}

// The program of one connection killed: that connection ends (its client
// sees the end), the other goes on.
func TestKilledProgram(t *testing.T) {
	r := newTLSRig(t)
	talker := script(t, r.dir, "talker", "echo $$\nexec /usr/bin/cat\n")
	s := r.start(t, r.env(r.server), "-v", "-RHl0", "127.0.0.1", "0", talker)
	a := dialTLS(t, s.addr("127.0.0.1"), r.clientConfig(nil))
	b := dialTLS(t, s.addr("127.0.0.1"), r.clientConfig(nil))
	pid := readLine(t, a)
	readLine(t, b)
	var n int
	fmt.Sscan(pid, &n)
	if n <= 1 || syscall.Kill(n, syscall.SIGKILL) != nil {
		t.Fatalf("cannot kill %q", pid)
	}
	if rest, err := io.ReadAll(a); err != nil || len(rest) != 0 {
		t.Errorf("the killed program's client: %q, %v; want the end", rest, err)
	}
	io.WriteString(b, "still here\n")
	if got := readLine(t, b); got != "still here" {
		t.Errorf("the other connection echoed %q", got)
	}
	s.waitLog("the end line", func(l string) bool { return strings.Contains(l, "sslserver: end "+pid+" status 9\n") })
}

func readLine(t *testing.T, c *tls.Conn) string {
	t.Helper()
	var b []byte
	one := make([]byte, 1)
	for len(b) < 1000 {
		if _, err := c.Read(one); err != nil {
			t.Fatalf("reading a line: %q, %v", b, err)
		}
		if one[0] == '\n' {
			break
		}
		b = append(b, one[0])
	}
	return string(b)
}
