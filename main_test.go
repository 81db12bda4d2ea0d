package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ucspi-go/ucspi/applets"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

func TestMain(m *testing.M) { reftest.Main(m) }

func run(t *testing.T, prog string, args ...string) (string, string, int) {
	t.Helper()
	r := reftest.Run(t, prog, reftest.Cmd{Args: args})
	return string(r.Stdout), string(r.Stderr), r.Code
}

func TestListNamesEveryApplet(t *testing.T) {
	ucspi := reftest.Ours(t, "ucspi")
	for _, args := range [][]string{nil, {"--list"}, {"--help"}} {
		out, _, code := run(t, ucspi, args...)
		if code != 0 {
			t.Fatalf("ucspi %q: exit %d", args, code)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(applets.All()) == 0 || len(lines) != len(applets.All()) {
			t.Fatalf("ucspi %q listed %d lines for %d applets", args, len(lines), len(applets.All()))
		}
		for i, a := range applets.All() {
			if lines[i] != a.Name+"\t"+a.Summary || a.Summary == "" {
				t.Errorf("line %d = %q, want %q and a summary", i, lines[i], a.Name+"\t"+a.Summary)
			}
		}
	}
}

func TestDispatch(t *testing.T) {
	ucspi := reftest.Ours(t, "ucspi")
	if out, _, code := run(t, ucspi, "--version"); code != 0 || !strings.HasPrefix(out, "ucspi ") {
		t.Errorf("--version: %q, exit %d", out, code)
	}
	_, errOut, code := run(t, ucspi, "nosuchapplet")
	if code != 100 || !strings.Contains(errOut, "no applet \"nosuchapplet\"") {
		t.Errorf("unknown applet: exit %d, stderr %q", code, errOut)
	}
	for _, a := range applets.All() {
		if !strings.Contains(errOut, "\n  "+a.Name+"\n") {
			t.Errorf("unknown applet message does not name %s: %q", a.Name, errOut)
		}
	}
	// The same applet, reached by subcommand and by a symlink's name, with the
	// applet's usage error showing the applet's own name either way.
	for _, a := range applets.All() {
		if a.RawArgs {
			continue
		}
		_, viaSub, c1 := run(t, ucspi, a.Name, "-?")
		_, viaLink, c2 := run(t, reftest.Ours(t, a.Name), "-?")
		if c1 != 100 || c2 != 100 || viaSub != viaLink || !strings.Contains(viaSub, a.Name+": usage: "+a.Usage+"\n") {
			t.Errorf("%s -?: subcommand (%d) %q, symlink (%d) %q", a.Name, c1, viaSub, c2, viaLink)
		}
	}
}

// buildStatic builds what `make static` builds, with make.
func buildStatic(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "ucspi-static")
	if err := reftest.Make("static", "STATIC="+out); err != nil {
		t.Fatal(err)
	}
	return out
}

func isStatic(t *testing.T, path string) bool {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			return false
		}
	}
	return true
}

// TestInstallAndImageTree installs the static binary the way `make install` and
// the Dockerfile do, then checks the tree: a static binary, one working symlink
// per applet, idempotent re-runs, and an uninstall that removes only its own.
func TestInstallAndImageTree(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a static binary")
	}
	static := buildStatic(t)
	if !isStatic(t, static) {
		t.Fatal("make static's binary is dynamically linked")
	}
	if fi, err := os.Stat(static); err == nil {
		t.Logf("static stripped binary: %d bytes (%.1f MB)", fi.Size(), float64(fi.Size())/1e6)
	}
	root := t.TempDir()
	install := func(args ...string) {
		t.Helper()
		cmd := exec.Command("scripts/install.sh", args...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("install.sh %q: %v\n%s", args, err, b)
		}
	}
	install("--binary", static, root)
	install("--binary", static, root) // again: must be harmless
	bin := filepath.Join(root, "bin")
	foreign := filepath.Join(bin, "not-ours")
	os.WriteFile(foreign, []byte("keep me"), 0o644)

	entries, _ := os.ReadDir(bin)
	if len(entries) != len(applets.All())+2 {
		t.Errorf("bin holds %d entries, want ucspi + %d applets + the foreign file", len(entries), len(applets.All()))
	}
	if !isStatic(t, filepath.Join(bin, "ucspi")) {
		t.Error("installed ucspi is not static")
	}
	for _, a := range applets.All() {
		link := filepath.Join(bin, a.Name)
		if target, err := os.Readlink(link); err != nil || target != "ucspi" {
			t.Errorf("%s: readlink = %q, %v; want a relative link to ucspi", link, target, err)
		}
	}
	if _, _, code := run(t, filepath.Join(bin, "ucspi"), "--list"); code != 0 {
		t.Error("installed ucspi --list failed")
	}

	install("--uninstall", root)
	entries, _ = os.ReadDir(bin)
	if len(entries) != 1 || entries[0].Name() != "not-ours" {
		t.Errorf("after --uninstall bin holds %v, want only the foreign file", entries)
	}
}

// TestReadmeListsEveryApplet keeps the README's applet table true to the binary.
func TestReadmeListsEveryApplet(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range applets.All() {
		if row := "| `" + a.Name + "` | " + a.Summary + " |"; !strings.Contains(string(readme), row) {
			t.Errorf("README.md lacks the row %q", row)
		}
	}
}
