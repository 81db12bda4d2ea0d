package pathexec

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ucspi-go/ucspi/internal/reftest"
)

func TestMain(m *testing.M) { reftest.Main(m) }

// tree makes a directory of PATH entries for the search to go through:
//
//	noexec/prog   a file that may not be run (access denied)
//	isdir/prog/   a directory
//	garbage/prog  executable, but neither a binary nor a script (exec format error)
//	good/prog     a script printing its arguments (a script's $0 is its path)
//	file          a plain file, used as if it were a directory (not a directory)
func tree(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range []struct {
		name, body string
		mode       os.FileMode
	}{
		{"noexec/prog", "#!/bin/sh\necho noexec\n", 0o644},
		{"garbage/prog", "\x7fELF garbage", 0o755},
		{"good/prog", "#!/bin/sh\necho \"good $*\"\n", 0o755},
		{"file", "", 0o644},
	} {
		path := filepath.Join(d, p.name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(p.body), p.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(d, "isdir/prog"), 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestArgv0AgainstReference runs argv0 and Debian's with the same arguments and
// $PATH, comparing output, messages and exit status.
func TestArgv0AgainstReference(t *testing.T) {
	d := tree(t)
	p := func(dirs ...string) []string {
		for i, dir := range dirs {
			if dir != "" {
				dirs[i] = filepath.Join(d, dir)
			}
		}
		return []string{"PATH=" + strings.Join(dirs, ":")}
	}
	sysPath := []string{"PATH=/usr/bin:/bin"}
	cases := []struct {
		args []string
		env  []string
	}{
		{[]string{"sh", "zero", "-c", "echo $0"}, sysPath},                             // rts.tests
		{[]string{"sh"}, sysPath},                                                      // too few arguments
		{nil, sysPath},                                                                 // none at all
		{[]string{"-z", "x", "y"}, sysPath},                                            // no options: -z is a program name
		{[]string{"/bin/echo", "name", "a", "b"}, sysPath},                             // a slash: no search
		{[]string{"/nonexistent", "x"}, sysPath},                                       // file does not exist
		{[]string{"/etc/passwd", "x"}, sysPath},                                        // access denied
		{[]string{"/", "x"}, sysPath},                                                  // a directory
		{[]string{"prog", "zero", "a"}, p("noexec", "good")},                           // the search goes past access denied
		{[]string{"prog", "zero"}, p("isdir", "good")},                                 // and past a directory
		{[]string{"prog", "zero"}, p("noexec")},                                        // but reports it if nothing else runs
		{[]string{"prog", "zero"}, p("isdir", "missing")},                              // even after a missing one
		{[]string{"prog", "zero"}, p("garbage", "good")},                               // exec format error stops the search
		{[]string{"prog", "zero"}, p("file", "good")},                                  // so does not a directory
		{[]string{"prog", "zero"}, p("missing", "nope")},                               // nowhere at all
		{[]string{"good/prog", "zero"}, []string{"PATH=/nowhere"}},                     // relative with a slash
		{[]string{"sh", "zero", "-c", "echo $0"}, []string{}},                          // no PATH: /bin:/usr/bin
		{[]string{"env", "env"}, []string{"A=1", "PATH=/usr/bin:/bin", "B=two words"}}, // the environment passes
	}
	// An empty entry in $PATH, or an empty $PATH, means the current directory.
	cwdCases := []struct {
		args []string
		env  []string
	}{
		{[]string{"prog", "zero", "a"}, []string{"PATH=:/nowhere"}}, // empty entry: current directory
		{[]string{"prog", "zero", "a"}, []string{"PATH="}},          // empty PATH: current directory
	}
	for _, c := range append(cases, cwdCases...) {
		reftest.Compare(t, "argv0", reftest.Cmd{Args: c.args, Env: c.env, Dir: d})
	}
	// Run in good/, they find good/prog.
	for _, c := range cwdCases {
		got := reftest.Compare(t, "argv0", reftest.Cmd{Args: c.args, Env: c.env, Dir: filepath.Join(d, "good")})
		if string(got.Stdout) != "good a\n" {
			t.Errorf("%q with %q in good/: %q %q %d", c.args, c.env, got.Stdout, got.Stderr, got.Code)
		}
	}
}

// TestArgv0SamePid checks that the program runs in argv0's own process.
func TestArgv0SamePid(t *testing.T) {
	cmd := exec.Command(reftest.Ours(t, "argv0"), "sh", "zero", "-c", "echo $$ $0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strconv.Itoa(cmd.Process.Pid) + " zero\n"
	if string(out) != want {
		t.Fatalf("argv0 printed %q, want %q", out, want)
	}
}

// TestArgv0ExitStatus checks that the program's exit status, or the signal that
// killed it, is what argv0's caller sees.
func TestArgv0ExitStatus(t *testing.T) {
	for _, script := range []string{"exit 7", "kill -TERM $$"} {
		reftest.Compare(t, "argv0", reftest.Cmd{Args: []string{"sh", "zero", "-c", script}})
	}
}
