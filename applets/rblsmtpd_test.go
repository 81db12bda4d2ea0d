package applets

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/fakedns"
)

// The smtpd these in-process runs name does not exist: a client wrongly let
// through shows as "unable to run" instead of replacing the test process.
const noSMTPD = "/nonexistent/smtpd"

func rblsmtpdRun(t *testing.T, stdin string, args ...string) (out, errOut string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = Lookup("rblsmtpd").Main(args, &Stdio{In: strings.NewReader(stdin), Out: &o, Err: &e})
	return o.String(), e.String(), code
}

func TestRblsmtpdOptions(t *testing.T) {
	srv := fakedns.Start(t, `4.3.2.1.rbl.test. TXT "listed"`, `4.3.2.1.white.test. A 127.0.0.2`)
	srv.ServFail("4.3.2.1.broken.test.")
	t.Setenv("DNSCACHEIP", srv.IP)
	t.Setenv(lookupTimeoutVar, "0.3") // not the 11 s djb's library tries a failing server
	t.Setenv("TCPREMOTEIP", "1.2.3.4")
	const session = "HELO x\r\nRCPT TO:<a@b>\r\nQUIT\r\n"
	for _, tc := range []struct {
		args   string
		reply  string // "" for a client let through
		atOnce bool   // -t0: the rejection alone
	}{
		{"-r rbl.test", "451 listed", false},
		{"--rbl rbl.test", "451 listed", false},
		{"--rbl=rbl.test --bounce", "451 listed", false},
		{"-br rbl.test", "553 listed", false},
		{"-brrbl.test", "553 listed", false},
		{"--bounce -r rbl.test", "553 listed", false},
		{"-b --no-bounce -r rbl.test", "451 listed", false},
		{"-t0 -b -r rbl.test", "553 listed", true},
		{"-t 0 -r rbl.test", "451 listed", true},
		{"-t1 -r rbl.test", "451 listed", false},
		{"-a white.test -r rbl.test", "", false},
		{"--anti-rbl white.test -r rbl.test", "", false},
		{"-cr broken.test -r rbl.test", "451 temporary RBL lookup error", false},
		{"--fail-closed --fail-open -r broken.test -r rbl.test", "451 listed", false},
		{"-Cbr broken.test -r rbl.test", "451 listed", false},
		{"-ca broken.test -br rbl.test", "451 listed", false},
	} {
		args := strings.Fields(tc.args)
		out, errOut, code := rblsmtpdRun(t, session, append(args, noSMTPD)...)
		wantOut := "220 rblsmtpd.local\r\n250 rblsmtpd.local\r\n" + tc.reply + "\r\n221 rblsmtpd.local\r\n"
		if tc.atOnce {
			wantOut = tc.reply + "\r\n"
		}
		wantErr := fmt.Sprintf("rblsmtpd: 1.2.3.4 pid %d: %s\n", os.Getpid(), tc.reply)
		wantCode := 0
		if tc.reply == "" {
			wantOut, wantErr, wantCode = "", "rblsmtpd: fatal: unable to run "+noSMTPD+": file does not exist\n", 111
		}
		if out != wantOut || errOut != wantErr || code != wantCode {
			t.Errorf("rblsmtpd %s: stdout %q stderr %q exit %d\nwant stdout %q stderr %q exit %d", tc.args, out, errOut, code, wantOut, wantErr, wantCode)
		}
	}
	// "--" ends the options: what follows is smtpd, even "-r".
	if _, errOut, code := rblsmtpdRun(t, "", "--", "-r"); code != 111 || errOut != "rblsmtpd: fatal: unable to run -r: file does not exist\n" {
		t.Errorf("rblsmtpd -- -r: stderr %q exit %d", errOut, code)
	}
}

func TestRblsmtpdUsage(t *testing.T) {
	t.Setenv("RBLSMTPD", "blocked")
	usage := "rblsmtpd: usage: rblsmtpd [ -b ] [ -R ] [ -t timeout ] [ -r base ] [ -a base ] smtpd [ arg ... ]\n"
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{nil, usage},
		{[]string{"-b", "-t0"}, usage},
		{[]string{"-R", noSMTPD}, "rblsmtpd: illegal option -- R\n" + usage},
		{[]string{"-t"}, "rblsmtpd: option requires an argument -- t\n" + usage},
		{[]string{"-r"}, "rblsmtpd: option requires an argument -- r\n" + usage},
	} {
		out, errOut, code := rblsmtpdRun(t, "", tc.args...)
		if out != "" || errOut != tc.err || code != 100 {
			t.Errorf("rblsmtpd %q: stdout %q stderr %q exit %d, want usage", tc.args, out, errOut, code)
		}
	}
}

func TestRblsmtpdEnvironment(t *testing.T) {
	t.Setenv("TCPREMOTEIP", "2001:db8::25")
	t.Setenv("RBLSMTPD", "-no mail\tfrom you")
	out, errOut, code := rblsmtpdRun(t, "EHLO x\r\nMAIL FROM:<>\r\nDATA\r\n", "-t5", noSMTPD)
	if want := "220 rblsmtpd.local\r\n250 rblsmtpd.local\r\n250 rblsmtpd.local\r\n553 no mail?from you\r\n"; out != want || code != 0 {
		t.Errorf("stdout %q exit %d, want %q", out, code, want)
	}
	if want := fmt.Sprintf("rblsmtpd: 2001:db8::25 pid %d: 553 no mail?from you\n", os.Getpid()); errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
}

func TestRblsmtpdTimeouts(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want time.Duration
	}{
		{0, 0}, {1, time.Second}, {60, time.Minute}, {math.MaxUint32 + 1, math.MaxUint32 * time.Second}, {math.MaxUint64, math.MaxUint32 * time.Second},
	} {
		if got := seconds(tc.n); got != tc.want {
			t.Errorf("seconds(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"0.25", 250 * time.Millisecond}, {"2", 2 * time.Second}, {"0", 0}, {"-1", 0}, {"x", 0}, {"3600", time.Hour}, {"1e300", 0},
	} {
		if got := lookupTimeout(tc.v); got != tc.want {
			t.Errorf("%s=%q: %v, want %v", lookupTimeoutVar, tc.v, got, tc.want)
		}
	}
}
