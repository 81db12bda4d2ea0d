package cdb

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	colinmarc "github.com/colinmarc/cdb"
)

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
		our := NewReader(ours.b)
		for _, k := range keys {
			want, _ := db.Get(k)
			got, found, err := our.Find(k)
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
