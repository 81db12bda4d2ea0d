package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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
	out, _, code := run(t, ucspi, "--list")
	if code != 0 {
		t.Fatalf("ucspi --list: exit %d", code)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(applets.All()) == 0 || len(lines) != len(applets.All()) {
		t.Fatalf("ucspi --list listed %d lines for %d applets", len(lines), len(applets.All()))
	}
	for i, a := range applets.All() {
		if lines[i] != a.Name+"\t"+a.Summary || a.Summary == "" {
			t.Errorf("line %d = %q, want %q and a summary", i, lines[i], a.Name+"\t"+a.Summary)
		}
	}
}

// TestUcspiHelp: ucspi --help prints a usage line, the applets and ucspi's own
// options; ucspi alone and an unknown applet print the same on stderr, exit 100.
func TestUcspiHelp(t *testing.T) {
	ucspi := reftest.Ours(t, "ucspi")
	help, _, code := run(t, ucspi, "--help")
	if code != 0 || !strings.HasPrefix(help, "usage: ucspi applet [ arg ... ]\n") {
		t.Fatalf("ucspi --help: exit %d, %q", code, help)
	}
	for _, a := range applets.All() {
		if !strings.Contains(help, "\n  "+a.Name+" ") || !strings.Contains(help, a.Summary+"\n") {
			t.Errorf("ucspi --help does not list %s", a.Name)
		}
	}
	for _, want := range []string{"--version", "--list", "completion bash|zsh|fish", "applet --help"} {
		if !strings.Contains(help, want) {
			t.Errorf("ucspi --help does not mention %s", want)
		}
	}
	if out, errOut, code := run(t, ucspi); code != 100 || out != "" || errOut != help {
		t.Errorf("ucspi alone: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if out, errOut, code := run(t, ucspi, "nosuchapplet"); code != 100 || out != "" || errOut != "ucspi: no applet \"nosuchapplet\"\n"+help {
		t.Errorf("unknown applet: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if out, _, code := run(t, ucspi, "--version"); code != 0 || !strings.HasPrefix(out, "ucspi ") {
		t.Errorf("--version: %q, exit %d", out, code)
	}
}

func TestDispatch(t *testing.T) {
	ucspi := reftest.Ours(t, "ucspi")
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

// TestRenamedArgv0 runs tcpserver with an argv[0] of the caller's choosing, as
// runit's chpst -b, djb's argv0 (ours and Debian's) and the shell's exec -a do,
// on a symlink, on a copy named tcpserver and as `ucspi tcpserver`: it must
// be tcpserver every time, which prints the port it listens on.
func TestRenamedArgv0(t *testing.T) {
	link := reftest.Ours(t, "tcpserver")
	ucspi := reftest.Ours(t, "ucspi")
	copied := filepath.Join(t.TempDir(), "tcpserver")
	if b, err := os.ReadFile(ucspi); err != nil || os.WriteFile(copied, b, 0o755) != nil {
		t.Fatal("copying the binary:", err)
	}
	server := []string{"-1", "-RHl0", "127.0.0.1", "0", "true"}
	targets := map[string][]string{
		"symlink":         append([]string{link}, server...),
		"copy":            append([]string{copied}, server...),
		"ucspi tcpserver": append([]string{ucspi, "tcpserver"}, server...),
	}
	renamers := map[string]func(prog []string) []string{
		"exec -a": func(prog []string) []string {
			return append([]string{"bash", "-c", `exec -a smtpd "$@"`, "bash"}, prog...)
		},
		"argv0 (ours)": func(prog []string) []string {
			return append([]string{reftest.Ours(t, "argv0"), prog[0], "smtpd"}, prog[1:]...)
		},
		"chpst -b": func(prog []string) []string { return append([]string{"chpst", "-b", "smtpd"}, prog...) },
	}
	if ref := filepath.Join(reftest.Dir(), "argv0"); exists(ref) {
		renamers["argv0 (Debian)"] = func(prog []string) []string { return append([]string{ref, prog[0], "smtpd"}, prog[1:]...) }
	} else {
		t.Logf("no %s: skipping it", ref)
	}
	if _, err := exec.LookPath("chpst"); err != nil {
		t.Logf("no chpst (runit): skipping it")
		delete(renamers, "chpst -b")
	}
	for tname, target := range targets {
		for rname, rename := range renamers {
			argv := rename(target)
			if port := firstLine(t, argv); !isPort(port) {
				t.Errorf("%s via %s (%q): printed %q, not a port", tname, rname, argv, port)
			}
		}
	}
	// argv[0] decides when the file's name does not: ucspi run as tcpserver.
	if port := firstLine(t, append([]string{"bash", "-c", `exec -a tcpserver "$@"`, "bash", ucspi}, server...)); !isPort(port) {
		t.Errorf("exec -a tcpserver ucspi: printed %q", port)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func isPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n < 65536
}

// firstLine runs argv, returns the first line of its stdout (or of its stderr,
// if it exits first) and kills it.
func firstLine(t *testing.T, argv []string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(l)
	}()
	defer cmd.Wait()
	defer cmd.Process.Kill()
	select {
	case l := <-line:
		if l == "" {
			cmd.Wait()
			return "stderr: " + errOut.String()
		}
		return l
	case <-time.After(10 * time.Second):
		return "nothing after 10s"
	}
}

// TestCompletion asks for candidates the way the shells' scripts do (`ucspi
// __complete WORDS...`), and runs bash's script for real.
func TestCompletion(t *testing.T) {
	ucspi := reftest.Ours(t, "ucspi")
	for shell, want := range map[string]string{"bash": "__start_ucspi", "zsh": "#compdef ucspi", "fish": "complete -c ucspi"} {
		if out, errOut, code := run(t, ucspi, "completion", shell); code != 0 || !strings.Contains(out, want) || errOut != "" {
			t.Errorf("completion %s: exit %d, %q, stderr %q", shell, code, clip(out), errOut)
		}
	}
	if _, errOut, code := run(t, ucspi, "completion", "ksh"); code != 100 || errOut != "ucspi: usage: ucspi completion bash|zsh|fish\n" {
		t.Errorf("completion ksh: exit %d, %q", code, errOut)
	}
	candidates := func(words ...string) map[string]bool {
		out, _, _ := run(t, ucspi, append([]string{"__complete"}, words...)...)
		got := map[string]bool{}
		for _, l := range strings.Split(out, "\n") {
			if name, _, _ := strings.Cut(l, "\t"); name != "" && !strings.HasPrefix(name, ":") {
				got[name] = true
			}
		}
		return got
	}
	names := candidates("")
	for _, a := range applets.All() {
		if !names[a.Name] {
			t.Errorf("ucspi <TAB> does not offer %s", a.Name)
		}
	}
	if !names["completion"] {
		t.Error("ucspi <TAB> does not offer completion")
	}
	for _, c := range []struct {
		words []string
		want  []string
	}{
		{[]string{"tcpserver", "--l"}, []string{"--limit", "--local-name"}},
		{[]string{"tcpserver", "-"}, []string{"-c", "-x", "-u", "-1"}},
		{[]string{"tcpclient", "--timeout-"}, []string{"--timeout-connect", "--timeout-info"}},
		{[]string{"rblsmtpd", "--"}, []string{"--rbl", "--anti-rbl", "--help"}},
		{[]string{"tcprules", "-"}, []string{"-n"}},
		{[]string{"completion", ""}, []string{"bash", "zsh", "fish"}},
	} {
		got := candidates(c.words...)
		for _, w := range c.want {
			if !got[w] {
				t.Errorf("ucspi %q<TAB>: no %s in %v", c.words, w, got)
			}
		}
	}
	// bash itself: the script with bash-completion's word splitter stubbed.
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script := `_get_comp_words_by_ref() { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
source <(ucspi completion bash)
complete() { :; }; compopt() { :; }
COMP_WORDS=(ucspi "$@"); COMP_CWORD=$#; COMP_LINE="ucspi $*"; COMP_POINT=${#COMP_LINE}
__start_ucspi
printf '%s\n' "${COMPREPLY[@]}"`
	for words, want := range map[string]string{"tcpser": "tcpserver", "tcpserver --li": "--limit", "completion zs": "zsh"} {
		cmd := exec.Command(bash, append([]string{"-c", script, "bash"}, strings.Fields(words)...)...)
		cmd.Env = []string{"PATH=" + filepath.Dir(ucspi) + ":" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != want {
			t.Errorf("bash: ucspi %s<TAB> = %q (%v), want %q", words, out, err, want)
		}
	}
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// buildStatic builds what `make static` builds.
func buildStatic(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "ucspi-static")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, b)
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
