package startup

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/reftest"
)

// TestQmailUnderSupervise runs qmail's SMTP service the way its run script
// does, under daemontools' supervise, with ours installed as make install does:
// softlimit, tcpserver with rules, rblsmtpd, and an SMTP server (a script)
// that reports what it was given. svc -a restarts the server (SIGALRM kills it,
// as 0.88's); svc -dx ends it all.
func TestQmailUnderSupervise(t *testing.T) {
	if testing.Short() {
		t.Skip("installs a static build")
	}
	for _, prog := range []string{"supervise", "svc", "svstat", "softlimit"} {
		need(t, prog)
	}
	// make install's binary (make static) and install.sh, without the man
	// pages make install also writes in the tree.
	root := t.TempDir()
	static := filepath.Join(root, "ucspi-static")
	if err := reftest.Make("static", "STATIC="+static); err != nil {
		t.Fatal(err)
	}
	_, here, _, _ := runtime.Caller(0)
	install := exec.Command(filepath.Join(filepath.Dir(here), "..", "..", "scripts", "install.sh"), "--binary", static, filepath.Join(root, "usr"))
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("install.sh: %v %s", err, out)
	}
	bin := filepath.Join(root, "usr", "bin")

	rules := filepath.Join(root, "tcp.smtp")
	os.WriteFile(rules, []byte("127.0.0.1:allow,RELAYCLIENT=\"\",RBLSMTPD=\"\"\n:deny\n"), 0o644)
	cmd := exec.Command(filepath.Join(bin, "tcprules"), rules+".cdb", rules+".tmp")
	cmd.Stdin, _ = os.Open(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tcprules: %v %s", err, out)
	}
	smtpd := filepath.Join(root, "qmail-smtpd")
	os.WriteFile(smtpd, []byte("#!/bin/sh\necho 220 ready\necho RELAYCLIENT=${RELAYCLIENT-unset}\ngrep -E '^Max (data|stack|address|locked)' /proc/self/limits\n"), 0o755)

	for _, mem := range []string{"5000000", "8000000", "20000000", "512000000"} {
		t.Run("softlimit -m "+mem, func(t *testing.T) {
			service := filepath.Join(t.TempDir(), "smtpd")
			os.Mkdir(service, 0o755)
			run := fmt.Sprintf("#!/bin/sh\nPATH=%s:/usr/bin:/bin\nexec 2>&1\n"+
				"exec softlimit -m %s tcpserver -1 -v -R -l0 -x %s.cdb -c 40 127.0.0.1 0 rblsmtpd -r bl.example %s\n",
				bin, mem, rules, smtpd)
			os.WriteFile(filepath.Join(service, "run"), []byte(run), 0o755)

			sup := start(t, []string{"PATH=" + bin + ":/usr/bin:/bin"}, "supervise", service)
			svc := func(flag string) {
				t.Helper()
				if out, err := exec.Command("svc", flag, service).CombinedOutput(); err != nil {
					t.Fatalf("svc %s: %v %s", flag, err, out)
				}
			}
			// Whatever happens, the service goes down and supervise exits,
			// before the group is killed.
			t.Cleanup(func() {
				exec.Command("svc", "-dx", service).Run()
				sup.settled(10 * time.Second)
			})
			want := "220 ready\nRELAYCLIENT=\n" + limits(t, mem)
			for round := 0; round < 2; round++ {
				port := serverPort(t, sup)
				if got := talk(t, port); got != want {
					t.Fatalf("round %d: the SMTP server said\n%s\nwant\n%s", round, got, want)
				}
				if round == 0 {
					svc("-a") // SIGALRM: it dies, supervise starts it again
				}
			}
			svc("-dx")
			if !sup.settled(10 * time.Second) {
				t.Fatal("supervise still running 10 s after svc -dx")
			}
			if st := sup.wait(); st != "exit 0" {
				t.Errorf("supervise: %s", st)
			}
		})
	}
}

// limits is what a program started by softlimit -m mem itself sees, which
// is what 0.88 passed on untouched.
func limits(t *testing.T, mem string) string {
	out, err := exec.Command("softlimit", "-m", mem, "grep", "-E", "^Max (data|stack|address|locked)", "/proc/self/limits").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// serverPort reads supervise's output (the run script's) to the next line
// that is a port: tcpserver -1's.
func serverPort(t *testing.T, sup *proc) string {
	t.Helper()
	for i := 0; i < 20; i++ {
		l := strings.TrimSpace(sup.line())
		if l != "" && strings.Trim(l, "0123456789") == "" {
			return l
		}
	}
	t.Fatal("no port from tcpserver -1 in 20 lines")
	return ""
}

// talk connects to the service and returns what it said until it hung up.
func talk(t *testing.T, port string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
