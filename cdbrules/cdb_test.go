package cdbrules

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	colinmarc "github.com/colinmarc/cdb"

	"github.com/ucspi-go/ucspi/internal/reftest"
)

// hashZeroKeys builds n distinct rules keys "=xxxyyy" whose cdb hash is 0, by
// meeting in the middle: forward from the hash of "=" over three letters,
// backward from 0 over three more (h = (h*33) ^ c undoes as (h ^ c) / 33).
func hashZeroKeys(n int) []string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789.ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	const inv33 uint32 = 0x3e0f83e1 // 33 * inv33 == 1 mod 2^32
	if thirtyThree := uint32(33); thirtyThree*inv33 != 1 {
		panic("inv33")
	}
	forward := map[uint32]string{}
	h0 := Hash([]byte("="))
	for _, a := range alphabet {
		for _, b := range alphabet {
			for _, c := range alphabet {
				h := h0
				for _, x := range []rune{a, b, c} {
					h = (h + h<<5) ^ uint32(x)
				}
				forward[h] = string([]rune{a, b, c})
			}
		}
	}
	var keys []string
	for _, c := range alphabet {
		for _, b := range alphabet {
			for _, a := range alphabet {
				// The last three letters are a, b, c: undo c, then b, then a.
				h := uint32(0)
				for _, x := range []rune{c, b, a} {
					h = (h ^ uint32(x)) * inv33
				}
				if front, ok := forward[h]; ok {
					keys = append(keys, "="+front+string([]rune{a, b, c}))
					if len(keys) == n {
						return keys
					}
				}
			}
		}
	}
	panic("not enough keys")
}

// The trap in the issue: a key whose hash is 0. djb's cdb_make takes a slot as
// empty when its position is 0; colinmarc/cdb's writer when its hash is 0, so
// it overwrites a hash-0 key with the next key probing into that slot (and its
// reader stops at one). Ours writes Debian's bytes, and both tcprulescheck
// programs find every key.
func TestHashZeroKeys(t *testing.T) {
	keys := hashZeroKeys(3)
	var rules strings.Builder
	for i, k := range keys {
		if Hash([]byte(k)) != 0 {
			t.Fatalf("%q hashes to %#x", k, Hash([]byte(k)))
		}
		fmt.Fprintf(&rules, "%s:allow,N=/%d/\n", k, i)
	}
	rules.WriteString(":deny\n")
	ours := compileOurs(t, []byte(rules.String()))

	// Every key is found in our file by our reader.
	r := New(ours)
	for i, k := range keys {
		data, found, err := r.r.Find([]byte(k))
		if err != nil || !found || string(data) != fmt.Sprintf("+N=%d\x00", i) {
			t.Errorf("our reader: %q: %q %v %v", k, data, found, err)
		}
	}

	// colinmarc/cdb's writer loses them: this is why we write our own.
	var buf seekBuffer
	w, err := colinmarc.NewWriter(&buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		w.Put([]byte(k), []byte(fmt.Sprintf("+N=%d\x00", i)))
	}
	w.Put(nil, []byte("D\x00"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(buf.b, ours) {
		t.Error("colinmarc/cdb wrote the same bytes: the trap did not trigger")
	}
	if data, _, _ := New(buf.b).r.Find([]byte(keys[0])); data != nil {
		t.Errorf("colinmarc/cdb kept the first hash-0 key (%q): the trap did not trigger", data)
	}

	ref := reftest.Ref(t, "tcprules")
	sameBytes(t, "hash-0 keys", compileRef(t, ref, []byte(rules.String())), ours)
	check := reftest.Ref(t, "tcprulescheck")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "o.cdb"), ours, 0644)
	for i, k := range keys {
		res := reftest.Run(t, check, reftest.Cmd{Args: []string{"o.cdb"}, Dir: dir, Env: []string{"TCPREMOTEIP=1.2.3.4", "TCPREMOTEHOST=" + k[1:]}})
		if want := fmt.Sprintf("rule %s:\nset environment variable N=%d\nallow connection\n", k, i); string(res.Stdout) != want {
			t.Errorf("reference tcprulescheck on our file: %q, want %q", res.Stdout, want)
		}
	}
}

// For keys that hash to anything but 0, colinmarc/cdb's writer and djb's agree:
// an independent check of our writer, and of our reader against its reader.
func TestWriterAgreesWithColinmarc(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for round := 0; round < 20; round++ {
		var ours, theirs seekBuffer
		w, err := NewWriter(&ours)
		if err != nil {
			t.Fatal(err)
		}
		cw, err := colinmarc.NewWriter(&theirs, nil)
		if err != nil {
			t.Fatal(err)
		}
		var keys [][]byte
		for i := r.IntN(3000); i > 0; i-- {
			k := make([]byte, r.IntN(12))
			for j := range k {
				k[j] = byte(r.IntN(256))
			}
			if Hash(k) == 0 {
				continue
			}
			v := []byte(fmt.Sprint(i))
			keys = append(keys, k)
			if err := w.Add(k, v); err != nil {
				t.Fatal(err)
			}
			if err := cw.Put(k, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Finish(); err != nil {
			t.Fatal(err)
		}
		if err := cw.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours.b, theirs.b) {
			t.Fatalf("round %d: %d keys: writers differ", round, len(keys))
		}
		db, err := colinmarc.New(bytes.NewReader(ours.b), nil)
		if err != nil {
			t.Fatal(err)
		}
		our := New(ours.b)
		for _, k := range keys {
			want, _ := db.Get(k)
			got, found, err := our.r.Find(k)
			if err != nil || !found || !bytes.Equal(got, want) {
				t.Fatalf("key %q: ours %q %v %v, colinmarc %q", k, got, found, err, want)
			}
		}
	}
}

// seekBuffer is an in-memory io.WriteSeeker.
type seekBuffer struct {
	b   []byte
	off int
}

func (s *seekBuffer) Write(p []byte) (int, error) {
	if need := s.off + len(p); need > len(s.b) {
		s.b = append(s.b, make([]byte, need-len(s.b))...)
	}
	copy(s.b[s.off:], p)
	s.off += len(p)
	return len(p), nil
}

func (s *seekBuffer) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		s.off = int(off)
	case io.SeekCurrent:
		s.off += int(off)
	case io.SeekEnd:
		s.off = len(s.b) + int(off)
	}
	return int64(s.off), nil
}

// A write error shows up when the buffer fills, as in 0.88 (whose buffer is
// an eighth the size).
func TestWriterErrorWhenBufferFills(t *testing.T) {
	f := &failingWriter{limit: 2048 + bufferSize}
	w, err := NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte("k"), 100)
	added := 0
	for ; added < 10000; added++ {
		if err := w.Add(key, nil); err != nil {
			break
		}
	}
	// 108-byte records: the second flush is the first to fail, in the record
	// that fills the buffer a second time.
	if want := 2 * bufferSize / 108; added != want {
		t.Errorf("failed after %d records, want %d", added, want)
	}
}

type failingWriter struct {
	seekBuffer
	limit int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.off+len(p) > f.limit {
		return 0, io.ErrShortWrite
	}
	return f.seekBuffer.Write(p)
}
