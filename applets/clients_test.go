package applets

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/fakedns"
	"github.com/ucspi-go/ucspi/internal/fakeserver"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

// randomLines is input that exercises delcr, cat -v and the awk body filter:
// short lines, empty lines, CRs in every position, NULs, high bytes, a final
// partial line.
func randomLines(r *rand.Rand, n int) []byte {
	alphabet := []byte("ab\r\n\n\x00\x7f\x80\xff \t")
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return b
}

// FuzzClientFilters checks that delcr | cat -v gives the same output however
// its input is cut. (shelltext fuzzes the awk body filter the same way.)
func FuzzClientFilters(f *testing.F) {
	f.Add([]byte("HTTP/1.0 200 OK\r\n\r\nbody\r\n\r\nx\r"), uint64(1))
	f.Add([]byte("\r\r\n\x00\xff\n\n"), uint64(7))
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		r := rand.New(rand.NewPCG(seed, seed))
		var whole bytes.Buffer
		delcrCatV(&whole, bytes.NewReader(in))
		var cut bytes.Buffer
		delcrCatV(&cut, &pieces{r: r, b: in})
		if !bytes.Equal(whole.Bytes(), cut.Bytes()) {
			t.Fatalf("delcr|cat -v of %q: whole %q, in pieces %q", in, whole.Bytes(), cut.Bytes())
		}
	})
}

// pieces reads b in random short pieces.
type pieces struct {
	r *rand.Rand
	b []byte
}

func (p *pieces) Read(buf []byte) (int, error) {
	if len(p.b) == 0 {
		return 0, io.EOF
	}
	n := copy(buf[:min(len(buf), 1+p.r.IntN(len(p.b)))], p.b)
	p.b = p.b[n:]
	return n, nil
}

