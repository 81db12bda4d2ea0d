package applets

import (
	"bytes"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/internal/reftest"
)

// The manual's sections, in Debian's order.
var sectionTitles = []string{"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT", "EXIT STATUS", "EXAMPLES", "SEE ALSO"}

// TestManualRecords: every applet's record fills every section, names each
// option's argument, and refers only to pages that exist.
func TestManualRecords(t *testing.T) {
	if n := len(All()); n != 19 {
		t.Errorf("%d applets, want 0.88's seventeen, sslserver and sslclient", n)
	}
	for _, a := range All() {
		m := a.Manual
		for title, text := range map[string]string{"DESCRIPTION": m.Description, "ENVIRONMENT": m.Environment,
			"EXIT STATUS": m.ExitStatus, "EXAMPLES": m.Examples} {
			if strings.TrimSpace(text) == "" {
				t.Errorf("%s: no %s", a.Name, title)
			}
		}
		if !strings.Contains(m.Examples, "\n  ") {
			t.Errorf("%s: EXAMPLES shows no command", a.Name)
		}
		if len(m.SeeAlso) == 0 {
			t.Errorf("%s: no SEE ALSO", a.Name)
		}
		for _, page := range m.SeeAlso {
			if !strings.Contains(page, "(") && Lookup(page) == nil || page == a.Name {
				t.Errorf("%s: SEE ALSO %q is no other applet", a.Name, page)
			}
		}
		fs, _ := a.flags()
		if !fs.HasFlags() && m.Options == "" {
			t.Errorf("%s: OPTIONS says nothing", a.Name)
		}
		fs.VisitAll(func(f *pflag.Flag) {
			arg, _ := pflag.UnquoteUsage(f)
			if f.NoOptDefVal == "" && !strings.Contains(f.Usage, "`") {
				t.Errorf("%s -%s: the argument has no name in the usage text (shows as %q)", a.Name, f.Shorthand, arg)
			}
		})
	}
}

// TestHelpForEveryApplet runs APPLET --help, through a link and through
// `ucspi APPLET`, for all of them.
func TestHelpForEveryApplet(t *testing.T) {
	ucspi := reftest.Ours(t, "ucspi")
	for _, a := range All() {
		var want bytes.Buffer
		if err := a.WriteHelp(&want); err != nil {
			t.Fatal(err)
		}
		viaLink := reftest.Run(t, reftest.Ours(t, a.Name), reftest.Cmd{Args: []string{"--help"}})
		viaUcspi := reftest.Run(t, ucspi, reftest.Cmd{Args: []string{a.Name, "--help"}})
		for _, got := range []reftest.Result{viaLink, viaUcspi} {
			if got.Code != 0 || len(got.Stderr) != 0 || !bytes.Equal(got.Stdout, want.Bytes()) {
				t.Errorf("%s --help: exit %d, stderr %q, stdout %q", a.Name, got.Code, got.Stderr, clip(got.Stdout))
			}
		}
		help := want.String()
		name := strings.Join(strings.Fields(strings.SplitN(help, "\n\n", 2)[0]), " ")
		if name != "NAME "+a.Name+" - "+a.Summary || !strings.Contains(help, "\nSYNOPSIS\n      "+a.Usage+"\n") {
			t.Errorf("%s --help: no NAME or SYNOPSIS: %s", a.Name, clip(want.Bytes()))
		}
		last := -1
		for _, title := range sectionTitles {
			i := strings.Index(help, "\n"+title+"\n")
			if title == "NAME" {
				i = 0
			}
			if i <= last && title != "NAME" {
				t.Errorf("%s --help: %s missing or out of order", a.Name, title)
			}
			last = i
		}
		for _, line := range strings.Split(help, "\n") {
			if len(line) > helpWidth && !strings.HasPrefix(line, "      ") {
				t.Errorf("%s --help: line wider than %d: %q", a.Name, helpWidth, line)
			}
		}
	}
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// TestManPages renders every page as `make man` does and reads it back: the
// sections in order, none empty, no artefacts of a generator that shows types
// and defaults of its own ("--help[=false]", "-u, --uid=0"), and no complaint
// from groff where it is installed.
func TestManPages(t *testing.T) {
	artefacts := regexp.MustCompile(`\[=|=false|=0\b|Auto generated|\\-\\-help\\fR\[`)
	groff, _ := exec.LookPath("groff")
	for _, a := range All() {
		var b bytes.Buffer
		if err := a.WriteMan(&b, "1.2.3"); err != nil {
			t.Fatal(err)
		}
		page := b.String()
		if !strings.HasPrefix(page, `.TH "`+roff(strings.ToUpper(a.Name))+`" 1 "" "ucspi 1.2.3"`) {
			t.Errorf("%s.1: header %q", a.Name, strings.SplitN(page, "\n", 2)[0])
		}
		var titles []string
		lines := strings.Split(page, "\n")
		for i, l := range lines {
			if title, ok := strings.CutPrefix(l, ".SH "); ok {
				titles = append(titles, title)
				if i+1 >= len(lines) || strings.HasPrefix(lines[i+1], ".SH") || lines[i+1] == "" {
					t.Errorf("%s.1: %s is empty", a.Name, title)
				}
			}
		}
		if strings.Join(titles, "|") != strings.Join(sectionTitles, "|") {
			t.Errorf("%s.1: sections %q, want %q", a.Name, titles, sectionTitles)
		}
		if m := artefacts.FindString(page); m != "" {
			t.Errorf("%s.1: generator artefact %q", a.Name, m)
		}
		fs, _ := a.flags()
		fs.VisitAll(func(f *pflag.Flag) {
			if !strings.Contains(page, `\fB\-\-`+roff(f.Name)+`\fR`) {
				t.Errorf("%s.1: option --%s missing", a.Name, f.Name)
			}
		})
		if groff != "" {
			cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
			cmd.Stdin = &b
			if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
				t.Errorf("%s.1: groff: %v %s", a.Name, err, out)
			}
		}
	}
}

// TestTcpserverManualIsTrue checks what tcpserver's manual says of the points
// issue 15 found wrong or missing: the descriptors (see also ucspi's
// TestStdioBecomesDevNull), host 0, names for -u and -g.
func TestTcpserverManualIsTrue(t *testing.T) {
	var b bytes.Buffer
	Lookup("tcpserver").WriteHelp(&b)
	help := strings.Join(strings.Fields(b.String()), " ")
	for _, want := range []string{
		"its descriptor 0 reading from the network and its descriptor 1 writing to the network",
		"lets go of its standard input and output: both become /dev/null",
		"host 0, 0.0.0.0 or the empty string accepts connections to every local IPv4 address",
		":: accepts connections to every local address, IPv4 and IPv6 alike (so does 0 with -6)",
		"a number, or a name from /etc/passwd",
		"a port above 65535",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("tcpserver --help does not say %q", want)
		}
	}
	if strings.Contains(help, "closes its standard input and output") {
		t.Error("tcpserver --help still says it closes descriptors 0 and 1")
	}
}
