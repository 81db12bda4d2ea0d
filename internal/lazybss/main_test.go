package main

import (
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ucspi-go/ucspi/internal/reftest"
)

// TestLayout: make's binary, as lazybss leaves it: the kernel maps a few
// pages of text and the data segment, the table holds the rest; a second run
// changes nothing.
func TestLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "ucspi")
			if err := reftest.Make("bin/ucspi", "BIN="+bin, "GOARCH="+arch); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			ef, err := elf.NewFile(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			var ro uint64
			for _, p := range ef.Progs {
				if p.Type == elf.PT_LOAD && p.Flags&elf.PF_W == 0 {
					ro += p.Memsz
				}
			}
			// The header page and the window, of the segments' alignment
			// (arm64: 64 kB).
			if ro > 2*64<<10 {
				t.Errorf("the kernel maps %d bytes of text and read-only data", ro)
			}
			at := bytes.Index(b, magic)
			table := b[at : at+tableSize]
			if n := le.Uint64(table[countAt:]); n != 2 {
				t.Errorf("%d segments in the table, want text and read-only data", n)
			}
			text := table[segmentsAt:]
			if e := ef.Entry; e < le.Uint64(text) || e >= le.Uint64(text)+le.Uint64(text[16:]) || le.Uint64(text[24:]) != 5 {
				t.Errorf("the first segment (%x) is not the text with the entry point %#x", text[:segmentSize], e)
			}
			if off := le.Uint64(table[nonceOffAt:]); !bytes.Equal(b[off:off+16], table[nonceAt:nonceAt+16]) || bytes.Equal(table[nonceAt:nonceAt+16], make([]byte, 16)) {
				t.Errorf("the nonce's offset %#x does not hold it", off)
			}
			again := bytes.Clone(b)
			if err := lazy(again); err != nil || !bytes.Equal(again, b) {
				t.Errorf("a second run: %v, changed: %v", err, !bytes.Equal(again, b))
			}
		})
	}
}

// TestWithoutStub: a binary without the stub's table is refused.
func TestWithoutStub(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "ucspi")
	if err := reftest.Make("bin/ucspi", "BIN="+bin, "ENTRY="); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := lazy(b); err == nil || !strings.Contains(err.Error(), "no _rt0_ucspi_table") {
		t.Errorf("lazy: %v", err)
	}
}

// TestNonce: the nonce is the hash of the file, so the same build gets the
// same one, and another build another.
func TestNonce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	nonce := func(version string) []byte {
		bin := filepath.Join(t.TempDir(), "ucspi")
		if err := reftest.Make("static", "STATIC="+bin, "VERSION="+version); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		at := bytes.Index(b, magic) + nonceAt
		return b[at : at+16]
	}
	a, a2, other := nonce("test-a"), nonce("test-a"), nonce("test-b")
	if !bytes.Equal(a, a2) || bytes.Equal(a, other) {
		t.Errorf("nonces %x, %x (the same build), %x (another)", a, a2, other)
	}
}
