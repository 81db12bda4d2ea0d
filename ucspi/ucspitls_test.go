package ucspi

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sslserver -n: UCSPI-TLS, with a handler of our own and with Debian's
// mailfront under openssl s_client -starttls smtp.

// starttls is a handler speaking a tiny SMTP-like dialogue: a greeting, one
// line read in clear (STARTTLS), a go-ahead, then "y" or "Y" on SSLCTLFD and
// an echo over SSLREADFD and SSLWRITEFD, keeping a copy of what came in TLS
// in tls.in and, after "Y", the variables sent on SSLCTLFD in vars.
func starttls(t *testing.T, dir, cmd string) string {
	return script(t, dir, "starttls-"+cmd, `echo "220 hello, $PROTO $SSLCTLFD $SSLREADFD $SSLWRITEFD"
read line
echo "220 go ahead"
printf `+cmd+` >&$SSLCTLFD
if [ `+cmd+` = Y ]; then /usr/bin/tr '\0' '\n' <&$SSLCTLFD >`+dir+`/vars; fi
exec <&$SSLREADFD >&$SSLWRITEFD
/usr/bin/tee `+dir+`/tls.in
echo "end of TLS input"
`)
}

// startTLSClient talks the dialogue's clear part (sending send for the
// STARTTLS line, which may carry more), then the handshake.
func startTLSClient(t *testing.T, r *tlsRig, addr, send string) (*tls.Conn, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	greeting, _ := br.ReadString('\n')
	io.WriteString(c, send)
	if ok, _ := br.ReadString('\n'); ok != "220 go ahead\n" {
		t.Fatalf("after %q: %q", send, ok)
	}
	if br.Buffered() > 0 {
		t.Fatal("bytes after the go-ahead in clear")
	}
	tc := tls.Client(c, r.clientConfig(nil))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake after STARTTLS: %v", err)
	}
	return tc, greeting
}

