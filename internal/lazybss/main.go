// Command lazybss FILE makes the kernel map, at exec, only the file-backed part
// of FILE's writable segment: the segment's memory size is cut to the end of
// the page its file contents end in (the kernel zeroes that page's tail), and
// the rest of the BSS is left to the entry stub of ucspi/startup, which maps
// it once it has raised the address space and data limits (docs/process.md).
//
// The BSS is large: crypto/tls brings crypto/internal/fips140/drbg's 32 MB
// scratch buffer, which costs nothing resident but counts against softlimit's
// address space and data limits at exec, where the kernel would refuse to
// load the binary under softlimit -m 20000000. make runs this on every binary
// it links with the stub, and only those: without the stub nothing would map
// the BSS.
package main

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "lazybss: usage: lazybss file")
		os.Exit(100)
	}
	if err := cut(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "lazybss: fatal:", err)
		os.Exit(111)
	}
}

// Elf64_Phdr: p_type, p_flags (4 bytes each), then p_offset, p_vaddr, p_paddr,
// p_filesz, p_memsz, p_align (8 each).
const memszAt = 40

func cut(name string) error {
	ef, err := elf.Open(name)
	if err != nil {
		return err
	}
	defer ef.Close()
	if ef.Class != elf.ELFCLASS64 || ef.Data != elf.ELFDATA2LSB || ef.Type != elf.ET_EXEC {
		return fmt.Errorf("%s: not a little-endian 64-bit executable", name)
	}
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var hdr elf.Header64
	if err := binary.Read(f, binary.LittleEndian, &hdr); err != nil {
		return err
	}
	page := uint64(os.Getpagesize())
	for i, p := range ef.Progs {
		if p.Type != elf.PT_LOAD || p.Flags&elf.PF_W == 0 {
			continue
		}
		// The largest page size a kernel we run on may have (arm64: 64 kB)
		// would only map more; the stub maps from wherever the kernel
		// stopped.
		end := (p.Vaddr + p.Filesz + page - 1) &^ (page - 1)
		memsz := max(end-p.Vaddr, p.Filesz)
		if memsz >= p.Memsz {
			return nil
		}
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], memsz)
		at := int64(hdr.Phoff) + int64(i)*int64(hdr.Phentsize) + memszAt
		_, err := f.WriteAt(b[:], at)
		return err
	}
	return fmt.Errorf("%s: no writable segment", name)
}
