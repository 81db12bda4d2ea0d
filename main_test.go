package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	for words, want := range map[string]string{"tcpser": "tcpserver", "tcpserver --lim": "--limit", "completion zs": "zsh"} {
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
// per applet, man pages, idempotent re-runs, and an uninstall that removes only
// its own; in image mode, an /etc/services that tcpclient reads in a chroot.
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
	pages := writeMan(t)
	root := t.TempDir()
	install("scripts/install.sh").ok(t, "--binary", static, "--man", pages, root)
	install("scripts/install.sh").ok(t, "--binary", static, "--man", pages, root) // again: must be harmless
	bin := filepath.Join(root, "bin")
	man1 := filepath.Join(root, "share", "man", "man1")
	foreign := filepath.Join(bin, "not-ours")
	os.WriteFile(foreign, []byte("keep me"), 0o644)
	os.WriteFile(filepath.Join(man1, "not-ours.1"), []byte(".TH OTHER 1\n"), 0o644)

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
		if b, err := os.ReadFile(filepath.Join(man1, a.Name+".1")); err != nil || !bytes.HasPrefix(b, []byte(".TH ")) {
			t.Errorf("%s.1 not installed: %v", a.Name, err)
		}
	}
	if _, _, code := run(t, filepath.Join(bin, "ucspi"), "--list"); code != 0 {
		t.Error("installed ucspi --list failed")
	}

	install("scripts/install.sh").ok(t, "--uninstall", root)
	entries, _ = os.ReadDir(bin)
	if len(entries) != 1 || entries[0].Name() != "not-ours" {
		t.Errorf("after --uninstall bin holds %v, want only the foreign file", entries)
	}
	if entries, _ = os.ReadDir(man1); len(entries) != 1 || entries[0].Name() != "not-ours.1" {
		t.Errorf("after --uninstall man1 holds %v, want only the foreign page", entries)
	}

	image := t.TempDir()
	install("scripts/install.sh").ok(t, "--image", "--binary", static, image)
	services, err := os.ReadFile(filepath.Join(image, "etc", "services"))
	if err != nil || !regexp.MustCompile(`(?m)^smtp\s+25/tcp\s+mail$`).Match(services) {
		t.Errorf("image's /etc/services: %v %q", err, clip(string(services)))
	}
	if os.Geteuid() != 0 {
		t.Skip("not root: no chroot into the image tree")
	}
	// The README's `tcpserver ... smtp ...` in the image: the name is found.
	// Nothing listens on 127.77.0.1, so tcpclient reports port 25 refused.
	cmd := exec.Command("/usr/sbin/chroot", image, "/bin/tcpclient", "-RHl0", "127.77.0.1", "smtp", "/bin/ucspi")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "127.77.0.1 port 25: ") {
		t.Errorf("tcpclient in the image tree: %q", out)
	}
}

// installer runs an install.sh.
type install string

func (script install) run(args ...string) (string, error) {
	out, err := exec.Command(string(script), args...).CombinedOutput()
	return string(out), err
}

func (script install) ok(t *testing.T, args ...string) {
	t.Helper()
	if out, err := script.run(args...); err != nil {
		t.Fatalf("%s %q: %v\n%s", script, args, err, out)
	}
}

