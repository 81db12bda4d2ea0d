package rblsmtpd

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestReply(t *testing.T) {
	long := strings.Repeat("x", 250)
	for _, tc := range []struct {
		v    Verdict
		want string
	}{
		{Verdict{Code: 451, Text: "go away"}, "451 go away"},
		{Verdict{Code: 553, Text: ""}, "553 "},
		{Verdict{Code: 451, Text: "tab\there\r\nnul\x00 del\x7f hi\x80 \xc3\xa9 ~"}, "451 tab?here??nul? del? hi? ?? ~"},
		{Verdict{Code: 553, Text: long}, "553 " + long[:200]},
		{Verdict{Code: 451, Text: long[:199] + "\xff\xff"}, "451 " + long[:199] + "?"},
	} {
		if got := tc.v.Reply(); got != tc.want {
			t.Errorf("%+v: Reply() = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func FuzzReply(f *testing.F) {
	f.Add("listed\r\n", true)
	f.Add(strings.Repeat("\x80", 300), false)
	f.Fuzz(func(t *testing.T, text string, bounce bool) {
		v := Verdict{Block: true, Code: 451, Text: text}
		if bounce {
			v.Code = 553
		}
		r := v.Reply()
		if len(r) != 4+min(len(text), MaxText) || r[:4] != map[bool]string{false: "451 ", true: "553 "}[bounce] {
			t.Fatalf("Reply(%q) = %q", text, r)
		}
		for i := 4; i < len(r); i++ {
			if c := r[i]; c < 32 || c > 126 {
				t.Fatalf("Reply(%q) = %q: byte %d unprintable", text, r, i)
			}
			if c := r[i]; c != '?' && c != text[i-4] {
				t.Fatalf("Reply(%q) = %q: byte %d changed", text, r, i)
			}
		}
	})
}

const reply = "451 go away\r\n"

func TestConverse(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"", Greeting},
		{"QUIT\r\n", Greeting + Goodbye},
		{"quit\n", Greeting + Goodbye},
		{"helo x\r\nEHLO x\r\nMail From:<a@b>\r\nrset\r\nnoop\r\nrcpt to:<c@d>\r\ndata\r\nvrfy x\r\nquit\r\n",
			Greeting + OK + OK + OK + OK + OK + reply + reply + reply + Goodbye},
		// The verb ends at the first space only, and one CR before LF goes.
		{"helo\r\nhelo\tx\r\nhelo\r\r\nhelo  x\r\n helo\r\nhelo\x00\r\nhel\x00o\n", Greeting + OK + reply + reply + OK + reply + reply + reply},
		// Nothing after QUIT is read; a line cut by the end gets no answer.
		{"quit\r\nhelo\r\n", Greeting + Goodbye},
		{"helo x\r\nmail", Greeting + OK},
		{"\r\n\n", Greeting + reply + reply},
		{"helo\r x\r\nnoop\r\r x\n", Greeting + reply + reply},
		{strings.Repeat("h", 100000) + "\r\nquit  \r\n", Greeting + reply + Goodbye},
		{"helo" + strings.Repeat(" ", 5000) + "x\r\nquit" + strings.Repeat("\r", 3) + "\n", Greeting + OK + reply},
	} {
		var out bytes.Buffer
		Converse(strings.NewReader(tc.in), &out, reply, time.Minute)
		if out.String() != tc.want {
			t.Errorf("input %.60q:\n got %q\nwant %q", tc.in, out.String(), tc.want)
		}
	}
}

// model is 0.88's commands() loop as written there (whole lines, no bound),
// against which the bounded reader is checked.
func model(in []byte, reply string) string {
	out := Greeting
	for {
		i := bytes.IndexByte(in, '\n')
		if i < 0 {
			return out
		}
		line := bytes.ReplaceAll(in[:i], []byte{0}, []byte{'\n'})
		in = in[i+1:]
		line = bytes.TrimSuffix(line, []byte{'\r'})
		verb, _, _ := bytes.Cut(line, []byte{' '})
		switch strings.ToLower(string(verb)) {
		case "quit":
			return out + Goodbye
		case "helo", "ehlo", "mail", "rset", "noop":
			out += OK
		default:
			out += reply
		}
	}
}

func FuzzConverse(f *testing.F) {
	f.Add([]byte("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nQUIT\r\n"))
	f.Add([]byte("helo\x00\r\nnoop\r\r\nrset \r\nquiT\n"))
	f.Add([]byte("verylongverb\r\nquit\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		Converse(bytes.NewReader(in), &out, reply, time.Minute)
		if want := model(in, reply); out.String() != want {
			t.Fatalf("input %q:\n got %q\nwant %q", in, out.String(), want)
		}
	})
}

// pipes gives the conversation real pipes: the client's ends are returned.
func pipes(t *testing.T) (toServer *os.File, fromServer *bufio.Reader, serverIn, serverOut *os.File) {
	t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inR.Close(); inW.Close(); outR.Close(); outW.Close() })
	outR.SetReadDeadline(time.Now().Add(10 * time.Second))
	return inW, bufio.NewReader(outR), inR, outW
}

func expect(t *testing.T, r *bufio.Reader, want string) {
	t.Helper()
	line, err := r.ReadString('\n')
	if line != want {
		t.Fatalf("read %q (%v), want %q", line, err, want)
	}
}

// TestConverseAnswersEachLine: a client that waits for each answer before its
// next command gets it; the conversation ends at QUIT with input still unread.
func TestConverseAnswersEachLine(t *testing.T) {
	toServer, fromServer, in, out := pipes(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Converse(in, out, reply, time.Minute)
		out.Close()
	}()
	expect(t, fromServer, Greeting)
	for _, step := range []struct{ send, want string }{
		{"EHLO client.test\r\n", OK},
		{"MAIL FROM:<a@b.test>\r\n", OK},
		{"RCPT TO:<c@d.test>\r\n", reply},
		{"DATA\r\n", reply},
		{"RSET\r\n", OK},
		{"QUIT\r\n", Goodbye},
	} {
		toServer.WriteString(step.send)
		expect(t, fromServer, step.want)
	}
	<-done
	if rest, err := io.ReadAll(fromServer); len(rest) != 0 || err != nil {
		t.Errorf("after QUIT: %q, %v", rest, err)
	}
}

func TestConverseTimeout(t *testing.T) {
	toServer, fromServer, in, out := pipes(t)
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		Converse(in, out, reply, 300*time.Millisecond)
	}()
	expect(t, fromServer, Greeting)
	toServer.WriteString("HELO x\r\n")
	expect(t, fromServer, OK)
	toServer.WriteString("MAIL FROM:<") // and nothing more
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the conversation outlived its timeout")
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("ended after %v, before its timeout", d)
	}
}

// TestRejectAtOnce: -t0 answers with the rejection alone and reads nothing.
func TestRejectAtOnce(t *testing.T) {
	toServer, fromServer, in, out := pipes(t)
	toServer.WriteString("HELO x\r\n")
	Converse(in, out, reply, 0)
	expect(t, fromServer, reply)
	toServer.Close()
	if rest, _ := io.ReadAll(in); string(rest) != "HELO x\r\n" {
		t.Errorf("input left: %q, want all of it", rest)
	}
}
