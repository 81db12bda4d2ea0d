// Command lazybss FILE makes the kernel map, at exec, as little of FILE as the
// entry stub of ucspi/startup needs to run, and leaves the rest to the stub,
// which maps it once it has raised the address space and data limits
// (docs/process.md). The kernel checks every segment it maps at exec against
// the soft limits softlimit sets, and a Go binary is large:
//
//   - the BSS: crypto/tls brings crypto/internal/fips140/drbg's 32 MB scratch
//     buffer, which costs nothing resident but counts against the address
//     space and data limits. The writable segment's memory size is cut to the
//     end of the page its file contents end in (the kernel zeroes that page's
//     tail); the stub maps the rest of the BSS, anonymous.
//   - the text and read-only data (6 MB): their two PT_LOADs become one for
//     the page holding the ELF and program headers and one for the window of
//     text from the page of the entry point (the stub) through the stub's
//     table, _rt0_ucspi_table, found by the magic it starts with. The table
//     gets the original segments and a nonce (a hash of the file), and the
//     stub maps them from its own file, MAP_FIXED over the window, once it
//     has checked that the file is the one the kernel executed.
//
// So `softlimit -m 2000000 tcpserver ...` starts, where the kernel used to
// kill the exec with SIGSEGV. make runs this on every binary it links with
// the stub, and only those: without the stub nothing would map the rest.
//
// FILE is written anew, in one write(2) to a new file renamed over it (see
// write).
package main

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "lazybss: usage: lazybss file")
		os.Exit(100)
	}
	name := os.Args[1]
	b, err := os.ReadFile(name)
	if err == nil {
		err = lazy(b)
	}
	if err == nil {
		err = write(name, b)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "lazybss: fatal: %s: %v\n", name, err)
		os.Exit(111)
	}
}

// The table the stub reserves (_rt0_ucspi_table in ucspi/startup/entry_*.s):
// the magic, then, little-endian 64-bit words filled in here, the nonce (two
// words), the file offset of the nonce, the number of segments, and
// maxSegments segments of four words: address, file offset, file size, and
// protection (PROT_*).
var magic = []byte{0x75, 0x63, 0x73, 0x70, 0x69, 0x2d, 0x69, 0x6d, 0x61, 0x67, 0x65, 0xc3, 0x9e, 0x51, 0x07, 0xa4}

const (
	nonceAt     = 16
	nonceOffAt  = 32
	countAt     = 40
	segmentsAt  = 48
	segmentSize = 32
	maxSegments = 4
	tableSize   = segmentsAt + maxSegments*segmentSize

	// How far past the entry point the table may be: the stub's code is a
	// few kilobytes.
	window = 64 << 10
)

// Elf64_Phdr: p_type, p_flags (4 bytes each), then p_offset, p_vaddr,
// p_paddr, p_filesz, p_memsz, p_align (8 each).
type phdr = elf.Prog64

// lazy rewrites the program headers and fills the stub's table, in b.
func lazy(b []byte) error {
	ef, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer ef.Close()
	if ef.Class != elf.ELFCLASS64 || ef.Data != elf.ELFDATA2LSB || ef.Type != elf.ET_EXEC {
		return errors.New("not a little-endian 64-bit executable")
	}
	var hdr elf.Header64
	if _, err := binary.Decode(b, binary.LittleEndian, &hdr); err != nil {
		return err
	}
	if hdr.Phentsize != uint16(binary.Size(phdr{})) {
		return fmt.Errorf("program headers of %d bytes", hdr.Phentsize)
	}
	progs := make([]phdr, hdr.Phnum)
	at := b[hdr.Phoff:]
	if _, err := binary.Decode(at, binary.LittleEndian, progs); err != nil {
		return err
	}
	if err := cutBSS(progs); err != nil {
		return err
	}
	if err := split(b, &hdr, progs, ef); err != nil {
		return err
	}
	_, err = binary.Encode(at, binary.LittleEndian, progs)
	return err
}

