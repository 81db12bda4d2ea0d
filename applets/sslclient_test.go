package applets

import (
	"bufio"
	"context"
	"crypto/x509/pkix"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/certs"
	"github.com/ucspi-go/ucspi/internal/fakedns"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

// sslclient against openssl s_server, with certificates the tests make.

// sServer runs openssl s_server on a loopback port of the test's choosing
// with args, for one connection, and returns the port once it listens.
func sServer(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	cmd := exec.CommandContext(ctx, "openssl", append([]string{"s_server", "-4", "-accept", "127.0.0.1:" + port, "-naccept", "1"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	// Its input held open: at the end of it s_server closes the connection.
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if lines.Text() == "ACCEPT" {
			go func() {
				for lines.Scan() {
				}
			}()
			return port
		}
	}
	t.Fatal("openssl s_server did not start")
	return ""
}

type clientRig struct {
	dir                          string
	ca, foreign                  *certs.Authority
	good, expired, self, misname *certs.Cert
	client                       *certs.Cert
}

func newClientRig(t *testing.T) *clientRig {
	dir := t.TempDir()
	r := &clientRig{dir: dir, ca: certs.NewAuthority(t, dir, "ca"), foreign: certs.NewAuthority(t, dir, "foreign")}
	r.good = r.ca.Issue(t, dir, "good", certs.Spec{})
	r.expired = r.ca.Issue(t, dir, "expired", certs.Spec{Expired: true})
	r.self = r.foreign.Issue(t, dir, "self", certs.Spec{})
	r.misname = r.ca.Issue(t, dir, "misname", certs.Spec{DNSNames: []string{"other.example"}})
	r.client = r.ca.Issue(t, dir, "client", certs.Spec{Client: true, Subject: pkix.Name{CommonName: "client.test", Organization: []string{"Clients"}}})
	return r
}

func sslclientRun(t *testing.T, args ...string) reftest.Result {
	t.Helper()
	return reftest.Run(t, reftest.Ours(t, "sslclient"), reftest.Cmd{Args: args, Env: localhostEnv(t), Timeout: 20 * time.Second})
}

// localhostEnv is an environment in which the DNS knows localhost: like
// djb's, our resolver never reads /etc/hosts.
func localhostEnv(t *testing.T) []string {
	dns := fakedns.Start(t, "localhost. A 127.0.0.1")
	return []string{"PATH=" + os.Getenv("PATH"), "DNSCACHEIP=" + dns.IP}
}

func TestSSLClientDataBothWays(t *testing.T) {
	r := newClientRig(t)
	// s_server -rev sends each line back reversed.
	prog := "echo hello >&7; read line <&6; echo \"$PROTO $SSL_PROTOCOL $line\""
	for _, version := range []string{"-tls1_2", "-tls1_3"} {
		port := sServer(t, "-cert", r.good.CertFile, "-key", r.good.KeyFile, "-rev", version)
		res := sslclientRun(t, "-s", "-a", r.ca.File, "-RHl0", "localhost", port, "sh", "-c", prog)
		want := "SSL TLSv1." + version[len(version)-1:] + " olleh\n"
		if res.Code != 0 || string(res.Stdout) != want {
			t.Errorf("%s: exit %d, %q, %q; want %q", version, res.Code, res.Stdout, res.Stderr, want)
		}
	}
}

// The variables: SSL* as tcpclient's TCP*, TCP* too with -e, the server's
// certificate with -s.
func TestSSLClientEnvironment(t *testing.T) {
	r := newClientRig(t)
	port := sServer(t, "-cert", r.good.CertFile, "-key", r.good.KeyFile)
	res := sslclientRun(t, "-e", "-s", "-a", r.ca.File, "-RHl", "me", "127.0.0.1", port, "sh", "-c", "env | sort")
	for _, want := range []string{"PROTO=TCP\n", "SSLLOCALHOST=me\n", "TCPLOCALHOST=me\n", "SSLREMOTEIP=127.0.0.1\n",
		"TCPREMOTEPORT=" + port + "\n", "SSLREMOTEPORT=" + port + "\n", "SSL_SERVER_S_DN=/CN=localhost\n",
		"SSL_SERVER_I_DN=/C=DE/O=Test ca/CN=ca\n", "SSL_SERVER_M_SERIAL=" + r.good.Cert.SerialNumber.String() + "\n"} {
		if !strings.Contains(string(res.Stdout), want) {
			t.Errorf("no %q in\n%s%s", want, res.Stdout, res.Stderr)
		}
	}
	if strings.Contains(string(res.Stdout), "SSL_CLIENT_S_DN") {
		t.Error("SSL_CLIENT_* with no certificate asked for")
	}
}

// What sslclient refuses, and what -X and -N let through.
func TestSSLClientVerification(t *testing.T) {
	r := newClientRig(t)
	for _, tc := range []struct {
		name   string
		cert   *certs.Cert
		host   string
		args   []string
		reason string // "" for a connection made
	}{
		{"good", r.good, "localhost", nil, ""},
		{"good, by address", r.good, "127.0.0.1", nil, ""},
		{"expired", r.expired, "localhost", nil, "certificate expired or not yet valid"},
		{"self-signed", r.self, "localhost", nil, "certificate signed by unknown authority"},
		{"wrong name", r.misname, "localhost", nil, "certificate name does not match localhost"},
		{"wrong name, by address", r.misname, "127.0.0.1", nil, "certificate name does not match 127.0.0.1"},
		{"-X: any authority", r.self, "localhost", []string{"-X"}, ""},
		{"-X: still the name", r.misname, "localhost", []string{"-X"}, "certificate name does not match localhost"},
		{"-N: any name", r.misname, "localhost", []string{"-N"}, ""},
		{"the system's authorities", r.good, "localhost", []string{"-a", ""}, "certificate signed by unknown authority"},
	} {
		for _, version := range []string{"-tls1_2", "-tls1_3"} {
			port := sServer(t, "-cert", tc.cert.CertFile, "-key", tc.cert.KeyFile, version)
			args := append(append([]string{"-a", r.ca.File}, tc.args...), "-RHl0", tc.host, port, "echo", "ran")
			res := sslclientRun(t, args...)
			if tc.reason == "" {
				if res.Code != 0 || string(res.Stdout) != "ran\n" {
					t.Errorf("%s %s: exit %d, %q, %q", tc.name, version, res.Code, res.Stdout, res.Stderr)
				}
				continue
			}
			want := "sslclient: fatal: unable to establish TLS with 127.0.0.1 port " + port + ": " + tc.reason + "\n"
			if res.Code != 111 || len(res.Stdout) != 0 || string(res.Stderr) != want {
				t.Errorf("%s %s: exit %d, stdout %q, stderr %q; want 111 and %q", tc.name, version, res.Code, res.Stdout, res.Stderr, want)
			}
		}
	}
}

// A client certificate for a server that asks for one, its key behind a
// password on descriptor 3.
func TestSSLClientCertificate(t *testing.T) {
	r := newClientRig(t)
	legacy := filepath.Join(r.dir, "client-legacy.key")
	if out, err := exec.Command("openssl", "pkey", "-in", r.client.KeyFile, "-aes256", "-passout", "pass:pw", "-traditional", "-out", legacy).CombinedOutput(); err != nil {
		t.Skipf("openssl pkey: %v %s", err, out)
	}
	port := sServer(t, "-cert", r.good.CertFile, "-key", r.good.KeyFile, "-Verify", "1", "-CAfile", r.ca.File, "-verify_return_error")
	pr, pw, _ := os.Pipe()
	pw.WriteString("pw\x00")
	pw.Close()
	cmd := exec.Command(reftest.Ours(t, "sslclient"), "-3", "-s", "-a", r.ca.File, "-c", r.client.CertFile, "-k", legacy,
		"-RHl0", "localhost", port, "sh", "-c", "echo $SSL_CLIENT_S_DN")
	cmd.ExtraFiles = []*os.File{pr}
	cmd.Env = localhostEnv(t)
	out, err := cmd.CombinedOutput()
	pr.Close()
	if err != nil || string(out) != "/O=Clients/CN=client.test\n" {
		t.Errorf("with a client certificate: %v, %q", err, out)
	}
}

func TestSSLClientFailures(t *testing.T) {
	r := newClientRig(t)
	res := sslclientRun(t, "-RHl0", "localhost")
	if res.Code != 100 || !strings.HasPrefix(string(res.Stderr), "sslclient: usage: sslclient [ -3hHrRdDqQvxXnNsSeE ]") {
		t.Errorf("usage: %d %q", res.Code, res.Stderr)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	res = sslclientRun(t, "-RHl0", "127.0.0.1", port, "echo")
	if res.Code != 111 || string(res.Stderr) != "sslclient: unable to connect to 127.0.0.1 port "+port+": connection refused\n" {
		t.Errorf("refused: %d %q", res.Code, res.Stderr)
	}
	// A server that is not TLS.
	plain, _ := net.Listen("tcp", "127.0.0.1:0")
	defer plain.Close()
	go func() {
		c, err := plain.Accept()
		if err == nil {
			c.Write([]byte("220 not TLS\r\n"))
			time.Sleep(time.Second)
			c.Close()
		}
	}()
	port = strconv.Itoa(plain.Addr().(*net.TCPAddr).Port)
	res = sslclientRun(t, "-a", r.ca.File, "-RHl0", "127.0.0.1", port, "echo", "ran")
	if res.Code != 111 || !strings.HasPrefix(string(res.Stderr), "sslclient: fatal: unable to establish TLS with 127.0.0.1 port "+port+": ") || len(res.Stdout) != 0 {
		t.Errorf("a plain server: %d %q %q", res.Code, res.Stdout, res.Stderr)
	}
	missing := filepath.Join(r.dir, "nosuch.pem")
	for _, args := range [][]string{{"-c", missing}, {"-a", missing}} {
		res = sslclientRun(t, append(args, "-RHl0", "127.0.0.1", port, "echo")...)
		if want := "sslclient: fatal: unable to load certificate " + missing + ": file does not exist\n"; res.Code != 111 || string(res.Stderr) != want {
			t.Errorf("%q: %d %q; want 111 and %q, before connecting", args, res.Code, res.Stderr, want)
		}
	}
}