// fakeServer listens on addr and, for every connection, reads the request
// (up to end, or until the client has been quiet for a while), then sends
// reply(request) and hangs up.
func fakeServer(t *testing.T, addr, end string, reply func(request []byte) []byte) string {
	t.Helper()
	ln := fakeserver.Serve(t, addr, func(c net.Conn) {
		var req []byte
		buf := make([]byte, 4096)
		for end != "" && !bytes.Contains(req, []byte(end)) {
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			n, err := c.Read(buf)
			req = append(req, buf[:n]...)
			if err != nil {
				break
			}
		}
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		c.Write(reply(req))
	})
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// awkward is a reply that exercises delcr and cat -v.
const awkward = "line one\r\nctl \x00\x01\x1b\x7f high \x80\x9f\xa0\xff\r\r\n\r\n\r\nlone\rcr\r\n\n\ttab\r"

// TestClientsAgainstReference runs Debian's scripts and ours against the same
// fake servers. The scripts hard-wire ports 11, 13 and 79, so those servers
// listen there, on a spare loopback address (root only); ours are also run on
// a high port named by the extra operand, and must print the same.
func TestClientsAgainstReference(t *testing.T) {
	dns := fakedns.Start(t, "server.test. A 127.0.44.11")
	env := []string{"PATH=" + os.Getenv("PATH"), "DNSCACHEIP=" + dns.IP, "DNSREWRITEFILE=/dev/null"}
	random := randomLines(rand.New(rand.NewPCG(5, 6)), 300_000)
	echoBack := func(req []byte) []byte {
		return []byte(fmt.Sprintf("request %q\r\n%s", req, awkward))
	}
	for _, tc := range []struct {
		applet, port, end string
		reply             func([]byte) []byte
		args              [][]string // operands after the host
	}{
		{"who@", "11", "", func([]byte) []byte { return []byte(awkward) }, [][]string{nil}},
		{"date@", "13", "", func([]byte) []byte { return random }, [][]string{nil}},
		{"finger@", "79", "\n", echoBack, [][]string{nil, {"joe"}, {""}, {"-n"}, {`a\tb`}, {`x\cy`}, {"-v"}}},
	} {
		t.Run(tc.applet, func(t *testing.T) {
			fakeServer(t, "127.0.44.11:"+tc.port, tc.end, tc.reply)
			high := fakeServer(t, "127.0.44.11:0", tc.end, tc.reply)
			for _, more := range tc.args {
				for _, host := range []string{"127.0.44.11", "server.test."} {
					args := append([]string{host}, more...)
					want := reftest.Compare(t, tc.applet, reftest.Cmd{Args: args, Env: env})
					if len(want.Stdout) < 20 {
						t.Errorf("%q printed only %q", args, want.Stdout)
					}
					if len(more) == 0 && tc.applet == "finger@" {
						more = []string{""}
					}
					args = append(append([]string{host}, more...), high)
					got := reftest.Run(t, reftest.Ours(t, tc.applet), reftest.Cmd{Args: args, Env: env})
					if !bytes.Equal(got.Stdout, want.Stdout) || len(got.Stderr) != 0 || got.Code != 0 {
						t.Errorf("%q on port %s: %q %q %d, want %q", args, high, got.Stdout, got.Stderr, got.Code, want.Stdout)
					}
				}
			}
		})
	}
}

// TestClientsWithPortsAgainstReference compares the clients whose 0.88
// scripts already take a port.
func TestClientsWithPortsAgainstReference(t *testing.T) {
	env := []string{"PATH=" + os.Getenv("PATH")}
	random := randomLines(rand.New(rand.NewPCG(7, 8)), 300_000)
	httpReply := func(req []byte) []byte {
		return []byte(fmt.Sprintf("HTTP/1.0 200 OK\r\nX-Request: %q\r\n\r\nfirst\r\n\r\n%s\r\nlast, no newline", req, awkward))
	}
	httpPort := fakeServer(t, "127.0.44.11:0", "\r\n\r\n", httpReply)
	headless := fakeServer(t, "127.0.44.11:0", "\r\n\r\n", func([]byte) []byte { return []byte("no blank line\r\nat all") })
	// A server that hangs up without reading what it was sent resets the
	// connection, and what it sent may be lost: http@ gets one that reads.
	randomPort := fakeServer(t, "127.0.44.11:0", "", func([]byte) []byte { return random })
	randomHTTP := fakeServer(t, "127.0.44.11:0", "\r\n\r\n", func([]byte) []byte { return random })
	smtp := smtpServer(t)
	for _, tc := range []struct {
		applet string
		args   []string
		stdin  string
	}{
		{"http@", []string{"127.0.44.11", "", httpPort}, ""},
		{"http@", []string{"127.0.44.11", "index.html", httpPort}, ""},
		{"http@", []string{"127.0.44.11", `a\tb c`, httpPort}, ""},
		{"http@", []string{"127.0.44.11", `stop\chere`, httpPort}, ""},
		{"http@", []string{"127.0.44.11", "x", headless}, ""},
		{"http@", []string{"127.0.44.11", "x", randomHTTP}, ""},
		{"tcpcat", []string{"127.0.44.11", randomPort}, ""},
		{"tcpcat", []string{"127.0.44.11", httpPort}, ""},
		{"mconnect", []string{"127.0.44.11", smtp}, "HELO x\nMAIL FROM:<a@b>\r\nno newline"},
		{"mconnect", []string{"127.0.44.11", smtp}, "HELO x\nQUIT\nafter quit\n"},
		{"mconnect", []string{"127.0.44.11", smtp}, ""},
	} {
		t.Run(tc.applet+" "+strings.Join(tc.args, " "), func(t *testing.T) {
			got := reftest.Compare(t, tc.applet, reftest.Cmd{Args: tc.args, Env: env, Stdin: []byte(tc.stdin)})
			if len(got.Stdout) == 0 && tc.args[2] != headless {
				t.Error("no output")
			}
		})
	}
}

// smtpServer greets, answers each line with what it got, and hangs up after
// QUIT, or when the client has been quiet for a while.
func smtpServer(t *testing.T) string {
	ln := fakeserver.Serve(t, "127.0.44.11:0", func(c net.Conn) {
		c.Write([]byte("220 fake ESMTP\r\n"))
		var line []byte
		b := make([]byte, 1)
		for {
			c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			if n, err := c.Read(b); n == 0 || err != nil {
				c.Write([]byte("421 timeout\r\n"))
				return
			}
			line = append(line, b[0])
			if b[0] != '\n' {
				continue
			}
			fmt.Fprintf(c, "250 got %q\r\n", line)
			if strings.HasPrefix(string(line), "QUIT") {
				c.Write([]byte("221 bye\r\n"))
				// Read what follows, or closing would reset the
				// connection and maybe lose the bye.
				c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				io.Copy(io.Discard, c)
				return
			}
			line = line[:0]
		}
	})
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestMconnectIOAgainstReference runs mconnect-io under tcpclient: Debian's
// pair and ours.
func TestMconnectIOAgainstReference(t *testing.T) {
	refTC, refIO := reftest.Ref(t, "tcpclient"), reftest.Ref(t, "mconnect-io")
	oursTC, oursIO := reftest.Ours(t, "tcpclient"), reftest.Ours(t, "mconnect-io")
	smtp := smtpServer(t)
	stdin := []byte("HELO x\nDATA\n\x00\xff\r\n.\nQUIT\n")
	want := reftest.Run(t, refTC, reftest.Cmd{Args: []string{"-RHl0", "127.0.44.11", smtp, refIO}, Stdin: stdin})
	got := reftest.Run(t, oursTC, reftest.Cmd{Args: []string{"-RHl0", "127.0.44.11", smtp, oursIO}, Stdin: stdin})
	if !bytes.Equal(got.Stdout, want.Stdout) || !bytes.Equal(got.Stderr, want.Stderr) || got.Code != want.Code {
		t.Errorf("got %q %q %d\nwant %q %q %d", got.Stdout, got.Stderr, got.Code, want.Stdout, want.Stderr, want.Code)
	}
	if !strings.Contains(string(got.Stdout), `250 got "\x00\xff\r\r\n"`) {
		t.Errorf("the server did not get the data line:\n%q", got.Stdout)
	}
}

// TestClientFailuresAgainstReference compares what the clients say and how
// they exit when they cannot connect.
func TestClientFailuresAgainstReference(t *testing.T) {
	dns := fakedns.Start(t)
	env := []string{"PATH=" + os.Getenv("PATH"), "DNSCACHEIP=" + dns.IP, "DNSREWRITEFILE=/dev/null"}
	closed := strconv.Itoa(int(clientTestPort(t, "127.0.44.12")))
	for _, args := range [][]string{
		{"who@", "127.0.44.12"},
		{"date@", "127.0.44.12"},
		{"finger@", "127.0.44.12", "joe"},
		{"http@", "127.0.44.12", "x", closed},
		{"http@", "127.0.44.12", "x", "nonexistentport"},
		{"tcpcat", "127.0.44.12", closed},
		{"mconnect", "127.0.44.12", closed},
		{"who@", "nonexistent.test."},
		{"tcpcat", "nonexistent.test.", "1"},
		{"mconnect", "1.2.3", closed},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			reftest.Compare(t, args[0], reftest.Cmd{Args: args[1:], Env: env})
		})
	}
	// With no operands the scripts go to the local host's standard ports;
	// where nothing listens there, compare what they say.
	for _, tc := range []struct{ applet, port string }{
		{"who@", "11"}, {"date@", "13"}, {"finger@", "79"}, {"http@", "80"}, {"tcpcat", "17"}, {"mconnect", "25"},
	} {
		t.Run(tc.applet+" without operands", func(t *testing.T) {
			if c, err := net.DialTimeout("tcp", "127.0.0.1:"+tc.port, time.Second); err == nil {
				c.Close()
				t.Skipf("something listens on 127.0.0.1 port %s", tc.port)
			}
			reftest.Compare(t, tc.applet, reftest.Cmd{Env: env})
		})
	}
}

