package crlf

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"testing"
	"testing/iotest"
)

// The models are 0.88's byte-at-a-time loops, written as plainly as possible:
// the fast code must agree with them on every input, however it is cut up.

func modelAddCR(in []byte) []byte {
	var out []byte
	for _, c := range in {
		if c == '\n' {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

func modelDelCR(in []byte) []byte {
	var out []byte
	held := false
	for _, c := range in {
		if !held {
			if c == '\r' {
				held = true
				continue
			}
			out = append(out, c)
			continue
		}
		if c != '\n' {
			out = append(out, '\r')
			if c == '\r' {
				continue
			}
		}
		held = false
		out = append(out, c)
	}
	if held {
		out = append(out, '\r')
	}
	return out
}

func modelFix(in []byte) []byte {
	var out []byte
	afterCR := false
	for _, c := range in {
		if c == '\n' && !afterCR {
			out = append(out, '\r')
		}
		out = append(out, c)
		afterCR = c == '\r'
	}
	return out
}

// chunkReader hands out its data in pieces whose sizes come from cuts, so that
// CRs and LFs land on every kind of boundary.
type chunkReader struct {
	data []byte
	cuts []byte
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := len(r.data)
	if len(r.cuts) > 0 {
		n = int(r.cuts[0])%7 + 1
		r.cuts = r.cuts[1:]
	}
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

var cases = []string{
	"",
	"\n",
	"\r",
	"\r\n",
	"\r\r\n",
	"\r\r\r\n\n",
	"test",
	"test\n",
	"test\ntest2\n",
	"t\x00st\n",
	"test\r",
	"test\r\n",
	"test\r\r\n",
	"a\rb\r\nc\n\rd\r",
	"\n\n\r\r",
	"line one\r\nline two\nline three\r\r\nend\r",
}

func TestAgainstModels(t *testing.T) {
	for _, c := range cases {
		in := []byte(c)
		check(t, in, nil)
		check(t, in, []byte{0})
		check(t, in, []byte{1, 2, 3, 4, 5, 6})
	}
}

func TestRandomBinary(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for range 200 {
		in := make([]byte, rng.Intn(3000))
		for i := range in {
			// Mostly CRs and LFs, so that every pairing turns up.
			switch rng.Intn(4) {
			case 0:
				in[i] = '\r'
			case 1:
				in[i] = '\n'
			default:
				in[i] = byte(rng.Intn(256))
			}
		}
		cuts := make([]byte, rng.Intn(200))
		rng.Read(cuts)
		check(t, in, cuts)
	}
}

// check runs every conversion over in, read in pieces cut by cuts, and compares
// it with its model.
func check(t *testing.T, in, cuts []byte) {
	t.Helper()
	type conv struct {
		name  string
		run   func(io.Writer, io.Reader) (int64, error)
		model func([]byte) []byte
	}
	for _, c := range []conv{
		{"AddCR", AddCR, modelAddCR},
		{"DelCR", DelCR, modelDelCR},
		{"Fixer", fixCopy, modelFix},
	} {
		var out bytes.Buffer
		n, err := c.run(&out, &chunkReader{data: in, cuts: cuts})
		want := c.model(in)
		if err != nil || n != int64(len(want)) || !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("%s(%q) cut by %v = %q, %d, %v; want %q", c.name, in, cuts, out.Bytes(), n, err, want)
		}
	}
}

func fixCopy(dst io.Writer, src io.Reader) (int64, error) {
	var f Fixer
	return copyVia(dst, src, 2*bufSize, f.Append, nil)
}

// TestLargeStream crosses many buffer boundaries with a long input.
func TestLargeStream(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	in := make([]byte, 3*bufSize+17)
	rng.Read(in)
	for i := bufSize - 1; i < len(in); i += bufSize {
		in[i] = '\r' // a CR on each read boundary, then an LF, a CR or other
		in[i+1] = "\n\rx"[i%3]
	}
	check(t, in, nil)
	var out bytes.Buffer
	if _, err := DelCR(&out, iotest.HalfReader(bytes.NewReader(in))); err != nil || !bytes.Equal(out.Bytes(), modelDelCR(in)) {
		t.Fatalf("DelCR through HalfReader differs from the model (err %v)", err)
	}
}

// stepReader checks, before handing out each piece, that everything converted
// from the previous pieces has already been written.
type stepReader struct {
	t      *testing.T
	pieces []string
	out    *bytes.Buffer
	want   []string
}

func (r *stepReader) Read(p []byte) (int, error) {
	if len(r.want) > 0 && r.out.String() != r.want[0] {
		r.t.Fatalf("before the next read the output is %q, want %q", r.out.String(), r.want[0])
	}
	if len(r.want) > 0 {
		r.want = r.want[1:]
	}
	if len(r.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.pieces[0])
	r.pieces = r.pieces[1:]
	return n, nil
}

func TestWritesBeforeReadingAgain(t *testing.T) {
	var out bytes.Buffer
	r := &stepReader{t: t, pieces: []string{"a\n", "b", "c\r", "\n"}, out: &out,
		want: []string{"", "a\r\n", "a\r\nb", "a\r\nbc\r", "a\r\nbc\r\r\n"}}
	if _, err := AddCR(&out, r); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	r = &stepReader{t: t, pieces: []string{"a\r\n", "b\r", "\n", "c\r"}, out: &out,
		want: []string{"", "a\n", "a\nb", "a\nb\n", "a\nb\nc"}}
	if _, err := DelCR(&out, r); err != nil {
		t.Fatal(err)
	}
	if out.String() != "a\nb\nc\r" {
		t.Fatalf("DelCR wrote %q, want the final CR kept", out.String())
	}
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after <= 0 {
		return 0, errors.New("disk full")
	}
	w.after--
	return len(p), nil
}

func TestErrors(t *testing.T) {
	readErr := errors.New("read failed")
	n, err := AddCR(io.Discard, io.MultiReader(bytes.NewReader([]byte("x\n")), iotest.ErrReader(readErr)))
	if err != readErr || n != 3 {
		t.Fatalf("AddCR with a failing reader: %d, %v; want 3, %v", n, err, readErr)
	}
	n, err = DelCR(&failWriter{after: 1}, iotest.OneByteReader(bytes.NewReader([]byte("ab"))))
	if err == nil || n != 1 {
		t.Fatalf("DelCR with a failing writer: %d, %v; want 1 and the error", n, err)
	}
	// The held CR is written at the end, and its failure reported.
	_, err = DelCR(&failWriter{after: 1}, iotest.OneByteReader(bytes.NewReader([]byte("a\r"))))
	if err == nil {
		t.Fatal("DelCR did not report the failed write of the final CR")
	}
}

// FuzzConvert checks AddCR, DelCR and the Fixer against the models on any input
// cut into any pieces.
func FuzzConvert(f *testing.F) {
	for _, c := range cases {
		f.Add([]byte(c), []byte{3, 1, 4, 1, 5})
	}
	f.Fuzz(func(t *testing.T, in, cuts []byte) {
		check(t, in, cuts)
		check(t, in, nil)
	})
}

// benchInput is mixed text: LF lines, CR LF lines, CR CR LF, and some binary.
func benchInput(size int) []byte {
	rng := rand.New(rand.NewSource(3))
	var b bytes.Buffer
	words := []string{"From: someone@example.com", "Subject: hello", "RCPT TO:<x@y>", "250 ok", "the quick brown fox jumps over the lazy dog"}
	for b.Len() < size {
		switch rng.Intn(10) {
		case 0:
			bin := make([]byte, 200)
			rng.Read(bin)
			b.Write(bin)
		case 1, 2, 3:
			b.WriteString(words[rng.Intn(len(words))] + "\r\n")
		case 4:
			b.WriteString(words[rng.Intn(len(words))] + "\r\r\n")
		default:
			b.WriteString(words[rng.Intn(len(words))] + "\n")
		}
	}
	return b.Bytes()[:size]
}

// repeatReader yields its chunk over and over, n bytes in all: a gigabyte of
// input in a megabyte of memory.
type repeatReader struct {
	chunk []byte
	off   int
	n     int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	k := copy(p, r.chunk[r.off:])
	r.off = (r.off + k) % len(r.chunk)
	r.n -= int64(k)
	return k, nil
}

// benchCopy converts 1 GB per iteration, as the bar for addcr and delcr asks;
// scripts/bench-stream.sh measures the programs against Debian's on a file.
func benchCopy(b *testing.B, conv func(io.Writer, io.Reader) (int64, error)) {
	const size = 1 << 30
	chunk := benchInput(1 << 20)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := conv(io.Discard, &repeatReader{chunk: chunk, n: size}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAddCR(b *testing.B) { benchCopy(b, AddCR) }
func BenchmarkDelCR(b *testing.B) { benchCopy(b, DelCR) }
