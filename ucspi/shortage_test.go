package ucspi

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/fakedns"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

// A shortage of descriptors delays a connection, it never drops one nor
// changes what it gets: under prlimit --nofile=12:12, 100 connections 25 at
// a time are all served by Debian's tcpserver (each child has a descriptor
// table of its own), and by ours, whose connections share the server's; and
// a rule on the client's DNS name still applies to each.

func TestDescriptorShortageAgainstReference(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("no prlimit")
	}
	ref, ours := reftest.Ref(t, "tcpserver"), reftest.Ours(t, "tcpserver")
	dns := fakedns.Start(t,
		"1.0.0.127.in-addr.arpa. PTR client.example.",
		"2.0.0.127.in-addr.arpa. PTR other.test.",
		"client.example. A 127.0.0.1", "other.test. A 127.0.0.2",
		`1.0.0.127.bl.test. TXT "listed"`,
	)
	dir := t.TempDir()
	print := script(t, dir, "print", `echo "served $TCPREMOTEHOST $TCPLOCALHOST"`)
	cdb := filepath.Join(dir, "rules.cdb")
	tcprules(t, cdb, "=.example:deny\n:allow\n")
	rbl := []string{"-vRHl0", "-c100", "127.0.0.1", "0", "rblsmtpd", "-c", "-r", "bl.test", print}
	for _, tc := range []struct {
		name string
		args []string
		from string
		want string // what each connection gets
	}{
		// rblsmtpd's decision, made inside our server (fusion).
		{"rblsmtpd, listed", rbl, "127.0.0.1", "220 rblsmtpd.local\r\n"},
		{"rblsmtpd, not listed", rbl, "127.0.0.2", "served  0\n"},
		{"-p -h", []string{"-vRp", "-c100", "127.0.0.1", "0", print}, "127.0.0.2", "served other.test client.example\n"},
		{"=.example:deny", []string{"-vR", "-c100", "-x", cdb, "127.0.0.1", "0", print}, "127.0.0.1", ""},
		{"=.example:deny, another client", []string{"-vR", "-c100", "-x", cdb, "127.0.0.1", "0", print}, "127.0.0.2", "served other.test client.example\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, prog := range []string{ref, ours} {
				args := append([]string{"--nofile=12:12", prog, "-1"}, tc.args...)
				env := []string{"PATH=" + chainBin(t, prog == ours) + ":" + os.Getenv("PATH"), "DNSCACHEIP=" + dns.IP}
				s := startCmd(t, exec.Command(prlimit, args...), env)
				replies := hundredAtOnce(t, s.addr("127.0.0.1"), tc.from)
				got := map[string]int{}
				for _, r := range replies {
					got[r]++
				}
				if got[tc.want] != len(replies) {
					t.Errorf("%s: replies %v, want 100 times %q", prog, got, tc.want)
				}
				log := s.waitLog("100 ends", func(l string) bool { return strings.Count(l, "tcpserver: end ") == 100 })
				for _, bad := range []string{"dropping", "unable", "lookup error"} {
					if strings.Contains(log, bad) {
						t.Errorf("%s: %s in the log:\n%s", prog, bad, log)
						break
					}
				}
				if verdict := map[bool]string{true: "deny ", false: "ok "}[tc.want == ""]; strings.Count(log, verdict) != 100 {
					t.Errorf("%s: %d %q lines, want 100", prog, strings.Count(log, verdict), verdict)
				}
			}
		})
	}
}

// hundredAtOnce makes 100 connections to addr from from, 25 at a time, and
// returns what each got back.
func hundredAtOnce(t *testing.T, addr, from string) []string {
	t.Helper()
	replies := make([]string, 100)
	errs := make([]error, 100)
	slots := make(chan struct{}, 25)
	var wg sync.WaitGroup
	for i := range replies {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			replies[i], errs[i] = exchangeOnce(addr, from)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	return replies
}

// exchangeOnce connects from from, closes its half and reads to the end.
func exchangeOnce(addr, from string) (string, error) {
	d := net.Dialer{Timeout: 30 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		return string(b), fmt.Errorf("reading: %w", err)
	}
	return string(b), nil
}

func TestWhenDescriptors(t *testing.T) {
	tries := 0
	v, err := whenDescriptors(func() (int, error) {
		if tries++; tries < 3 {
			return 0, &os.SyscallError{Syscall: "socket", Err: syscall.EMFILE}
		}
		return 7, nil
	})
	if v != 7 || err != nil || tries != 3 {
		t.Errorf("after EMFILE twice: %d, %v, %d tries", v, err, tries)
	}
	tries = 0
	if _, err := whenDescriptors(func() (int, error) { tries++; return 0, syscall.ECONNREFUSED }); err != syscall.ECONNREFUSED || tries != 1 {
		t.Errorf("another error: %v after %d tries", err, tries)
	}
}