// TestTcpcatConnectionReset: a read error is cat's message and status.
func TestTcpcatConnectionReset(t *testing.T) {
	ln := fakeserver.Serve(t, "127.0.44.11:0", func(c net.Conn) {
		// Reset once the client has surely seen the connection made.
		time.Sleep(200 * time.Millisecond)
		c.(*net.TCPConn).SetLinger(0)
	})
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	got := reftest.Compare(t, "tcpcat", reftest.Cmd{Args: []string{"127.0.44.11", port}})
	if got.Code != 1 {
		t.Errorf("exit %d, want 1", got.Code)
	}
}

// TestFingerUserAtHost is the user@host form, not in 0.88.
func TestFingerUserAtHost(t *testing.T) {
	port := fakeServer(t, "127.0.44.11:0", "\n", func(req []byte) []byte { return []byte(fmt.Sprintf("asked %q\r\n", req)) })
	var out, errs bytes.Buffer
	code := Lookup("finger@").Main([]string{"joe@127.0.44.11", "", port}, &Stdio{In: strings.NewReader(""), Out: &out, Err: &errs})
	if want := "asked \"joe\\r\\n\"\n"; out.String() != want || errs.Len() != 0 || code != 0 {
		t.Errorf("got %q %q %d, want %q", out.String(), errs.String(), code, want)
	}
}

// TestRoundTrip100MB sends 100 MB through tcpclient ... sh -c 'cat <&6' to a
// server that echoes it, and checks that what comes back is what went.
func TestRoundTrip100MB(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	tcpclient := reftest.Ours(t, "tcpclient")
	const size = 100 << 20
	dir := t.TempDir()
	in, out := dir+"/in", dir+"/out"
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{1}).Read(data)
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	data = nil
	ln, err := net.Listen("tcp", "127.0.44.11:0")
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		// cat, until as much has come back as went.
		io.CopyN(c, c, size)
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	r := reftest.Run(t, tcpclient, reftest.Cmd{
		Args:    []string{"-RHl0", "127.0.44.11", port, "sh", "-c", `cat "$0" >&7 & exec cat <&6 >"$1"`, in, out},
		Timeout: 2 * time.Minute,
	})
	if r.Code != 0 || len(r.Stderr) != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, _ := io.Copy(h, f)
	if n != size || !bytes.Equal(h.Sum(nil), sum[:]) {
		t.Errorf("came back %d bytes, sha256 %x; sent %d, %x", n, h.Sum(nil), size, sum)
	}
}
