package ucspi

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/ucspi/exit"
)

func TestHostLiterals(t *testing.T) {
	r := noDNS(t, "")
	for _, c := range []struct {
		host     string
		ipv4Only bool
		want     string
	}{
		{"0", false, "0.0.0.0"}, {"", false, "0.0.0.0"}, {"0", true, "0.0.0.0"},
		{"::", false, "::"}, {"::1", false, "::1"}, {"[::1]", false, "::1"},
		{"::ffff:127.0.0.1", false, "127.0.0.1"}, {"fe80::1%lo", false, "fe80::1%lo"},
		{"127.0.0.1", true, "127.0.0.1"},
		{"127.000.000.001", false, "127.0.0.1"}, {"[127.0.0.1]", false, "127.0.0.1"},
		{"1.2.3.300", false, "1.2.3.44"}, {"1..3.4", false, "1.0.3.4"}, {"01.2.3.4.5.6.7.8.", false, "1.2.3.4"},
	} {
		ip, err := Host(r, c.host, c.ipv4Only)
		if err != nil || ip.String() != c.want {
			t.Errorf("Host(%q, %v) = %v, %v; want %s", c.host, c.ipv4Only, ip, err, c.want)
		}
	}
	for _, c := range []struct {
		host     string
		ipv4Only bool
		want     string
	}{
		{"1.2.3", false, "fatal: no IP address for 1.2.3"},
		{"::1", true, "fatal: no IP address for ::1"},
		{"[::1", false, "fatal: no IP address for [::1"},
		{strings.Repeat("x", 64) + ".", false,
			"fatal: temporarily unable to figure out IP address for " + strings.Repeat("x", 64) + ".: protocol error"},
	} {
		_, err := Host(r, c.host, c.ipv4Only)
		if e := exit.As(err); e == nil || e.Text != c.want || e.Code != 111 {
			t.Errorf("Host(%q, %v) = %v; want %q (111)", c.host, c.ipv4Only, err, c.want)
		}
	}
}

func TestPort(t *testing.T) {
	file := filepath.Join(t.TempDir(), "services")
	// A line longer than any buffer (bufio.Scanner's 64 KiB stopped the
	// reading there) hides nothing after it.
	os.WriteFile(file, []byte("# comment\nsmtp\t\t25/tcp\t\tmail\nbiff 512/udp comsat\n# "+strings.Repeat("long ", 40000)+"\nexec 512/tcp\n"+
		"odd 99999/tcp\nhttp 80/tcp www # WorldWideWeb HTTP\nlast 4242/tcp"), 0o644)
	defer func(f string) { servicesFile = f }(servicesFile)
	servicesFile = file
	for in, want := range map[string]uint16{
		"25": 25, "": 0, "0": 0, "65535": 65535, "0025": 25, "00000000000000000000025": 25,
		"smtp": 25, "mail": 25, "exec": 512, "www": 80, "http": 80, "last": 4242,
	} {
		if got, err := Port(in); err != nil || got != want {
			t.Errorf("Port(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"biff", "comsat", "SMTP", "odd", "25x", "tcp", "#", "WorldWideWeb"} {
		_, err := Port(in)
		if e := exit.As(err); e == nil || e.Text != "fatal: unable to figure out port number for "+in {
			t.Errorf("Port(%q) = %v; want the 0.88 error", in, err)
		}
	}
}

func TestLogLines(t *testing.T) {
	l := &logger{name: "tcpserver"}
	c := &Description{
		Local:      netip.MustParseAddrPort("[::ffff:127.0.0.1]:25"),
		Remote:     netip.MustParseAddrPort("[::ffff:10.1.2.3]:4000"),
		LocalHost:  Known("mail:%x"),
		RemoteHost: Known("a b\x7f\x01"),
		RemoteInfo: Known(strings.Repeat("u", 120)),
	}
	want := "tcpserver: ok 77 mail??x:127.0.0.1:25 a?b??:10.1.2.3:" + strings.Repeat("u", 100) + "...:4000\n"
	if got := string(l.appendVerdict(nil, "ok", 77, c)); got != want {
		t.Errorf("ok line\n got %q\nwant %q", got, want)
	}
	c.LocalHost, c.RemoteHost, c.RemoteInfo = nil, nil, nil
	c.Force6 = true
	want = "tcpserver: deny 0 :::ffff:127.0.0.1:25 :::ffff:10.1.2.3::4000\n"
	if got := string(l.appendVerdict(nil, "deny", 0, c)); got != want {
		t.Errorf("-6 deny line\n got %q\nwant %q", got, want)
	}
	c = &Description{Local: netip.MustParseAddrPort("[::1]:25"), Remote: netip.MustParseAddrPort("[2001:db8::7]:1"), RemoteInfo: Known("x\x00y")}
	want = "tcpserver: ok 9 :::1:25 :2001:db8::7:x:1\n"
	if got := string(l.appendVerdict(nil, "ok", 9, c)); got != want {
		t.Errorf("IPv6 ok line\n got %q\nwant %q", got, want)
	}
	if got := string(appendSafe(nil, strings.Repeat("a", 100))); got != strings.Repeat("a", 100)+"..." {
		t.Errorf("a 100-character name: %q; 0.88 adds ... from 100 on", got)
	}
	if got := string(l.appendEnd(l.appendStatus(nil, 3, 40), 12, 25600)); got != "tcpserver: status: 3/40\ntcpserver: end 12 status 25600\n" {
		t.Errorf("status and end: %q", got)
	}
	l.name = "sslserver"
	if got := string(l.appendDrop(nil, "unable to accept TLS: ", errors.New("timed out"))); got != "sslserver: warning: dropping connection, unable to accept TLS: timed out\n" {
		t.Errorf("sslserver's drop line: %q", got)
	}
}

func TestAcceptBackoff(t *testing.T) {
	var b backoff
	now := time.Unix(1e9, 0)
	var pauses []time.Duration
	warnings := 0
	for i := 0; i < 12; i++ {
		pause, warning := b.failed(syscall.EMFILE, now)
		pauses = append(pauses, pause)
		if warning != "" {
			warnings++
			if warning != "warning: unable to accept: process cannot open more files\n" {
				t.Errorf("warning %q", warning)
			}
		}
		now = now.Add(pause)
	}
	ms := time.Millisecond
	want := []time.Duration{5 * ms, 10 * ms, 20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms, 1000 * ms, 1000 * ms, 1000 * ms, 1000 * ms}
	if !slices.Equal(pauses, want) || warnings != 1 {
		t.Errorf("pauses %v, %d warnings; want %v and 1", pauses, warnings, want)
	}
	b.succeeded()
	if pause, warning := b.failed(syscall.ENFILE, now.Add(30*time.Second)); pause != 5*ms || warning != "" {
		t.Errorf("after a success: %v %q; want 5ms and no warning within the minute", pause, warning)
	}
	if _, warning := b.failed(syscall.ENFILE, now.Add(2*time.Minute)); warning == "" {
		t.Error("no warning a minute later")
	}
	if pause, warning := b.failed(syscall.ECONNABORTED, now); pause != 0 || warning != "" {
		t.Errorf("an abandoned connection: %v %q", pause, warning)
	}
}