func TestUCSPITLS(t *testing.T) {
	r := newTLSRig(t)
	for _, cmd := range []string{"y", "Y"} {
		dir := t.TempDir()
		s := r.start(t, r.env(r.server), "-V", "-n", "-B", "banner in clear\n", "-RHl0", "127.0.0.1", "0", starttls(t, dir, cmd))
		c, err := net.DialTimeout("tcp", s.addr("127.0.0.1"), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(c)
		if l, _ := br.ReadString('\n'); l != "banner in clear\n" {
			t.Errorf("%s: banner %q; log:\n%s", cmd, l, s.log)
		}
		if l, _ := br.ReadString('\n'); l != "220 hello, SSL 3 4 5\n" {
			t.Errorf("%s: greeting %q", cmd, l)
		}
		io.WriteString(c, "STARTTLS\r\n")
		if l, _ := br.ReadString('\n'); l != "220 go ahead\n" {
			t.Fatalf("%s: %q", cmd, l)
		}
		tc := tls.Client(c, r.clientConfig(nil))
		io.WriteString(tc, "over TLS\n")
		tc.CloseWrite()
		got, err := io.ReadAll(tc)
		if err != nil || string(got) != "over TLS\nend of TLS input\n" {
			t.Errorf("%s: TLS part %q, %v", cmd, got, err)
		}
		s.waitLog("the end", func(l string) bool { return strings.Contains(l, "sslserver: end ") })
		if !strings.Contains(s.log.String(), " accept TLSv1.3:TLS_AES_128_GCM_SHA256\n") {
			t.Errorf("%s: no ssl accept line:\n%s", cmd, s.log)
		}
		vars, _ := os.ReadFile(filepath.Join(dir, "vars"))
		if cmd == "Y" != strings.Contains(string(vars), "SSL_PROTOCOL=TLSv1.3\nSSL_CIPHER=TLS_AES_128_GCM_SHA256\n") {
			t.Errorf("%s: variables on SSLCTLFD %q", cmd, vars)
		}
		if cmd == "Y" && !strings.HasSuffix(string(vars), "SSL_CLIENT_VERIFY=NONE\n\n") {
			t.Errorf("Y: the variables do not end in an empty one: %q", vars)
		}
	}
}

// A program that never asks for TLS keeps the connection in plaintext, ends
// passed on both ways.
func TestUCSPITLSWithoutTLS(t *testing.T) {
	r := newTLSRig(t)
	s := r.start(t, r.env(r.server), "-n", "-RHl0", "127.0.0.1", "0", "sh", "-c", `exec 3>&-; /usr/bin/cat; echo done`)
	out, _ := talk(t, s.addr("127.0.0.1"), "", "plain text\n")
	if out != "plain text\ndone\n" {
		t.Errorf("plaintext to the end: %q", out)
	}
}

// Commands pipelined after STARTTLS never reach the program as TLS data:
// sent with STARTTLS, they stay in the clear descriptor; sent after the
// go-ahead, they reach the handshake, which fails on them.
func TestUCSPITLSPipelining(t *testing.T) {
	r := newTLSRig(t)
	dir := t.TempDir()
	s := r.start(t, r.env(r.server), "-v", "-n", "-RHl0", "127.0.0.1", "0", starttls(t, dir, "y"))
	tc, _ := startTLSClient(t, r, s.addr("127.0.0.1"), "STARTTLS\r\nRCPT TO:<evil@example>\r\n")
	io.WriteString(tc, "honest\n")
	tc.CloseWrite()
	io.ReadAll(tc)
	s.waitLog("the end", func(l string) bool { return strings.Contains(l, "sslserver: end ") })
	if in, _ := os.ReadFile(filepath.Join(dir, "tls.in")); string(in) != "honest\n" {
		t.Errorf("the program's TLS input: %q", in)
	}

	c, err := net.DialTimeout("tcp", s.addr("127.0.0.1"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	br.ReadString('\n')
	io.WriteString(c, "STARTTLS\r\n")
	br.ReadString('\n')
	// The program has asked for TLS right after its go-ahead; this comes
	// well after.
	time.Sleep(500 * time.Millisecond)
	io.WriteString(c, "RCPT TO:<evil@example>\r\n")
	s.waitLog("the drop", func(l string) bool {
		return strings.Contains(l, "unable to accept TLS: first record does not look like a TLS handshake\n")
	})
}

// Debian's mailfront, whose starttls-ucspi plugin speaks UCSPI-TLS, under
// openssl s_client -starttls smtp; UCSPITLS comes from a rule.
func TestMailfrontSTARTTLS(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/mailfront"); err != nil {
		t.Skip("mailfront not installed (apt-get install mailfront)")
	}
	r := newTLSRig(t)
	cdb := filepath.Join(r.dir, "rules.cdb")
	tcprules(t, cdb, ":allow,UCSPITLS=\"\"\n")
	s := r.start(t, r.env(r.server, "PLUGINS=starttls-ucspi:accept"), "-v", "-n", "-x", cdb, "-RHl", "mx.test",
		"127.0.0.1", "0", "/usr/sbin/mailfront", "smtp", "echo")
	mail := "EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", "s_client", "-connect", s.addr("127.0.0.1"), "-CAfile", r.ca.File,
		"-verify_return_error", "-starttls", "smtp", "-ign_eof")
	cmd.Stdin = strings.NewReader(mail)
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "Verify return code: 0 (ok)") || !strings.Contains(string(out), "250 Received ") {
		t.Fatalf("s_client -starttls smtp:\n%s\nlog:\n%s", out, s.log)
	}
	s.waitLog("mailfront's log", func(l string) bool {
		return strings.Contains(l, "]: MAIL FROM:<a@example.org>\n") && strings.Contains(l, "sslserver: end ")
	})

	// Pipelined after STARTTLS: mailfront refuses, and never sees the
	// pipelined command as a command.
	c, err := net.DialTimeout("tcp", s.addr("127.0.0.1"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	br.ReadString('\n')
	io.WriteString(c, "EHLO client.test\r\n")
	for l := ""; !strings.HasPrefix(l, "250 "); {
		if l, err = br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	io.WriteString(c, "STARTTLS\r\nMAIL FROM:<evil@example>\r\n")
	s.waitLog("the refusal", func(l string) bool {
		return strings.Contains(l, "Unexpected pipelined commands following STARTTLS")
	})
	c.Close()
	s.waitLog("the second end", func(l string) bool { return strings.Count(l, "sslserver: end ") == 2 })
	if strings.Contains(s.log.String(), "evil@example") {
		t.Errorf("the pipelined command was taken:\n%s", s.log)
	}
}
