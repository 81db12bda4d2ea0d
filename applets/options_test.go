package applets

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/internal/reftest"
	"github.com/ucspi-go/ucspi/ucspi/exit"
)

// parsed is what a test applet saw: its options and operands, rendered as text.
type parsed struct {
	out    string
	stderr string
	code   int
}

// serverLike has a subset of tcpserver's getopt string
// "dDvqQhHrR1UXx:t:u:g:l:b:B:c:pPoO": every kind of option it has.
func serverLike(fs *pflag.FlagSet) Runner {
	verbosity, host, delay := 1, 1, 1
	var limit uint64
	var one, deny bool
	var rules, local string
	Choice(fs, &verbosity, 0, "quiet", "Q", "")
	Choice(fs, &verbosity, 2, "verbose", "v", "")
	Choice(fs, &verbosity, 1, "errors-only", "q", "")
	Choice(fs, &host, 1, "host", "h", "")
	Choice(fs, &host, 0, "no-host", "H", "")
	var info int
	Choice(fs, &info, 1, "remote-info", "r", "")
	Choice(fs, &info, 0, "no-remote-info", "R", "")
	Choice(fs, &delay, 1, "delay", "d", "")
	Choice(fs, &delay, 0, "no-delay", "D", "")
	fs.BoolVarP(&one, "print-port", "1", false, "")
	fs.BoolVarP(&deny, "allow-no-rules", "X", false, "")
	fs.StringVarP(&rules, "rules", "x", "", "")
	fs.StringVarP(&local, "local-name", "l", "", "")
	Number(fs, &limit, 40, math.MaxUint64, "limit", "c", "")
	return func(s *Stdio, operands []string) error {
		if len(operands) < 3 {
			return exit.Usage()
		}
		s.Out.Write([]byte(strings.Join([]string{
			"v=" + itoa(verbosity), "h=" + itoa(host), "d=" + itoa(delay), "c=" + itoa(int(limit)),
			"1=" + btoa(one), "X=" + btoa(deny), "x=" + rules, "l=" + local,
			"ops=" + strings.Join(operands, "|"),
		}, " ")))
		return nil
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
func btoa(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func TestGetoptTable(t *testing.T) {
	a := &Applet{
		Name:  "tcpserver",
		Usage: "tcpserver [ -1UXpPhHrRoOdDqQv ] [ -c limit ] [ -x rules.cdb ] [ -B banner ] [ -g gid ] [ -u uid ] [ -b backlog ] [ -l localname ] [ -t timeout ] host port program",
		Setup: serverLike,
	}
	const base = "v=1 h=1 d=1 c=40 1=0 X=0 x= l= ops="
	usage := "tcpserver: usage: " + a.Usage + "\n"
	for _, tc := range []struct {
		args string
		want parsed
	}{
		{"0 25 prog", parsed{out: base + "0|25|prog"}},
		{"-vRHl0 0 25 prog", parsed{out: "v=2 h=0 d=1 c=40 1=0 X=0 x= l=0 ops=0|25|prog"}},
		{"-c40 0 25 prog", parsed{out: "v=1 h=1 d=1 c=40 1=0 X=0 x= l= ops=0|25|prog"}},
		{"-c 7 0 25 prog", parsed{out: "v=1 h=1 d=1 c=7 1=0 X=0 x= l= ops=0|25|prog"}},
		{"-c7x 0 25 prog", parsed{stderr: "tcpserver: option -c: not a number: 7x\n" + usage, code: 100}},
		{"-Xx f 0 25 prog", parsed{out: "v=1 h=1 d=1 c=40 1=0 X=1 x=f l= ops=0|25|prog"}},
		{"-Xxf 0 25 prog", parsed{out: "v=1 h=1 d=1 c=40 1=0 X=1 x=f l= ops=0|25|prog"}},
		{"-q -v 0 25 prog", parsed{out: "v=2 h=1 d=1 c=40 1=0 X=0 x= l= ops=0|25|prog"}},
		{"-vQ 0 25 prog", parsed{out: "v=0 h=1 d=1 c=40 1=0 X=0 x= l= ops=0|25|prog"}},
		{"-Hh -dD 0 25 prog", parsed{out: "v=1 h=1 d=0 c=40 1=0 X=0 x= l= ops=0|25|prog"}},
		{"-l -x 0 25 prog", parsed{out: "v=1 h=1 d=1 c=40 1=0 X=0 x= l=-x ops=0|25|prog"}},
		{"0 25 prog -n -v", parsed{out: base + "0|25|prog|-n|-v"}},
		{"-1 -- -0 25 prog", parsed{out: "v=1 h=1 d=1 c=40 1=1 X=0 x= l= ops=-0|25|prog"}},
		{"-- 0 25 prog --", parsed{out: base + "0|25|prog|--"}},
		{"-v - 25 prog", parsed{out: "v=2 h=1 d=1 c=40 1=0 X=0 x= l= ops=-|25|prog"}},
		{"-z 0 25 prog", parsed{stderr: "tcpserver: illegal option -- z\n" + usage, code: 100}},
		{"-vz 0 25 prog", parsed{stderr: "tcpserver: illegal option -- z\n" + usage, code: 100}},
		{"-c", parsed{stderr: "tcpserver: option requires an argument -- c\n" + usage, code: 100}},
		{"0 25", parsed{stderr: usage, code: 100}},
		{"", parsed{stderr: usage, code: 100}},
		{"-v", parsed{stderr: usage, code: 100}},
	} {
		var out, errOut bytes.Buffer
		args := strings.Fields(tc.args)
		code := a.Main(args, &Stdio{In: strings.NewReader(""), Out: &out, Err: &errOut})
		got := parsed{out.String(), errOut.String(), code}
		if got != tc.want {
			t.Errorf("tcpserver %s:\n got %+v\nwant %+v", tc.args, got, tc.want)
		}
	}
}

// clientLike is tcpclient's getopt string "46dDvqQhHrRi:p:t:T:l:" in part.
func clientLike(fs *pflag.FlagSet) Runner {
	family := 0
	var localIP, timeouts string
	var port uint64
	Choice(fs, &family, 4, "ipv4", "4", "")
	Choice(fs, &family, 6, "ipv6", "6", "")
	fs.StringVarP(&localIP, "local-ip", "i", "", "")
	Number(fs, &port, 0, 65535, "local-port", "p", "")
	fs.StringVarP(&timeouts, "connect-timeout", "T", "2+58", "")
	return func(s *Stdio, operands []string) error {
		if len(operands) < 3 {
			return exit.Usage()
		}
		s.Out.Write([]byte("family=" + itoa(family) + " i=" + localIP + " p=" + itoa(int(port)) +
			" T=" + timeouts + " ops=" + strings.Join(operands, "|")))
		return nil
	}
}

func TestGetoptTableClient(t *testing.T) {
	a := &Applet{Name: "tcpclient", Usage: "tcpclient [ -46hHrRdDqQv ] [ -i localip ] [ -p localport ] [ -T timeoutconn ] [ -l localname ] [ -t timeoutinfo ] host port program", Setup: clientLike}
	usage := "tcpclient: usage: " + a.Usage + "\n"
	for _, tc := range []struct {
		args string
		want parsed
	}{
		{"h 1 p", parsed{out: "family=0 i= p=0 T=2+58 ops=h|1|p"}},
		{"-46 -T5+20 -i127.0.0.1 -p 2000 h 1 p", parsed{out: "family=6 i=127.0.0.1 p=2000 T=5+20 ops=h|1|p"}},
		{"-64T 3 h 1 p -T 9", parsed{out: "family=4 i= p=0 T=3 ops=h|1|p|-T|9"}},
		{"-i -- h 1 p", parsed{out: "family=0 i=-- p=0 T=2+58 ops=h|1|p"}},
		{"-- -h 1 p", parsed{out: "family=0 i= p=0 T=2+58 ops=-h|1|p"}},
		{"-T", parsed{stderr: "tcpclient: option requires an argument -- T\n" + usage, code: 100}},
		{"-x h 1 p", parsed{stderr: "tcpclient: illegal option -- x\n" + usage, code: 100}},
		{"h 1", parsed{stderr: usage, code: 100}},
	} {
		var out, errOut bytes.Buffer
		code := a.Main(strings.Fields(tc.args), &Stdio{In: strings.NewReader(""), Out: &out, Err: &errOut})
		if got := (parsed{out.String(), errOut.String(), code}); got != tc.want {
			t.Errorf("tcpclient %s:\n got %+v\nwant %+v", tc.args, got, tc.want)
		}
	}
}

// TestHelpIsOurs: --help prints the applet's help and exits 0; -h stays free for
// the applet (cobra would otherwise claim it, or panic when the applet defines it).
func TestHelpIsOurs(t *testing.T) {
	a := &Applet{Name: "tcpserver", Usage: "tcpserver [ -h ] host port program", Setup: serverLike, Manual: Manual{Description: "Serves."}}
	var out, errOut bytes.Buffer
	if code := a.Main([]string{"--help"}, &Stdio{In: strings.NewReader(""), Out: &out, Err: &errOut}); code != 0 {
		t.Fatalf("--help: exit %d, stderr %q", code, errOut.String())
	}
	if !strings.Contains(out.String(), "Serves.") || !strings.Contains(out.String(), "-h, --host") {
		t.Errorf("--help printed %q", out.String())
	}
	raw := &Applet{Name: "addcr", Usage: "addcr", RawArgs: true, Setup: func(*pflag.FlagSet) Runner {
		return func(s *Stdio, ops []string) error {
			s.Out.Write([]byte(strings.Join(ops, "|")))
			return nil
		}
	}}
	out.Reset()
	if code := raw.Main([]string{"--help", "-z", "--"}, &Stdio{In: strings.NewReader(""), Out: &out, Err: &errOut}); code != 0 || out.String() != "--help|-z|--" {
		t.Errorf("raw applet saw %q (exit %d), want every argument untouched", out.String(), code)
	}
}

// TestGetoptMatchesReference runs real command lines through the real tcpserver
// and tcpclient, ours and Debian's, stopping each at an error that shows how far
// the options were read.
func TestGetoptMatchesReference(t *testing.T) {
	for _, tc := range []struct {
		name string
		args string
	}{
		{"tcpserver", ""},
		{"tcpserver", "-z"},
		{"tcpserver", "-vz 0 0 true"},
		{"tcpserver", "-c"},
		{"tcpserver", "-vRHl0 0"},
		{"tcpserver", "-vRHl0 -c40 -Xx rules.cdb -b5 0 nonexistentport prog -n"},
		{"tcpserver", "-l -x 0 nonexistentport prog"},
		{"tcpserver", "-- 0 nonexistentport prog -v"},
		{"tcpserver", "-c 10 -B banner -t 3 0 nonexistentport prog"},
		{"tcpclient", ""},
		{"tcpclient", "-x h 1 p"},
		{"tcpclient", "-T"},
		{"tcpclient", "-RHl0 -T5+20 0 nonexistentport prog -v"},
		{"tcpclient", "-hrt1 -- 0 nonexistentport prog"},
		{"tcpclient", "-i"},
	} {
		reftest.Compare(t, tc.name, reftest.Cmd{Args: strings.Fields(tc.args)})
	}
}
