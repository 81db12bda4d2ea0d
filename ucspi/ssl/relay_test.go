package ssl

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/internal/certs"
)

// pipeRig is one relayed connection: a Go TLS client, the server's side
// through a Pipe, and the program's end of the socketpair as a plain file.
type pipeRig struct {
	client *tls.Conn
	prog   *os.File // the program's end
	pipe   *Pipe
	done   chan struct{} // closed when Run has returned and closed up
}

func newPipeRig(t *testing.T, setup func(*Pipe)) *pipeRig {
	t.Helper()
	dir := t.TempDir()
	ca := certs.NewAuthority(t, dir, "ca")
	c := ca.Issue(t, dir, "server", certs.Spec{})
	pair, err := LoadPair(c.CertFile, c.KeyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan *os.File, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		f, _ := c.(*net.TCPConn).File()
		c.Close()
		accepted <- f
	}()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	client := tls.Client(raw, &tls.Config{RootCAs: roots, ServerName: "localhost"})
	t.Cleanup(func() { client.Close() })
	f := <-accepted
	if f == nil {
		t.Fatal("accept failed")
	}
	fd, _ := syscall.Dup(int(f.Fd()))
	f.Close()
	sock, err := NewConn(fd, netip.AddrPort{}, netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	server := tls.Server(sock, &tls.Config{Certificates: []tls.Certificate{*pair}})
	hs := make(chan error, 1)
	go func() { hs <- server.Handshake() }()
	client.SetDeadline(time.Now().Add(10 * time.Second))
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-hs; err != nil {
		t.Fatal(err)
	}
	ours, theirs, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	r := &pipeRig{client: client, prog: os.NewFile(uintptr(theirs), "theirs"), done: make(chan struct{})}
	t.Cleanup(func() { r.prog.Close() })
	r.pipe = &Pipe{Net: server, Sock: sock, Prog: ours}
	if setup != nil {
		setup(r.pipe)
	}
	go func() {
		r.pipe.Run()
		server.Close()
		ours.Close()
		close(r.done)
	}()
	return r
}

// finished waits (at most 10 s) for the pipe to end.
func (r *pipeRig) finished(t *testing.T, what string) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the pipe did not end", what)
	}
}

func TestPipePassesEachEndOn(t *testing.T) {
	r := newPipeRig(t, nil)
	r.prog.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(r.client, "question")
	r.client.CloseWrite() // close_notify
	got, err := io.ReadAll(r.prog)
	if err != nil || string(got) != "question" {
		t.Fatalf("program read %q, %v; want the question, then the end", got, err)
	}
	// The program answers after the end of its input, then ends its output.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	written := make(chan struct{})
	go func() {
		defer close(written)
		r.prog.Write(big)
		syscall.Shutdown(int(r.prog.Fd()), syscall.SHUT_WR)
	}()
	defer func() { <-written }()
	answer, err := io.ReadAll(r.client)
	if err != nil || !bytes.Equal(answer, big) {
		t.Fatalf("client read %d bytes, %v; want %d and close_notify", len(answer), err, len(big))
	}
	r.finished(t, "both ends passed on")
}

func TestPipeEndsWhenTheProgramLetsGo(t *testing.T) {
	r := newPipeRig(t, nil)
	io.WriteString(r.prog, "bye")
	r.prog.Close() // the program exits; the client says nothing more
	r.client.SetDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(r.client)
	if err != nil || string(got) != "bye" {
		t.Fatalf("client read %q, %v", got, err)
	}
	r.finished(t, "program gone, client silent")
}

func TestPipeHalfClosedProgramStillReads(t *testing.T) {
	r := newPipeRig(t, nil)
	syscall.Shutdown(int(r.prog.Fd()), syscall.SHUT_WR) // no output, input still wanted
	r.client.SetDeadline(time.Now().Add(10 * time.Second))
	if got, err := io.ReadAll(r.client); err != nil || len(got) != 0 {
		t.Fatalf("client read %q, %v; want the end at once", got, err)
	}
	io.WriteString(r.client, "late")
	r.client.CloseWrite()
	r.prog.SetDeadline(time.Now().Add(10 * time.Second))
	if got, err := io.ReadAll(r.prog); err != nil || string(got) != "late" {
		t.Fatalf("program read %q, %v", got, err)
	}
	r.finished(t, "both ends")
}

func TestPipeIdle(t *testing.T) {
	r := newPipeRig(t, func(p *Pipe) { p.Idle = 300 * time.Millisecond })
	// Traffic one way keeps the other direction's silence from counting.
	for range 4 {
		time.Sleep(150 * time.Millisecond)
		io.WriteString(r.client, "x")
	}
	select {
	case <-r.done:
		t.Fatal("the pipe ended while the client was sending")
	default:
	}
	start := time.Now()
	r.finished(t, "silence")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("ended %v after the silence began", d)
	}
	r.client.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(r.client); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Error("the client was not let go")
	}
}

