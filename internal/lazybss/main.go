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
//
// Then it writes FILE anew, in one write(2) to a new file renamed over it
// (see rewrite).
package main

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
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
	if err := rewrite(os.Args[1]); err != nil {
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

// rewrite writes name's contents again, in one write(2) to a new file renamed
// over it. The linker writes its output through a shared mapping, so that
// the page cache holds the fresh binary in 4 kB folios, one per page, and
// every start of it pays for that: the kernel's fault-around looks the pages
// up one by one, and exec and exit account and unmap each. A file written by
// write(2) is cached in large folios, as a binary installed by cp or read
// back from disk is: on a 2-core VM with Linux 6.18, that took about 0.2 ms
// (a tenth) off each start of the 6.4 MB static binary.
func rewrite(name string) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	st, err := os.Stat(name)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
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
