// Package rts runs djb's own regression script for ucspi-tcp 0.88 (rts.tests,
// kept with its expected output rts.exp in testdata/rts) against our binaries.
package rts

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/applets"
	"github.com/ucspi-go/ucspi/internal/fakedns"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

func TestMain(m *testing.M) { reftest.Main(m) }

// nobody is who runs the script: it assumes a uid other than 0 and 1 and a gid
// other than 0 and 2 (tcpserver -u 1 must fail).
const nobody = 65534

// TestRTS runs the script as rts.sh does (env - PATH=ours:$PATH sh rts.tests |
// cat -v), with two additions to that environment: DNSCACHEIP points at a fake
// DNS server giving the answers the script assumes of "the DNS cache" (127.0.0.1
// <-> localhost) and of rbl.maps.vix.com, the blocklist 0.88's rblsmtpd had built
// in; RBLSMTPD_DEFAULT_BASE names that list, since ours has none built in.
func TestRTS(t *testing.T) {
	for _, p := range []string{"supervise", "svc", "sh", "sed", "tr", "grep"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s not installed (daemontools provides supervise and svc)", p)
		}
	}
	if os.Getuid() != 0 {
		t.Skip("needs root to run the script as nobody and to serve DNS on port 53")
	}
	dns := fakedns.Start(t,
		"localhost. A 127.0.0.1",
		"1.0.0.127.in-addr.arpa. PTR localhost.",
		`2.0.0.127.rbl.maps.vix.com. TXT "Blackholed - see <URL:http://mail-abuse.org/cgi-bin/lookup?127.0.0.2>"`,
		"2.0.0.127.rbl.maps.vix.com. A 127.0.0.2",
	)
	for _, a := range applets.All() {
		reftest.Ours(t, a.Name)
	}
	bin := reftest.BinDir(t)
	work, err := os.MkdirTemp("", "rts-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	for _, d := range []string{bin, work} {
		os.Chmod(d, 0o777)
	}
	script, _ := os.ReadFile("../../testdata/rts/rts.tests")
	want, _ := os.ReadFile("../../testdata/rts/rts.exp")
	os.WriteFile(filepath.Join(work, "rts.tests"), script, 0o644)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", "sh rts.tests 2>&1 | cat -v")
	cmd.Dir = work
	cmd.Env = []string{"PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin", "DNSCACHEIP=" + dns.IP,
		"RBLSMTPD_DEFAULT_BASE=rbl.maps.vix.com"}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}},
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	// supervise and its tcpserver are stopped by the script (svc -dx); make sure.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if err != nil {
		t.Errorf("rts.tests: %v", err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("rts.tests output differs from rts.exp:\n%s", diff(t, want, out))
	}
}

// diff shows where want and got part, with diff -u when it is installed.
func diff(t *testing.T, want, got []byte) string {
	dir := t.TempDir()
	w, g := filepath.Join(dir, "rts.exp"), filepath.Join(dir, "rts.out")
	os.WriteFile(w, want, 0o644)
	os.WriteFile(g, got, 0o644)
	out, err := exec.Command("diff", "-u", w, g).Output()
	if len(out) == 0 {
		return "(no diff: " + fmt.Sprint(err) + ")\n" + string(got)
	}
	return string(out)
}
