package crlf

import (
	"crypto/sha256"
	"math/rand"
	"testing"

	"github.com/ucspi-go/ucspi/internal/reftest"
)

func TestMain(m *testing.M) { reftest.Main(m) }

// TestAgainstReference runs our addcr and delcr and Debian's on the edge cases
// of rts.tests and a few more, comparing output and exit status.
func TestAgainstReference(t *testing.T) {
	inputs := []string{
		"",                    // empty input
		"test",                // partial final line
		"test\n",              // one line
		"test\ntest2\n",       // two lines
		"t\x00st\n",           // NULs
		"test\r\n",            // a CR line
		"test\r\r\n",          // CR CR LF
		"test\r",              // partial final line ending in CR
		"\r\r\r\n\r\n\n\r",    // runs of CRs
		"a\rb\r\nc\x00\r\x00", // CR before other bytes
		"line\r\nline\nline\r\r\nbin\xff\xfe\x00\r",
	}
	for _, name := range []string{"addcr", "delcr"} {
		for _, in := range inputs {
			reftest.Compare(t, name, reftest.Cmd{Stdin: []byte(in)})
		}
		// 0.88 takes no options: arguments, even odd ones, are ignored.
		reftest.Compare(t, name, reftest.Cmd{Args: []string{"-z", "--help", "x"}, Stdin: []byte("a\r\nb\n")})
	}
}

// TestReferenceFailures compares what happens when input cannot be read or
// output cannot be written. (A closed descriptor 1 is not among them: Go's
// runtime opens /dev/null in its place before main runs.)
func TestReferenceFailures(t *testing.T) {
	for _, name := range []string{"addcr", "delcr"} {
		for _, script := range []string{
			`exec "$0" < /`,                 // reading a directory fails
			`echo hello | "$0" > /dev/full`, // writing fails
			`{ "$0" < /dev/zero; echo "status $?" >&2; } | head -c 1`, // a reader that goes away: SIGPIPE
		} {
			ref, ours := reftest.Ref(t, name), reftest.Ours(t, name)
			want := reftest.Run(t, "/bin/sh", reftest.Cmd{Args: []string{"-c", script, ref}})
			got := reftest.Run(t, "/bin/sh", reftest.Cmd{Args: []string{"-c", script, ours}})
			if string(want.Stdout) != string(got.Stdout) || string(want.Stderr) != string(got.Stderr) || want.Code != got.Code {
				t.Errorf("%s: %s: reference %q %q %d, ours %q %q %d", name, script,
					want.Stdout, want.Stderr, want.Code, got.Stdout, got.Stderr, got.Code)
			}
		}
	}
}

// TestReferenceRandom compares 10 MB of random bytes, rich in CRs and LFs, by
// their SHA-256.
func TestReferenceRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(10))
	in := make([]byte, 10<<20)
	rng.Read(in)
	for i := 0; i < len(in); i += 1 + rng.Intn(40) {
		in[i] = "\r\n"[rng.Intn(2)]
	}
	for _, name := range []string{"addcr", "delcr"} {
		c := reftest.Cmd{Stdin: in}
		want := reftest.Run(t, reftest.Ref(t, name), c)
		got := reftest.Run(t, reftest.Ours(t, name), c)
		if sha256.Sum256(want.Stdout) != sha256.Sum256(got.Stdout) || want.Code != got.Code {
			t.Errorf("%s on 10 MB of random bytes: reference %d bytes sha256 %x exit %d, ours %d bytes sha256 %x exit %d",
				name, len(want.Stdout), sha256.Sum256(want.Stdout), want.Code, len(got.Stdout), sha256.Sum256(got.Stdout), got.Code)
		}
	}
}