// writeMan writes the man pages as `make man` does and returns their directory.
func writeMan(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, a := range applets.All() {
		var b bytes.Buffer
		a.WriteMan(&b, "test")
		if err := os.WriteFile(filepath.Join(dir, a.Name+".1"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestInstallRightAfterMake runs install.sh from a source tree where `make` has
// just written bin/ucspi, with no options; and shows that a conflict found
// anywhere leaves nothing installed.
func TestInstallRightAfterMake(t *testing.T) {
	tree := t.TempDir()
	for _, f := range []string{"scripts/install.sh", "scripts/services"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(tree, "scripts"), 0o755)
		os.WriteFile(filepath.Join(tree, f), b, 0o755)
	}
	b, err := os.ReadFile(reftest.Ours(t, "ucspi"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(tree, "bin"), 0o755)
	os.WriteFile(filepath.Join(tree, "bin", "ucspi"), b, 0o755)
	script := install(filepath.Join(tree, "scripts", "install.sh"))

	root := t.TempDir()
	script.ok(t, root)
	if target, err := os.Readlink(filepath.Join(root, "bin", "tcpserver")); err != nil || target != "ucspi" {
		t.Errorf("tcpserver link: %q %v", target, err)
	}
	if out, _, code := run(t, filepath.Join(root, "bin", "tcpserver"), "--help"); code != 0 || !strings.HasPrefix(out, "NAME\n    tcpserver - ") {
		t.Errorf("installed tcpserver --help: exit %d, %q", code, clip(out))
	}

	for _, c := range []struct {
		name    string
		prepare func(dir string)
		want    string
	}{
		{"a program in the way", func(dir string) {
			os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
			os.WriteFile(filepath.Join(dir, "bin", "tcprules"), []byte("#!/bin/sh\n"), 0o755)
		}, "/bin/tcprules exists and is not a link to ucspi"},
		{"a link elsewhere", func(dir string) {
			os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
			os.Symlink("/usr/bin/who", filepath.Join(dir, "bin", "who@"))
		}, "/bin/who@ is a link to /usr/bin/who, not to ucspi"},
		{"a file for bin", func(dir string) { os.WriteFile(filepath.Join(dir, "bin"), nil, 0o644) }, "/bin exists and is not a directory"},
		{"a directory for ucspi", func(dir string) { os.MkdirAll(filepath.Join(dir, "bin", "ucspi"), 0o755) }, "/bin/ucspi exists and is not a file"},
	} {
		dir := t.TempDir()
		c.prepare(dir)
		before := tree2list(t, dir)
		out, err := script.run(dir)
		if err == nil || !strings.Contains(out, dir+c.want) || !strings.Contains(out, "install.sh: fatal: nothing installed") {
			t.Errorf("%s: %v\n%s", c.name, err, out)
		}
		if after := tree2list(t, dir); after != before {
			t.Errorf("%s: the tree changed from\n%s\nto\n%s", c.name, before, after)
		}
	}
	// A man page of another package is in the way too.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "share", "man", "man1"), 0o755)
	os.WriteFile(filepath.Join(dir, "share", "man", "man1", "tcpserver.1"), []byte(".TH tcpserver 1 \"\" \"ucspi-tcp 0.88\"\n"), 0o644)
	if out, err := script.run("--man", writeMan(t), dir); err == nil || !strings.Contains(out, "tcpserver.1 exists and is not ucspi's") {
		t.Errorf("a foreign man page: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "bin")); err == nil {
		t.Error("a foreign man page: bin was created")
	}
	// No binary: a clear message.
	os.Remove(filepath.Join(tree, "bin", "ucspi"))
	if out, err := script.run(t.TempDir()); err == nil || !strings.Contains(out, "bin/ucspi: run make first") {
		t.Errorf("no binary: %v\n%s", err, out)
	}
}

// tree2list lists every path under dir with its mode, for before/after checks.
func tree2list(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			b.WriteString(p + " " + fi.Mode().String() + "\n")
		}
		return nil
	})
	return b.String()
}

// TestDistKnowsItsVersion makes the release tarball and builds from it (a dry
// run of make: the version is on the go build line), where there is no git.
func TestDistKnowsItsVersion(t *testing.T) {
	if err := exec.Command("git", "rev-parse", "HEAD").Run(); err != nil {
		t.Skip("not a git clone:", err)
	}
	out := t.TempDir()
	if b, err := exec.Command("scripts/dist.sh", "9.8.7", out).CombinedOutput(); err != nil {
		t.Fatalf("dist.sh: %v\n%s", err, b)
	}
	unpacked := t.TempDir()
	if b, err := exec.Command("tar", "-x", "-z", "-f", filepath.Join(out, "ucspi-9.8.7.tar.gz"), "-C", unpacked).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, b)
	}
	src := filepath.Join(unpacked, "ucspi-9.8.7")
	if v, err := os.ReadFile(filepath.Join(src, "VERSION")); err != nil || string(v) != "9.8.7\n" {
		t.Errorf("VERSION = %q, %v", v, err)
	}
	for _, f := range []string{"LICENSE", "go.mod", "main.go", "scripts/install.sh"} {
		if _, err := os.Stat(filepath.Join(src, f)); err != nil {
			t.Errorf("tarball lacks %s", f)
		}
	}
	make := exec.Command("make", "-n", "bin/ucspi")
	make.Dir = src
	make.Env = append(os.Environ(), "GIT_DIR=/nonexistent") // no clone to ask
	if b, err := make.CombinedOutput(); err != nil || !strings.Contains(string(b), "-X main.version=9.8.7") {
		t.Errorf("make in the tarball: %v\n%s", err, b)
	}
	// In the clone itself, git describe names the version.
	make = exec.Command("make", "-n", "bin/ucspi")
	describe, _ := exec.Command("git", "describe", "--always", "--dirty").Output()
	if b, err := make.CombinedOutput(); err != nil || !strings.Contains(string(b), "-X main.version="+strings.TrimSpace(string(describe))) {
		t.Errorf("make in the clone: %v\n%s", err, b)
	}
}

