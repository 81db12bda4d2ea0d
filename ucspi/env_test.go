package ucspi

import (
	"bufio"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestVarsIPv4Peer(t *testing.T) {
	c := Description{
		Local:     netip.MustParseAddrPort("[::ffff:127.0.0.1]:25"),
		Remote:    netip.MustParseAddrPort("127.0.0.2:4000"),
		LocalHost: Known("0"),
	}
	want := []string{"PROTO=TCP", "TCPLOCALIP=127.0.0.1", "TCPLOCALPORT=25", "TCPLOCALHOST=0",
		"TCPREMOTEIP=127.0.0.2", "TCPREMOTEPORT=4000"}
	if got := c.Vars(); !slices.Equal(got, want) {
		t.Errorf("Vars = %q\nwant %q", got, want)
	}
	c.TCP6Vars = true
	got := strings.Join(c.Vars(), " ")
	for _, v := range []string{"TCP6LOCALIP=::ffff:127.0.0.1", "TCP6REMOTEIP=::ffff:127.0.0.2", "TCP6REMOTEPORT=4000", "PROTO=TCP "} {
		if !strings.Contains(got+" ", v) {
			t.Errorf("TCP6Vars: %q lacks %q", got, v)
		}
	}
}

func TestVarsIPv6Peer(t *testing.T) {
	c := Description{
		Local:      netip.MustParseAddrPort("[::1]:25"),
		Remote:     netip.MustParseAddrPort("[2001:db8:0:0::5]:1"),
		RemoteHost: Known("h.example"),
		RemoteInfo: Known(""),
		TCP6Vars:   true,
	}
	got := c.Vars()
	for _, v := range []string{"PROTO=TCP6", "TCPREMOTEIP=2001:db8::5", "TCP6REMOTEIP=2001:db8::5",
		"TCPREMOTEHOST=h.example", "TCPREMOTEINFO=", "TCP6REMOTEINFO="} {
		if !slices.Contains(got, v) {
			t.Errorf("Vars = %q lacks %q", got, v)
		}
	}
	if slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "TCPLOCALHOST") }) {
		t.Errorf("unknown TCPLOCALHOST is set: %q", got)
	}
}

func TestEnvironmentReplacesInherited(t *testing.T) {
	base := []string{"PATH=/bin", "TCPREMOTEHOST=stale", "RELAYCLIENT=old", "TCP6REMOTEIP=::9"}
	c := Description{Local: netip.MustParseAddrPort("127.0.0.1:1"), Remote: netip.MustParseAddrPort("127.0.0.1:2")}
	got := Environment(base, append(c.Vars(), "RELAYCLIENT=", "TCPREMOTEIP=override"))
	want := []string{"PATH=/bin", "PROTO=TCP", "TCPLOCALIP=127.0.0.1", "TCPLOCALPORT=1",
		"TCPREMOTEIP=override", "TCPREMOTEPORT=2", "RELAYCLIENT="}
	if !slices.Equal(got, want) {
		t.Errorf("Environment = %q\nwant %q", got, want)
	}
}

func TestParseIdent(t *testing.T) {
	for in, want := range map[string]string{
		"6193, 23 : USERID : UNIX : stjohns\r\n":      "stjohns",
		"6193 , 23 : USERID : UNIX :  a b\tc \r\n":    "abc",
		"6193, 23 : ERROR : NO-USER\r\n":              "",
		"1,2:USERID:OTHER:x:y:z\n":                    "x:y:z",
		"1,2:USERID:UNIX:" + strings.Repeat("u", 300): strings.Repeat("u", 257),
	} {
		got, err := parseIdent(bufio.NewReader(strings.NewReader(in)))
		if err != nil || got != want {
			t.Errorf("parseIdent(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := parseIdent(bufio.NewReader(strings.NewReader("1,2:USERID:UNIX:cut"))); err == nil {
		t.Error("a reply without its newline was accepted")
	}
}
