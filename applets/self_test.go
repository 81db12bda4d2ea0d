package applets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIdentify(t *testing.T) {
	for _, c := range []struct {
		execPath string
		argv     []string
		want     string // "" for ucspi itself
		args     []string
	}{
		{"/usr/local/bin/tcpserver", []string{"smtpd", "-1"}, "tcpserver", []string{"-1"}},    // chpst -b smtpd
		{"/usr/local/bin/tcpserver", []string{"rblsmtpd", "-1"}, "tcpserver", []string{"-1"}}, // the file decides first
		{"./tcpserver", []string{"tcpserver"}, "tcpserver", []string{}},
		{"/usr/local/bin/ucspi", []string{"tcpserver", "-1"}, "tcpserver", []string{"-1"}}, // exec -a tcpserver ucspi
		{"/usr/local/bin/ucspi", []string{"/usr/bin/who@"}, "who@", []string{}},
		{"/usr/local/bin/ucspi", []string{"smtpd", "tcpserver", "-1"}, "tcpserver", []string{"-1"}}, // ucspi tcpserver, renamed
		{"/usr/local/bin/ucspi", []string{"ucspi", "--help"}, "", nil},
		{"/usr/local/bin/ucspi", []string{"ucspi"}, "", nil},
		{"/proc/self/exe", []string{"fixcrio"}, "fixcrio", []string{}}, // the relay, started again by fixcrio
		{"", []string{"addcr", "x"}, "addcr", []string{"x"}},           // a kernel that did not say
		{"/bin/addcr", nil, "addcr", nil},                              // an empty argv
		{"", nil, "", nil},
		{"/bin/", []string{""}, "", nil},
	} {
		a, args := Identify(c.execPath, c.argv)
		got := ""
		if a != nil {
			got = a.Name
		}
		if got != c.want || strings.Join(args, "|") != strings.Join(c.args, "|") {
			t.Errorf("Identify(%q, %q) = %q %q, want %q %q", c.execPath, c.argv, got, args, c.want, c.args)
		}
	}
}

// TestExecPath: the kernel says which file it executed, here the test binary
// under the name go test ran it by.
func TestExecPath(t *testing.T) {
	p := ExecPath()
	if p == "" || filepath.Base(p) != filepath.Base(os.Args[0]) {
		t.Errorf("ExecPath() = %q, argv[0] %q", p, os.Args[0])
	}
	if cString(0, 0) != "" {
		t.Error("cString with no room found a string")
	}
}

// TestIsSelf: a path is this binary through any link to it, not as a copy.
func TestIsSelf(t *testing.T) {
	me, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	link := filepath.Join(dir, "tcpserver")
	copied := filepath.Join(t.TempDir(), "tcpserver")
	for _, err := range []error{os.Symlink(me, link), copyFile(me, copied)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for path, want := range map[string]bool{
		me:                             true,
		link:                           true,
		copied:                         false, // a copy is another file
		"/usr/bin/tcpserver":           false, // Debian's, when installed
		filepath.Join(dir, "rblsmtpd"): false, // no such file
	} {
		if got := isSelf(path); got != want {
			t.Errorf("isSelf(%q) = %v, want %v", path, got, want)
		}
	}
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}
