package startup

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ucspi-go/ucspi/internal/fakeserver"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

// closing runs the rest with descriptor fd closed, under sh.
func closing(fd int, stdin string) []string {
	redirect := `"$@" ` + strconv.Itoa(fd) + `>&-`
	if stdin != "" {
		redirect = `printf '` + stdin + `' | ` + redirect
	}
	return []string{"/bin/sh", "-c", redirect, "sh"}
}

// TestClosedStdioFilters: applets reading or writing a standard descriptor
// closed at start fail as 0.88's did (EBADF), not on the runtime's /dev/null.
func TestClosedStdioFilters(t *testing.T) {
	impls := impls(t)
	cdb := filepath.Join(t.TempDir(), "rules.cdb")
	for _, c := range []struct {
		fd    int
		stdin string
		argv  []string
	}{
		{0, "", []string{"addcr"}},
		{1, `a\\nb\\n`, []string{"addcr"}},
		{0, "", []string{"delcr"}},
		{1, `a\\r\\nb\\n`, []string{"delcr"}},
		{0, "", []string{"tcprules", cdb, cdb + ".tmp"}},
		{2, `x\\n`, []string{"tcprules", cdb, cdb + ".tmp"}},
		{1, "", []string{"rblsmtpd", "-t", "1", "true"}},
	} {
		var got [2]string
		for i, im := range impls {
			argv := append(closing(c.fd, c.stdin), filepath.Join(im.dir, c.argv[0]))
			env := []string{"PATH=" + os.Getenv("PATH"), "RBLSMTPD=go away", "TCPREMOTEIP=10.0.0.1"}
			p := start(t, env, append(argv, c.argv[1:]...)...)
			got[i] = p.wait() + " " + string(reftest.Pids([]byte(p.stderr())))
		}
		if got[0] != got[1] {
			t.Errorf("%q with %d closed: Debian's %q, ours %q", c.argv, c.fd, got[0], got[1])
		}
	}
}

// descriptors is a program that has what its descriptors 0, 1 and 2 are
// reported in a file, so that it can say so with any of them closed: a shell
// whose child (find, writing the file itself) lists them. No redirection: the
// shell makes those in its own descriptors before it forks.
func descriptors(t *testing.T) (prog []string, report func() string) {
	out := filepath.Join(t.TempDir(), "fds")
	list := `find /proc/$$/fd -mindepth 1 -maxdepth 1 -fprintf ` + out + ` '%f %l\n'; :` // ":": not the last command, which the shell would exec itself
	line := regexp.MustCompile(`(?m)^([0-2]) (socket|pipe|[^:\n]+)`)
	return []string{"/bin/sh", "-c", list}, func() string {
		b, _ := os.ReadFile(out)
		os.Remove(out)
		fds := []string{"0 closed", "1 closed", "2 closed"}
		for _, m := range line.FindAllStringSubmatch(string(b), -1) {
			fds[m[1][0]-'0'] = m[1] + " " + m[2]
		}
		return strings.Join(fds, "\n") + "\n"
	}
}

// TestClosedStdioPrograms: a program ucspi runs has a descriptor closed that
// was closed when ucspi started, as under 0.88.
func TestClosedStdioPrograms(t *testing.T) {
	impls := impls(t)
	prog, report := descriptors(t)
	ln := fakeserver.Serve(t, "127.0.0.1:0", func(c net.Conn) { c.Read(make([]byte, 1)) })
	port := strconv.Itoa(int(fakeserver.Port(ln)))
	env := []string{"PATH=" + os.Getenv("PATH"), "RBLSMTPD="}
	for _, chain := range [][]string{
		append([]string{"argv0", prog[0], "sh"}, prog[1:]...),
		append([]string{"rblsmtpd"}, prog...),
		append([]string{"tcpclient", "-RHl0", "127.0.0.1", port}, prog...),
		append([]string{"fixcrio"}, prog...),
		append([]string{"recordio"}, prog...),
	} {
		for fd := 0; fd < 3; fd++ {
			var got [2]string
			for i, im := range impls {
				argv := append(closing(fd, ""), filepath.Join(im.dir, chain[0]))
				p := start(t, env, append(argv, chain[1:]...)...)
				p.wait()
				got[i] = report()
			}
			if got[0] == "" || got[0] != got[1] {
				t.Errorf("%s with %d closed: Debian's program has\n%s\nours\n%s", chain[0], fd, got[0], got[1])
			}
		}
	}
}

// TestClosedStderrServer: tcpserver started with descriptor 2 closed gives its
// programs none (0.88's got whatever had landed there: its listening socket).
func TestClosedStderrServer(t *testing.T) {
	prog, report := descriptors(t)
	argv := append(closing(2, ""), append([]string{filepath.Join(ours(t), "tcpserver"), "-1", "-RHl0", "127.0.0.1", "0"}, prog...)...)
	p := start(t, nil, argv...)
	p.connect()
	if got, want := report(), "0 socket\n1 socket\n2 closed\n"; got != want {
		t.Errorf("the program has\n%s\nwant\n%s", got, want)
	}
}