func TestPipeClientGone(t *testing.T) {
	r := newPipeRig(t, nil)
	r.client.NetConn().(*net.TCPConn).SetLinger(0)
	r.client.NetConn().Close() // a reset, no close_notify
	// The program's writes fail once the pipe knows.
	r.prog.SetWriteDeadline(time.Now().Add(10 * time.Second))
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		_, err = r.prog.Write(make([]byte, 4096))
	}
	if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("program's write after the client vanished: %v, want EPIPE or ECONNRESET", err)
	}
	r.finished(t, "client reset")
}

func TestPipeRecoversAPanic(t *testing.T) {
	var recovered atomic.Value
	r := newPipeRig(t, func(p *Pipe) {
		p.Fault = func(b []byte) {
			if bytes.Contains(b, []byte("PANIC")) {
				panic("injected")
			}
		}
		p.OnPanic = func(v any) { recovered.Store(v) }
	})
	io.WriteString(r.client, "PANIC")
	r.finished(t, "a panic")
	if v := recovered.Load(); v != "injected" {
		t.Errorf("OnPanic got %v", v)
	}
}

func TestControl(t *testing.T) {
	ours, theirs, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	prog := os.NewFile(uintptr(theirs), "ctl")
	if Pending(ours) {
		t.Error("Pending with nothing written")
	}
	prog.Write([]byte("Y"))
	deadline := time.Now().Add(5 * time.Second)
	for !Pending(ours) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	var seen atomic.Bool
	if cmd, err := Command(ours, &seen); cmd != 'Y' || err != nil || !seen.Load() {
		t.Errorf("Command = %q, %v, seen %v", cmd, err, seen.Load())
	}
	if Pending(ours) {
		t.Error("Pending after the command was taken")
	}
	prog.Close()
	seen.Store(false)
	if _, err := Command(ours, &seen); err != io.EOF || seen.Load() {
		t.Errorf("Command at the end: %v, seen %v", err, seen.Load())
	}
	if got := string(AppendEnv(nil, []string{"A=1", "B="})); got != "A=1\x00B=\x00\x00" {
		t.Errorf("AppendEnv: %q", got)
	}
}

func TestDrain(t *testing.T) {
	ours, theirs, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	prog := os.NewFile(uintptr(theirs), "plain")
	defer prog.Close()
	prog.Write([]byte("220 ready\r\n"))
	var got strings.Builder
	if err := Drain(ours, &got); err != nil || got.String() != "220 ready\r\n" {
		t.Errorf("Drain: %q, %v", got.String(), err)
	}
	got.Reset()
	if err := Drain(ours, &got); err != nil || got.Len() != 0 {
		t.Errorf("Drain of nothing waited or read: %q, %v", got.String(), err)
	}
}

func TestPlainStopsBeforeAHandshake(t *testing.T) {
	for in, want := range map[string]int{
		"EHLO x\r\n":                  -1,
		"\x16\x03\x01\x02\x00":        0,
		"RCPT TO:<x>\r\n\x16\x03\x01": 13,
		"a\x16":                       1,
		"a\x16\x03":                   1,
		"a\x16\x05":                   -1,
		"a\x16\x03\x09":               -1,
	} {
		if got := recordAhead([]byte(in)); got != want {
			t.Errorf("recordAhead(%q) = %d, want %d", in, got, want)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, _ := ln.Accept()
	f, _ := server.(*net.TCPConn).File()
	server.Close()
	fd, _ := syscall.Dup(int(f.Fd()))
	f.Close()
	conn, err := NewConn(fd, netip.AddrPort{}, netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(client, "STARTTLS\r\n\x16\x03\x01hello")
	plain := Plain{conn}
	buf := make([]byte, 100)
	var text []byte
	for {
		n, err := plain.Read(buf)
		text = append(text, buf[:n]...)
		if err == ErrTLSAhead {
			break
		}
		if err != nil {
			t.Fatalf("after %q: %v", text, err)
		}
	}
	if string(text) != "STARTTLS\r\n" {
		t.Errorf("clear text %q", text)
	}
	if n, err := conn.Read(buf); string(buf[:n]) != "\x16\x03\x01hello" || err != nil {
		t.Errorf("left for the handshake: %q, %v", buf[:n], err)
	}
}

func FuzzRecordAhead(f *testing.F) {
	f.Add([]byte("RCPT TO:<x>\r\n\x16\x03\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		i := recordAhead(b)
		if i < -1 || i >= len(b) || i >= 0 && b[i] != 0x16 {
			t.Fatalf("recordAhead(%q) = %d", b, i)
		}
		for j := 0; j+2 < len(b) && (i < 0 || j < i); j++ {
			if b[j] == 0x16 && b[j+1] == 0x03 && b[j+2] <= 4 {
				t.Fatalf("recordAhead(%q) = %d, missing the header at %d", b, i, j)
			}
		}
	})
}