// TestPackagingFiles checks what can be checked without a Docker engine: the
// Dockerfile's shape (issue 15, §4) and `make image-tree` building the tree the
// image copies.
func TestPackagingFiles(t *testing.T) {
	docker, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	d := string(docker)
	for _, re := range []string{
		`(?m)^FROM golang:\d+\.\d+\.\d+ AS build$`,                            // Go pinned to a patch release
		`(?ms)^COPY go\.mod go\.sum \./\nRUN go mod download\n.*^COPY \. \.$`, // modules in their own layer
		`(?m)^RUN make image-tree`,
		`(?m)^COPY --from=build /src/build/image/ /$`,
		`org\.opencontainers\.image\.source=`, `org\.opencontainers\.image\.licenses="ISC"`,
		`org\.opencontainers\.image\.version=`, `org\.opencontainers\.image\.title=`,
		`CAP_NET_BIND_SERVICE`, `CAP_SETUID`,
	} {
		if !regexp.MustCompile(re).MatchString(d) {
			t.Errorf("Dockerfile does not match %s", re)
		}
	}
	ignore, err := os.ReadFile(".dockerignore")
	if err != nil || !regexp.MustCompile(`(?m)^\.git$`).Match(ignore) || !regexp.MustCompile(`(?m)^bin$`).Match(ignore) {
		t.Errorf(".dockerignore: %v %q", err, ignore)
	}
	if b, err := exec.Command("make", "-n", "install", "DESTDIR=/stage", "PREFIX=/usr").CombinedOutput(); err != nil ||
		!strings.Contains(string(b), "scripts/install.sh --binary bin/ucspi-static --man man/man1 /stage/usr\n") ||
		!strings.Contains(string(b), "internal/genman man/man1") {
		t.Errorf("make install: %v\n%s", err, b)
	}
	if b, err := exec.Command("make", "-n", "image-tree").CombinedOutput(); err != nil ||
		!strings.Contains(string(b), "scripts/install.sh --image --binary bin/ucspi-static build/image") {
		t.Errorf("make image-tree: %v\n%s", err, b)
	}
	license, err := os.ReadFile("LICENSE")
	readme, _ := os.ReadFile("README.md")
	if err != nil || !strings.HasPrefix(string(license), "ISC License") || !strings.Contains(string(readme), "ISC licence") {
		t.Errorf("LICENSE (%v) and the README must agree on the ISC licence", err)
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

// TestReadmeQuickStart runs the README's quick start: the server it starts and
// the client that talks to it (on a port of the kernel's choosing rather than
// 8000), and checks that it names what `make test` needs.
func TestReadmeQuickStart(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	start := regexp.MustCompile("(?s)## Quick start\n\n```sh\n(.*?)```").FindSubmatch(readme)
	if start == nil {
		t.Fatal("README.md has no quick start")
	}
	var server, client []string
	for _, line := range strings.Split(string(start[1]), "\n") {
		cmd, _, _ := strings.Cut(line, "#")
		switch f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(cmd), "&")); {
		case len(f) > 2 && f[0] == "bin/ucspi" && f[1] == "tcpserver":
			server = f[2:]
		case len(f) > 2 && f[0] == "bin/ucspi" && f[1] == "tcpcat":
			client = f[2:]
		}
	}
	if len(server) < 3 || len(client) != 2 || server[len(server)-3] != client[1] || server[len(server)-4] != client[0] {
		t.Fatalf("quick start: server %q, client %q: not one talking to the other", server, client)
	}
	// The same commands, the port left to the kernel and printed (-1).
	server[len(server)-3] = "0"
	cmd := exec.Command(reftest.Ours(t, "ucspi"), append([]string{"tcpserver", "-1"}, server...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.StdoutPipe()
	if err != nil || cmd.Start() != nil {
		t.Fatal("starting the server:", err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	port, _ := bufio.NewReader(out).ReadString('\n')
	got, errOut, code := run(t, reftest.Ours(t, "ucspi"), "tcpcat", client[0], strings.TrimSpace(port))
	if got != "hello\n" || code != 0 {
		t.Errorf("tcpcat: %q, exit %d, stderr %q", got, code, errOut)
	}
	for _, want := range []string{"make test-short", "**root**", "ucspi-tcp", "daemontools", "runit", "ucspi-tcp-ipv6", "**time**", "three minutes"} {
		if !bytes.Contains(readme, []byte(want)) {
			t.Errorf("README.md does not say %q", want)
		}
	}
	if mk, _ := os.ReadFile("Makefile"); !regexp.MustCompile(`(?m)^test-short:`).Match(mk) {
		t.Error("the Makefile has no test-short target")
	}
}
