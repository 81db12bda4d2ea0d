package ucspi

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/certs"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

// sslserver's life: start-up, certificate renewal, SIGTERM, faults.

func TestStartUpFailures(t *testing.T) {
	r := newTLSRig(t)
	other := r.ca.Issue(t, r.dir, "other", certs.Spec{})
	pkcs8 := filepath.Join(r.dir, "pkcs8.key")
	if _, err := exec.LookPath("openssl"); err == nil {
		if out, err := exec.Command("openssl", "pkey", "-in", r.server.KeyFile, "-aes256", "-passout", "pass:pw", "-out", pkcs8).CombinedOutput(); err != nil {
			t.Fatalf("openssl pkey: %v %s", err, out)
		}
	}
	missing := filepath.Join(r.dir, "nosuch.pem")
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{pathEnv(), "sslserver: fatal: unable to load certificate: neither CERTFILE nor CERTCHAINFILE is set\n"},
		{pathEnv("CERTFILE=" + missing), "sslserver: fatal: unable to load certificate " + missing + ": file does not exist\n"},
		{pathEnv("CERTFILE=" + r.dir), "sslserver: fatal: unable to load certificate " + r.dir + ": is a directory\n"},
		{pathEnv("CERTFILE="+r.server.CertFile, "KEYFILE="+other.KeyFile),
			"sslserver: fatal: unable to load certificate " + other.KeyFile + ": private key does not match certificate\n"},
		{pathEnv("CERTFILE="+r.server.CertFile, "KEYFILE="+pkcs8),
			"sslserver: fatal: unable to load certificate " + pkcs8 + ": encrypted PKCS#8 key not supported"},
		{r.env(r.server, "CAFILE="+missing), "sslserver: fatal: unable to load certificate " + missing + ": file does not exist\n"},
		{r.env(r.server, "CCAFILE="+missing), "sslserver: fatal: unable to load certificate " + missing + ": file does not exist\n"},
	} {
		if strings.Contains(tc.want, "PKCS#8") && !fileExists(pkcs8) {
			continue // no openssl to make the key
		}
		res := reftest.Run(t, reftest.Ours(t, "sslserver"), reftest.Cmd{Env: tc.env, Args: []string{"-1", "127.0.0.1", "0", "true"}})
		if res.Code != 111 || !strings.HasPrefix(string(res.Stderr), tc.want) || len(res.Stdout) != 0 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 111 and %q before listening", tc.env[1:], res.Code, res.Stdout, res.Stderr, tc.want)
		}
	}
	res := reftest.Run(t, reftest.Ours(t, "sslserver"), reftest.Cmd{Env: r.env(r.server), Args: []string{"-m", "127.0.0.1", "0", "true"}})
	if res.Code != 111 || string(res.Stderr) != "sslserver: fatal: unable to load CA list: -m and -z need CAFILE or CADIR\n" {
		t.Errorf("-m without CAFILE: exit %d, %q", res.Code, res.Stderr)
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// An expired certificate warns and serves; -3 reads the key's password from
// descriptor 3.
func TestExpiredCertificateAndPassword(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	r := newTLSRig(t)
	expired := r.ca.Issue(t, r.dir, "expired", certs.Spec{Expired: true})
	s := r.start(t, r.env(expired), "-RHl0", "127.0.0.1", "0", "echo")
	s.waitLog("the warning", func(l string) bool {
		return strings.HasPrefix(l, "sslserver: warning: certificate "+expired.CertFile+" expired at ") && strings.HasSuffix(l, " GMT\n")
	})
	s.stop()

	legacy := filepath.Join(r.dir, "legacy.key")
	if out, err := exec.Command("openssl", "pkey", "-in", r.server.KeyFile, "-aes256", "-passout", "pass:s3cret", "-traditional", "-out", legacy).CombinedOutput(); err != nil {
		t.Fatalf("openssl pkey: %v %s", err, out)
	}
	env := pathEnv("CERTFILE="+r.server.CertFile, "KEYFILE="+legacy)
	for password, ok := range map[string]bool{"s3cret\x00": true, "wrong\x00": false} {
		pr, pw, _ := os.Pipe()
		pw.WriteString(password)
		pw.Close()
		cmd := exec.Command(reftest.Ours(t, "sslserver"), "-1", "-3", "-RHl0", "127.0.0.1", "0", "echo", "hello")
		cmd.ExtraFiles = []*os.File{pr} // descriptor 3
		if !ok {
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if code := exitCode(err); code != 111 || !strings.Contains(string(out), "sslserver: fatal: unable to load certificate "+legacy+": unable to decrypt private key") {
				t.Errorf("a wrong password: exit %d, %q", code, out)
			}
			pr.Close()
			continue
		}
		s := startCmd(t, cmd, env)
		pr.Close()
		c := dialTLS(t, s.addr("127.0.0.1"), r.clientConfig(nil))
		if out, _ := io.ReadAll(c); string(out) != "hello\n" {
			t.Errorf("with the key's password on descriptor 3: %q", out)
		}
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return 0
}

func TestRenewal(t *testing.T) {
	r := newTLSRig(t)
	next := r.ca.Issue(t, r.dir, "next", certs.Spec{RSA: true})
	certFile, keyFile := filepath.Join(r.dir, "live.pem"), filepath.Join(r.dir, "live.key")
	install := func(cert, key []byte) {
		for file, b := range map[string][]byte{certFile: cert, keyFile: key} {
			os.WriteFile(file+".new", b, 0o600)
			os.Rename(file+".new", file)
		}
	}
	install(r.server.CertPEM, r.server.KeyPEM)
	s := r.start(t, pathEnv("CERTFILE="+certFile, "KEYFILE="+keyFile), "-RHl0", "127.0.0.1", "0", "true")
	served := func() *certs.Cert {
		t.Helper()
		c := dialTLS(t, s.addr("127.0.0.1"), r.clientConfig(nil))
		defer c.Close()
		io.ReadAll(c)
		leaf := c.ConnectionState().PeerCertificates[0]
		for _, x := range []*certs.Cert{r.server, next} {
			if leaf.Equal(x.Cert) {
				return x
			}
		}
		t.Fatal("served an unknown certificate")
		return nil
	}
	if served() != r.server {
		t.Fatal("not serving the certificate it started with")
	}
	install(next.CertPEM, next.KeyPEM)
	time.Sleep(1100 * time.Millisecond) // the files are looked at once a second
	if served() != next {
		t.Error("renewed files not served")
	}
	install(r.server.CertPEM, next.KeyPEM) // half done: new certificate, old key
	for range 2 {
		time.Sleep(1100 * time.Millisecond)
		if served() != next {
			t.Error("a failed reload replaced the pair in use")
		}
	}
	warning := "sslserver: warning: unable to reload certificate " + keyFile + ": private key does not match certificate\n"
	if n := strings.Count(s.log.String(), warning); n != 1 {
		t.Errorf("%d warnings %q; want 1:\n%s", n, warning, s.log)
	}
}

// SIGTERM: at once by default, the live connections' programs seeing the end
// of their input; after the live connections with --drain.
func TestTermination(t *testing.T) {
	r := newTLSRig(t)
	marker := filepath.Join(r.dir, "saw-the-end")
	prog := script(t, r.dir, "prog", "echo ready\n/usr/bin/cat\n/usr/bin/touch "+marker+"\n")
	s := r.start(t, r.env(r.server), "-RHl0", "127.0.0.1", "0", prog)
	c := dialTLS(t, s.addr("127.0.0.1"), r.clientConfig(nil))
	readLine(t, c)
	if code := s.stop(); code != 0 {
		t.Errorf("exit %d on SIGTERM", code)
	}
	io.ReadAll(c) // the connection ends with the server
	waitFile(t, marker)

	s = r.start(t, r.env(r.server), "--drain", "20", "-RHl0", "127.0.0.1", "0", "/usr/bin/cat")
	c = dialTLS(t, s.addr("127.0.0.1"), r.clientConfig(nil))
	io.WriteString(c, "before\n")
	readLine(t, c)
	s.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	select {
	case <-s.exited:
		t.Fatal("--drain: exited with a live connection")
	default:
	}
	if nc, err := net.DialTimeout("tcp", s.addr("127.0.0.1"), 5*time.Second); err == nil {
		nc.Close()
		t.Error("--drain: still accepting after SIGTERM")
	}
	io.WriteString(c, "during\n")
	if got := readLine(t, c); got != "during" {
		t.Errorf("the live connection while draining: %q", got)
	}
	c.CloseWrite()
	io.ReadAll(c)
	select {
	case <-s.exited:
		if code := s.state.ExitCode(); code != 0 {
			t.Errorf("exit %d after draining", code)
		}
	case <-time.After(10 * time.Second):
		t.Error("--drain: still running after its last connection ended")
	}
}

// --reuse-port: a new server takes the port over while the old one drains.
func TestTakeOver(t *testing.T) {
	r := newTLSRig(t)
	who := script(t, r.dir, "who", "echo $WHO\nexec /usr/bin/cat\n")
	old := r.start(t, r.env(r.server, "WHO=old"), "--reuse-port", "--drain", "20", "-RHl0", "127.0.0.1", "0", who)
	live := dialTLS(t, old.addr("127.0.0.1"), r.clientConfig(nil))
	if got := readLine(t, live); got != "old" {
		t.Fatalf("first connection went to %q", got)
	}
	successor := r.start(t, r.env(r.server, "WHO=new"), "--reuse-port", "-RHl0", "127.0.0.1", old.port, who)
	if successor.port != old.port {
		t.Fatalf("the successor listens on %s, not %s", successor.port, old.port)
	}
	old.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	for range 5 {
		c := dialTLS(t, old.addr("127.0.0.1"), r.clientConfig(nil))
		if got := readLine(t, c); got != "new" {
			t.Errorf("a connection after the old server's SIGTERM went to %q", got)
		}
		c.Close()
	}
	io.WriteString(live, "still\n")
	if got := readLine(t, live); got != "still" {
		t.Errorf("the draining server's connection: %q", got)
	}
	live.Close()
	select {
	case <-old.exited:
	case <-time.After(10 * time.Second):
		t.Error("the old server did not exit once drained")
	}
}

// A panic in one connection's goroutines ends that connection only.
func TestPanicEndsOneConnection(t *testing.T) {
	r := newTLSRig(t)
	prog := reftest.OursTagged(t, "ucspifault", "sslserver")
	s := startServer(t, prog, r.env(r.server), "-RHl0", "127.0.0.1", "0", "/usr/bin/cat")
	other := dialTLS(t, s.addr("127.0.0.1"), r.clientConfig(nil))
	victim := dialTLS(t, s.addr("127.0.0.1"), r.clientConfig(nil))
	io.WriteString(victim, "PANIC-IN-RELAY\n")
	if got, _ := io.ReadAll(victim); len(got) != 0 {
		t.Errorf("the faulty connection echoed %q", got)
	}
	s.waitLog("the drop", func(l string) bool {
		return strings.Contains(l, "sslserver: warning: dropping connection, internal error: injected fault\n")
	})
	io.WriteString(other, "fine\n")
	if got := readLine(t, other); got != "fine" {
		t.Errorf("the other connection: %q", got)
	}
	again := dialTLS(t, s.addr("127.0.0.1"), r.clientConfig(nil))
	io.WriteString(again, "new\n")
	if got := readLine(t, again); got != "new" {
		t.Errorf("a new connection: %q", got)
	}
	select {
	case <-s.exited:
		t.Error("the server died")
	default:
	}
}

func waitFile(t *testing.T, p string) {
	t.Helper()
	for range 1000 {
		if fileExists(p) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", p)
}
