// Package reftest runs the same command line against Debian's ucspi-tcp 0.88
// binaries and against ours, and compares what each printed and how each exited.
// Tests that need a reference skip when it is not installed; .ci/run installs it.
package reftest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Dir is where the IPv4 reference binaries live: $UCSPI_REF_DIR, else /usr/bin.
func Dir() string {
	if d := os.Getenv("UCSPI_REF_DIR"); d != "" {
		return d
	}
	return "/usr/bin"
}

// Dir6 is where the IPv6 reference (Debian's ucspi-tcp-ipv6, unpacked aside since
// it conflicts with ucspi-tcp) lives: $UCSPI_REF6_DIR, else
// /opt/ucspi-ref/ipv6/usr/bin, where .ci/run unpacks it.
func Dir6() string {
	if d := os.Getenv("UCSPI_REF6_DIR"); d != "" {
		return d
	}
	return "/opt/ucspi-ref/ipv6/usr/bin"
}

// Ref is the path of the reference program name; t skips if it is missing.
func Ref(t testing.TB, name string) string { return find(t, Dir(), name) }

// Ref6 is the path of the IPv6 reference program name; t skips if it is missing.
func Ref6(t testing.TB, name string) string { return find(t, Dir6(), name) }

func find(t testing.TB, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("reference %s not installed (%v)", p, err)
	}
	return p
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Ours is the path of a symlink called name to a freshly built ucspi binary, so
// the applet runs exactly as an installed one would.
func Ours(t testing.TB, name string) string {
	t.Helper()
	buildOnce.Do(build)
	if buildErr != nil {
		t.Fatalf("building ucspi: %v", buildErr)
	}
	p := filepath.Join(binDir, name)
	if err := os.Symlink("ucspi", p); err != nil && !errors.Is(err, os.ErrExist) {
		t.Fatal(err)
	}
	return p
}

// BinDir is the directory holding our binary and its applet symlinks (created by
// Ours), for tests that put it first in $PATH.
func BinDir(t testing.TB) string {
	Ours(t, "ucspi")
	return binDir
}

func build() {
	binDir, buildErr = os.MkdirTemp("", "ucspi-reftest-")
	if buildErr == nil {
		buildErr = buildInto(binDir)
	}
}

// buildInto builds ucspi into dir as `make` builds it, with the given build
// tags.
func buildInto(dir string, tags ...string) error {
	var env []string
	if len(tags) > 0 {
		env = append(env, "GOFLAGS=-tags="+strings.Join(tags, ","))
	}
	return runMake(env, "bin/ucspi", "BIN="+filepath.Join(dir, "ucspi"))
}

// Make runs make in the repository's root with args (a target and variables):
// the tests build the binary exactly as `make` does, its flags (the entry
// stub, cgo off) written in the Makefile only.
func Make(args ...string) error { return runMake(nil, args...) }

func runMake(env []string, args ...string) error {
	_, here, _, _ := runtime.Caller(0)
	cmd := exec.Command("make", append([]string{"-s", "--no-print-directory"}, args...)...)
	cmd.Dir = filepath.Join(filepath.Dir(here), "..", "..")
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return errors.New("make " + strings.Join(args, " ") + ": " + err.Error() + ": " + string(out))
	}
	return nil
}

// OursTagged is Ours built with a build tag, into a directory of the test's:
// for faults only a test build can inject (the ucspifault tag).
func OursTagged(t testing.TB, tag, name string) string {
	t.Helper()
	dir := t.TempDir()
	if err := buildInto(dir, tag); err != nil {
		t.Fatalf("building ucspi -tags %s: %v", tag, err)
	}
	p := filepath.Join(dir, name)
	if err := os.Symlink("ucspi", p); err != nil {
		t.Fatal(err)
	}
	return p
}

// Main is TestMain for packages that use Ours: descriptors the test process
// inherited above 2 (from a shell, a CI runner) are not passed on to the
// programs the tests start, whose descriptor counts some tests limit; and the
// built binary is removed after the tests have run.
func Main(m *testing.M) {
	if names, err := os.ReadDir("/proc/self/fd"); err == nil {
		for _, n := range names {
			if fd, err := strconv.Atoi(n.Name()); err == nil && fd > 2 {
				syscall.CloseOnExec(fd)
			}
		}
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// Cmd is one command line to run: Args excludes the program itself.
type Cmd struct {
	Args    []string
	Stdin   []byte
	Env     []string // the whole environment; nil means a minimal PATH-only one
	Dir     string
	Timeout time.Duration // default 10s; the process is killed after it
}

// Result is what a run printed and its exit status (-1 when killed by a signal).
type Result struct {
	Stdout, Stderr []byte
	Code           int
}

// Run runs prog with c and returns what happened. It fails t only when the
// program could not be started or outlived its timeout.
func Run(t testing.TB, prog string, c Cmd) Result {
	t.Helper()
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, c.Args...)
	cmd.Env = c.Env
	if cmd.Env == nil {
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	}
	cmd.Dir = c.Dir
	cmd.Stdin = bytes.NewReader(c.Stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %q: still running after %v", prog, c.Args, timeout)
	}
	r := Result{Stdout: out.Bytes(), Stderr: errOut.Bytes()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	default:
		t.Fatalf("running %s: %v", prog, err)
	}
	return r
}

// Normalizer rewrites output before comparison, e.g. to hide pids or ports.
type Normalizer func([]byte) []byte

// Replace returns a Normalizer replacing every match of pattern with repl.
func Replace(pattern, repl string) Normalizer {
	re := regexp.MustCompile(pattern)
	return func(b []byte) []byte { return re.ReplaceAll(b, []byte(repl)) }
}

// Pids hides process ids in "name: ... pid N" and recordio's "N < " forms.
var Pids = Replace(`(?m)(pid |^|\b(?:ok|end|deny) )\d+\b`, "${1}PID")

// Compare runs c against the reference program name and against ours, and fails t
// unless stdout, stderr and the exit status agree after normalising.
func Compare(t testing.TB, name string, c Cmd, norm ...Normalizer) Result {
	t.Helper()
	return compare(t, Ref(t, name), Ours(t, name), c, norm)
}

// Compare6 is Compare against the IPv6 reference.
func Compare6(t testing.TB, name string, c Cmd, norm ...Normalizer) Result {
	t.Helper()
	return compare(t, Ref6(t, name), Ours(t, name), c, norm)
}

func compare(t testing.TB, ref, ours string, c Cmd, norm []Normalizer) Result {
	t.Helper()
	want := Run(t, ref, c)
	got := Run(t, ours, c)
	for _, n := range norm {
		want.Stdout, want.Stderr = n(want.Stdout), n(want.Stderr)
		got.Stdout, got.Stderr = n(got.Stdout), n(got.Stderr)
	}
	if !bytes.Equal(want.Stdout, got.Stdout) {
		t.Errorf("%q: stdout differs\nreference: %q\nours:      %q", c.Args, clip(want.Stdout), clip(got.Stdout))
	}
	if !bytes.Equal(want.Stderr, got.Stderr) {
		t.Errorf("%q: stderr differs\nreference: %q\nours:      %q", c.Args, clip(want.Stderr), clip(got.Stderr))
	}
	if want.Code != got.Code {
		t.Errorf("%q: exit status: reference %d, ours %d", c.Args, want.Code, got.Code)
	}
	return got
}

func clip(b []byte) []byte {
	if len(b) > 2000 {
		return append(b[:2000:2000], "..."...)
	}
	return b
}
