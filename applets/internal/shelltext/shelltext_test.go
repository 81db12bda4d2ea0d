package shelltext

import (
	"bytes"
	"math/rand/v2"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// TestCatVAgainstCat renders every byte value with AppendCatV and with the
// system's cat -v.
func TestCatVAgainstCat(t *testing.T) {
	var in []byte
	for c := range 256 {
		in = append(in, 'x', byte(c))
	}
	cmd := exec.Command("cat", "-v")
	cmd.Stdin = bytes.NewReader(in)
	want, err := cmd.Output()
	if err != nil {
		t.Skipf("cat -v: %v", err)
	}
	if got := AppendCatV(nil, in); !bytes.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// TestDashEchoAgainstDash compares DashEcho with what Debian's dash prints
// for echo "$1", which is how the 0.88 scripts build their requests.
func TestDashEchoAgainstDash(t *testing.T) {
	dash, err := exec.LookPath("dash")
	if err != nil {
		t.Skip("no dash")
	}
	cases := []string{"", "joe", "-n", "-e", "-n ", "-nn", "-E", `a\tb`, `a\\tb`, `x\cy`, `\c`, `a\`, `\\`,
		`\0101B`, `\01C`, `\0D`, `\08E`, `\0777F`, `\1G`, `\123`, `\1234`, `\01234`, `\400`, `\8`, `\9`,
		`\a\b\e\f\n\r\t\v\q\x41\u0041\ `, "tab\there", "GET /a\\tb HTTP/1.0\nHost: h:80\n"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = `\0123456789abcenrtvx-`[r.IntN(21)]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		want, err := exec.Command(dash, "-c", `echo "$1"`, "sh", s).Output()
		if err != nil {
			t.Fatal(err)
		}
		if got := DashEcho(s, true); !bytes.Equal(got, want) {
			t.Errorf("echo %q: got %q, want %q", s, got, want)
		}
	}
}

// TestBodyFilterAgainstAwk compares BodyFilter with the awk program of 0.88's
// http@ on random input fed in random pieces.
func TestBodyFilterAgainstAwk(t *testing.T) {
	if _, err := exec.LookPath("awk"); err != nil {
		t.Skip("no awk")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 50 {
		in := make([]byte, r.IntN(300))
		for i := range in {
			in[i] = "ab\r\n\n\x00\x7f\x80\xff \t"[r.IntN(11)]
		}
		cmd := exec.Command("awk", "/^$/ { body=1; next } { if (body) print }")
		cmd.Stdin = bytes.NewReader(in)
		want, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if got := filterInPieces(r, in); !bytes.Equal(got, want) {
			t.Errorf("case %d: input %q\ngot  %q\nwant %q", i, in, got, want)
		}
	}
}

func filterInPieces(r *rand.Rand, in []byte) []byte {
	var b BodyFilter
	var out []byte
	for len(in) > 0 {
		n := 1 + r.IntN(len(in))
		out = b.Append(out, in[:n])
		in = in[n:]
	}
	return b.Finish(out)
}

// FuzzBodyFilter checks that the filter gives the same output however its
// input is cut.
func FuzzBodyFilter(f *testing.F) {
	f.Add([]byte("HTTP/1.0 200 OK\r\n\r\nbody\r\n\r\nx\r"), uint64(1))
	f.Add([]byte("\r\r\n\x00\xff\n\n"), uint64(7))
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		var b BodyFilter
		if want, got := b.Finish(b.Append(nil, in)), filterInPieces(rand.New(rand.NewPCG(seed, seed)), in); !bytes.Equal(got, want) {
			t.Fatalf("body of %q: whole %q, in pieces %q", in, want, got)
		}
	})
}

// failing is an output that takes nothing.
type failing struct{ writes int }

func (f *failing) Write(p []byte) (int, error) { f.writes++; return 0, syscall.ENOSPC }

func TestAwkOutput(t *testing.T) {
	for _, tc := range []struct {
		chunks []int
		want   string
	}{
		{nil, ""},
		{[]int{10}, "awk: close failed on file /dev/stdout (No space left on device)\n"},
		{[]int{4000, 96}, "awk: close failed on file /dev/stdout (No space left on device)\n"},
		{[]int{4000, 97, 5}, "awk: write failure (No space left on device)\nawk: close failed on file /dev/stdout (No space left on device)\n"},
	} {
		f := &failing{}
		a := &AwkOutput{W: f, Size: 4096}
		for _, n := range tc.chunks {
			a.Write(make([]byte, n))
		}
		if got := a.Close(); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.chunks, got, tc.want)
		}
	}
	var b strings.Builder
	a := &AwkOutput{W: &b, Size: 4}
	for _, s := range []string{"ab", "cde", "f", "ghijkl", "m"} {
		a.Write([]byte(s))
	}
	if msg := a.Close(); msg != "" || b.String() != "abcdefghijklm" {
		t.Errorf("wrote %q, said %q", b.String(), msg)
	}
}
