package applets

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/fakedns"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

// rtsDir holds djb's own tests for ucspi-tcp 0.88: rts.tests and the output
// it expects, rts.exp.
const rtsDir = "/opt/ref/ucspi-tcp-0.88"

// rtsSections splits rts.tests or rts.exp at its "--- title" lines.
func rtsSections(text string, tests bool) (titles []string, bodies map[string]string) {
	bodies = map[string]string{}
	marker := regexp.MustCompile(`(?m)^--- (.*)\n`)
	if tests {
		marker = regexp.MustCompile(`(?m)^echo '--- (.*)' *\n`)
	}
	at := marker.FindAllStringSubmatchIndex(text, -1)
	for i, m := range at {
		end := len(text)
		if i+1 < len(at) {
			end = at[i+1][0]
		}
		title := text[m[2]:m[3]]
		titles = append(titles, title)
		bodies[title] = text[m[1]:end]
	}
	return titles, bodies
}

// TestTCPClientRTS runs the sections of djb's rts.tests that exercise
// tcpclient, tcpcat and mconnect with ours first in $PATH (and Debian's
// tcpserver as the server they talk to), and wants rts.exp's output for each.
func TestTCPClientRTS(t *testing.T) {
	testsText, err := os.ReadFile(filepath.Join(rtsDir, "rts.tests"))
	if err != nil {
		t.Skipf("djb's tests not installed: %v", err)
	}
	expText, err := os.ReadFile(filepath.Join(rtsDir, "rts.exp"))
	if err != nil {
		t.Skip(err)
	}
	tcpserver := reftest.Ref(t, "tcpserver")
	for _, name := range []string{"tcpclient", "tcpcat", "mconnect", "mconnect-io"} {
		reftest.Ours(t, name)
	}
	bin := reftest.BinDir(t)
	dns := fakedns.Start(t, "1.0.0.127.in-addr.arpa. PTR localhost.", "localhost. A 127.0.0.1")

	// The tests use fixed ports 50016 to 50020; ours are whatever is free now,
	// swapped in for the run and back in the output.
	script := string(testsText)
	ports := map[string]string{}
	for p := 50016; p <= 50020; p++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[strconv.Itoa(p)] = strconv.Itoa(int(netip.MustParseAddrPort(ln.Addr().String()).Port()))
		ln.Close()
	}
	for from, to := range ports {
		script = strings.ReplaceAll(script, from, to)
	}
	titles, sections := rtsSections(script, true)
	_, expected := rtsSections(string(expText), false)

	dir := t.TempDir()
	env := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "DNSCACHEIP=" + dns.IP, "DNSREWRITEFILE=/dev/null"}
	// The preamble writes ./print, the program that prints its environment.
	preamble := script[:strings.Index(script, "echo '--- ")]
	printer := regexp.MustCompile(`(?s)echo '#!/bin/sh\n  trap.*?' > print\nchmod 755 print\n`).FindString(preamble)
	if printer == "" {
		t.Fatal("rts.tests: no ./print in the preamble")
	}
	rtsRun(t, dir, env, printer)
	// The server is what rts.tests has supervise run from 50016/run.
	server := regexp.MustCompile(`(?s)exec tcpserver \\\n(.*?)\n' > \d+/run`).FindStringSubmatch(preamble)
	if server == nil {
		t.Fatal("rts.tests: no 50016/run in the preamble")
	}
	serverDir := filepath.Join(dir, ports["50016"])
	os.Mkdir(serverDir, 0o755)
	srv := exec.Command(tcpserver, strings.Fields(strings.ReplaceAll(server[1], "\\\n", " "))...)
	srv.Dir, srv.Env = serverDir, env
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", "127.0.0.1:"+ports["50016"])
		if err == nil {
			c.Close()
			break
		}
		if i == 100 {
			t.Fatalf("the rts server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	ran := 0
	for _, title := range titles {
		body := sections[title]
		if !regexp.MustCompile(`(?m)^(tcpclient|tcpcat|mconnect) `).MatchString(body) {
			continue
		}
		ran++
		t.Run(title, func(t *testing.T) {
			want, ok := expected[title]
			if !ok {
				t.Fatalf("rts.exp has no section %q", title)
			}
			got := rtsRun(t, dir, env, body)
			for from, to := range ports {
				got = strings.ReplaceAll(got, to, from)
			}
			if got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	if ran < 12 {
		t.Errorf("only %d sections of rts.tests ran", ran)
	}
}

// rtsRun runs script with sh in dir, as rts.sh does (2>&1 | cat -v), and
// returns its output.
func rtsRun(t *testing.T, dir string, env []string, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Dir, cmd.Env = dir, env
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("still running after 20s: %s", out)
	}
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return string(appendCatV(nil, out))
}
