package applets

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSelect(t *testing.T) {
	for _, c := range []struct {
		execPath string
		argv     []string
		want     string // "" for ucspi itself
	}{
		{"/usr/local/bin/tcpserver", []string{"smtpd", "-1"}, "tcpserver"},    // chpst -b smtpd
		{"/usr/local/bin/tcpserver", []string{"rblsmtpd", "-1"}, "tcpserver"}, // the file decides first
		{"./tcpserver", []string{"tcpserver"}, "tcpserver"},
		{"/usr/local/bin/ucspi", []string{"tcpserver", "-1"}, "tcpserver"}, // exec -a tcpserver ucspi
		{"/usr/local/bin/ucspi", []string{"/usr/bin/who@"}, "who@"},
		{"/usr/local/bin/ucspi", []string{"smtpd", "tcpserver"}, ""}, // ucspi tcpserver, renamed
		{"/usr/local/bin/ucspi", []string{"ucspi"}, ""},
		{"/proc/self/exe", []string{"fixcrio"}, "fixcrio"}, // the relay, started again by fixcrio
		{"", []string{"addcr"}, "addcr"},                   // a kernel that did not say
		{"", nil, ""},
		{"/bin/", []string{""}, ""},
	} {
		got := ""
		if a := Select(c.execPath, c.argv); a != nil {
			got = a.Name
		}
		if got != c.want {
			t.Errorf("Select(%q, %q) = %q, want %q", c.execPath, c.argv, got, c.want)
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

func TestSelf(t *testing.T) {
	me, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	link := filepath.Join(dir, "tcpserver")
	other := filepath.Join(dir, "notanapplet")
	copied := filepath.Join(t.TempDir(), "tcpserver")
	for _, err := range []error{os.Symlink(me, link), os.Symlink(me, other), copyFile(me, copied)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for path, want := range map[string]string{
		link:                           "tcpserver",
		other:                          "",
		copied:                         "", // a copy is another file
		"/usr/bin/tcpserver":           "", // Debian's, when installed
		filepath.Join(dir, "rblsmtpd"): "", // no such file
	} {
		got := ""
		if a := Self(path); a != nil {
			got = a.Name
		}
		if got != want {
			t.Errorf("Self(%q) = %q, want %q", path, got, want)
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