// cutBSS cuts the writable segment's memory size to the end of the page its
// file contents end in. The largest page size a kernel we run on may have
// (arm64: 64 kB) would only map more; the stub maps from wherever the kernel
// stopped.
func cutBSS(progs []phdr) error {
	page := uint64(os.Getpagesize())
	for i := range progs {
		p := &progs[i]
		if elf.ProgType(p.Type) != elf.PT_LOAD || elf.ProgFlag(p.Flags)&elf.PF_W == 0 {
			continue
		}
		end := (p.Vaddr + p.Filesz + page - 1) &^ (page - 1)
		p.Memsz = min(p.Memsz, max(end-p.Vaddr, p.Filesz))
		return nil
	}
	return errors.New("no writable segment")
}

// split replaces the read-only segments (text, rodata) by the header page and
// the stub's window, and records them in the stub's table, with the nonce.
func split(b []byte, hdr *elf.Header64, progs []phdr, ef *elf.File) error {
	// The segments the kernel maps at exec today, in order: the read-only
	// ones, then the writable one.
	var ro []int
	rw := -1
	for i, p := range progs {
		if elf.ProgType(p.Type) != elf.PT_LOAD {
			continue
		}
		if elf.ProgFlag(p.Flags)&elf.PF_W != 0 {
			rw = i
			continue
		}
		if rw >= 0 {
			return errors.New("a read-only segment after the writable one")
		}
		ro = append(ro, i)
	}
	if len(ro) == 0 || rw < 0 {
		return errors.New("no text, read-only data and writable segment")
	}
	// The table, in the segment the entry point is in: the text, or the
	// window if this has run already.
	var entry uint64
	found := false
	for _, j := range ro {
		if p := progs[j]; hdr.Entry >= p.Vaddr && hdr.Entry < p.Vaddr+p.Filesz && elf.ProgFlag(p.Flags)&elf.PF_X != 0 {
			entry, found = p.Off+hdr.Entry-p.Vaddr, true
		}
	}
	if !found {
		return fmt.Errorf("the entry point %#x is in no text segment", hdr.Entry)
	}
	i := bytes.Index(b[entry:min(entry+window, uint64(len(b)))], magic)
	if i < 0 {
		return fmt.Errorf("no _rt0_ucspi_table within %d kB of the entry point: linked without ucspi/startup's stub, or its code has grown", window>>10)
	}
	table := b[entry+uint64(i) : entry+uint64(i)+tableSize]
	if n := le.Uint64(table[countAt:]); n != 0 {
		return nil // done already
	}
	text := progs[ro[0]]
	if hdr.Entry < text.Vaddr || hdr.Entry >= text.Vaddr+text.Filesz || text.Off != 0 {
		return errors.New("the entry point is not in the first segment, the text with the ELF header")
	}
	if len(ro) > maxSegments {
		return fmt.Errorf("%d read-only segments, room for %d", len(ro), maxSegments)
	}

	// The table: every read-only segment as it was.
	le.PutUint64(table[countAt:], uint64(len(ro)))
	for k, j := range ro {
		p := progs[j]
		if p.Memsz != p.Filesz {
			return fmt.Errorf("a read-only segment at %#x with memory beyond its file contents", p.Vaddr)
		}
		if a := max(p.Align, 1); p.Off%a != p.Vaddr%a {
			return fmt.Errorf("a segment at %#x not aligned as its file offset", p.Vaddr)
		}
		s := table[segmentsAt+k*segmentSize:]
		le.PutUint64(s[0:], p.Vaddr)
		le.PutUint64(s[8:], p.Off)
		le.PutUint64(s[16:], p.Filesz)
		le.PutUint64(s[24:], prot(elf.ProgFlag(p.Flags)))
	}

	// What the kernel maps now: the page (of the segment's alignment) with
	// the ELF and program headers and the notes (AT_PHDR points there, and
	// the stub reads the writable segment's header through it), and the
	// window from the entry point's page through the table.
	align := max(text.Align, 1)
	headers := hdr.Phoff + uint64(hdr.Phnum)*uint64(hdr.Phentsize)
	for _, p := range progs {
		if t := elf.ProgType(p.Type); (t == elf.PT_NOTE || t == elf.PT_PHDR) && p.Off+p.Filesz <= text.Filesz {
			headers = max(headers, p.Off+p.Filesz)
		}
	}
	from := entry &^ (align - 1)
	to := entry + uint64(i) + tableSize
	loads := []phdr{{
		Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R),
		Off: 0, Vaddr: text.Vaddr, Paddr: text.Paddr, Filesz: headers, Memsz: headers, Align: align,
	}, {
		Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_X),
		Off: from, Vaddr: text.Vaddr + from, Paddr: text.Paddr + from, Filesz: to - from, Memsz: to - from, Align: align,
	}}
	if from <= (headers+align-1)&^(align-1) {
		// The stub is in the first pages: one segment for both.
		loads = []phdr{loads[1]}
		loads[0].Off, loads[0].Vaddr, loads[0].Paddr = 0, text.Vaddr, text.Paddr
		loads[0].Filesz, loads[0].Memsz = to, to
	}
	if len(loads) > len(ro) {
		return errors.New("a single read-only segment: no room for the window's program header")
	}
	for k, j := range ro {
		if k < len(loads) {
			progs[j] = loads[k]
		} else {
			progs[j] = phdr{Type: uint32(elf.PT_NULL)}
		}
	}
	if err := checkSymbols(ef, text.Vaddr+from, text.Vaddr+to); err != nil {
		return err
	}

	// The nonce, last: the hash of everything else, so that a build of other
	// code, or another build of it laid out otherwise, differs.
	le.PutUint64(table[nonceOffAt:], entry+uint64(i)+nonceAt)
	if _, err := binary.Encode(b[hdr.Phoff:], binary.LittleEndian, progs); err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	copy(table[nonceAt:nonceAt+16], sum[:16])
	return nil
}

var le = binary.LittleEndian

// prot is the mmap protection of a segment's flags.
func prot(f elf.ProgFlag) uint64 {
	var p uint64
	if f&elf.PF_R != 0 {
		p |= 1 // PROT_READ
	}
	if f&elf.PF_W != 0 {
		p |= 2 // PROT_WRITE
	}
	if f&elf.PF_X != 0 {
		p |= 4 // PROT_EXEC
	}
	return p
}

// checkSymbols makes sure, where the binary has a symbol table (make's build;
// make static strips it, the layout being the same), that all of the stub's
// code (every function named _rt0_ucspi...) is in the window the kernel maps:
// the linker places a package's assembly functions in the order of the file,
// its file-local (<>) ones first, so the stub's helpers have names of the
// entry point's kind, after it.
func checkSymbols(ef *elf.File, from, to uint64) error {
	syms, err := ef.Symbols()
	if errors.Is(err, elf.ErrNoSymbols) {
		return nil
	}
	if err != nil {
		return err
	}
	found := false
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC && elf.ST_TYPE(s.Info) != elf.STT_NOTYPE || !strings.HasPrefix(s.Name, "_rt0_ucspi") {
			continue
		}
		found = true
		if s.Value < from || s.Value+s.Size > to {
			return fmt.Errorf("%s at %#x-%#x is outside the window the kernel maps, %#x-%#x", s.Name, s.Value, s.Value+s.Size, from, to)
		}
	}
	if !found {
		return errors.New("no _rt0_ucspi in the symbol table")
	}
	return nil
}

// writeSize is write's unit: see write.
const writeSize = 64 << 10

// write writes b to name, in 64 kB write(2)s to a new file renamed over it.
// The linker writes its output through a shared mapping, so that the page
// cache holds the fresh binary in 4 kB folios, one per page, and every start
// of it pays for that: the kernel's fault-around looks the pages up one by
// one, and exec and exit account and unmap each. A file written by write(2)
// is cached in folios as large as the writes, up to 2 MB. 64 kB is the size
// of the kernel's fault-around window, so that a fault maps what it mapped
// with 4 kB folios, in one folio: on a 2-core VM with Linux 6.18, that took
// about 0.2 ms (a tenth) off each start of the 6.4 MB static binary, as one
// write of it all did; but a fault maps a whole folio, and in 2 MB folios
// most of the binary became resident in every process that ran a little of
// it (tcpserver under load: 5.1 MB of file pages, 3.5 MB in 64 kB folios).
func write(name string, b []byte) error {
	st, err := os.Stat(name)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	for rest := b; err == nil && len(rest) > 0; {
		n := min(len(rest), writeSize)
		_, err = f.Write(rest[:n])
		rest = rest[n:]
	}
	if err == nil {
		err = f.Chmod(st.Mode().Perm())
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
