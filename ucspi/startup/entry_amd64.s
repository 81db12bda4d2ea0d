#include "textflag.h"
#include "go_asm.h"

#define SYS_write		1
#define SYS_open		2
#define SYS_close		3
#define SYS_mmap		9
#define SYS_pread64		17
#define SYS_madvise		28
#define SYS_rt_sigaction	13
#define SYS_rt_sigprocmask	14
#define SYS_fcntl		72
#define SYS_exit_group		231
#define SYS_prlimit64		302
#define F_GETFD			1
#define AT_PHDR			3
#define AT_PHNUM		5
#define AT_PAGESZ		6
#define AT_EXECFN		31
#define PT_LOAD			1
#define PF_W			2
#define MAP_BSS			0x100022	// MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE
#define MAP_IMAGE		0x12		// MAP_PRIVATE|MAP_FIXED
#define O_RDONLY_CLOEXEC	0x80000
#define MADV_POPULATE_WRITE	23

// _rt0_ucspi_table's layout (internal/lazybss fills it): the magic (16
// bytes), the nonce (16), the nonce's file offset, the number of segments,
// then each segment's address, file offset, file size and protection.
#define TABLE_NONCE		16
#define TABLE_NONCEOFF		32
#define TABLE_COUNT		40
#define TABLE_SEGMENTS		48
#define SEGMENT			32

// _rt0_ucspi is the process's entry point (go build -ldflags "-E _rt0_ucspi"),
// run before the Go runtime with the stack as the kernel made it: argc at
// 0(SP), then argv, envp and the auxiliary vector. It records every resource
// limit into ·rec (in the data segment); if a hard limit is below what the
// runtime needs, it says so and exits 111; else it raises the soft address
// space and data limits to the hard ones, maps the part of the BSS the kernel
// left out (internal/lazybss), makes the data section's pages its own,
// records every signal's disposition, the signal mask and which of
// descriptors 0-2 are open, maps the text and read-only data the kernel left
// out (internal/lazybss), and jumps to the runtime's own entry point, SP
// untouched.
//
// Until it has mapped the text and read-only data, only the stub's own
// window of text (from its page to _rt0_ucspi_table) and the data segment
// are mapped: its code, all of it in this file, is made of functions named
// _rt0_ucspi..., which the linker places in this order after the package's
// other code (lazybss checks it where there is a symbol table), and the
// texts it prints are in the data segment (startup.go).
TEXT _rt0_ucspi(SB),NOSPLIT|NOFRAME,$0
	// prlimit64(0, r, NULL, &rec.limits[r]) for every resource r.
	XORQ	R12, R12
limits:
	MOVQ	$SYS_prlimit64, AX
	XORQ	DI, DI
	MOVQ	R12, SI
	XORQ	DX, DX
	MOVQ	R12, R10
	SHLQ	$4, R10
	LEAQ	·rec+record_limits(SB), R8
	ADDQ	R8, R10
	SYSCALL
	INCQ	R12
	CMPQ	R12, $const_nlimits
	JLT	limits

	// The hard limits against the runtime's needs.
	LEAQ	·rec+record_limits(SB), BX
	MOVQ	(const_rlimitAS*16+8)(BX), R13
	MOVQ	$const_needAS, R14
	CMPQ	R13, R14
	JCS	smallAS
	MOVQ	(const_rlimitData*16+8)(BX), R13
	MOVQ	$const_needData, R14
	CMPQ	R13, R14
	JCS	smallData

	// Raise the soft address space and data limits to the hard ones.
	MOVQ	$const_rlimitAS, R12
	CALL	_rt0_ucspi_raise(SB)
	MOVQ	$const_rlimitData, R12
	CALL	_rt0_ucspi_raise(SB)

	// The BSS the kernel left (internal/lazybss): from the end of the
	// writable segment, as its program header says, to runtime·end. The
	// program headers are found in the auxiliary vector, after envp.
	MOVQ	0(SP), AX
	LEAQ	16(SP)(AX*8), SI
envp:
	MOVQ	0(SI), AX
	ADDQ	$8, SI
	TESTQ	AX, AX
	JNE	envp
	XORQ	R8, R8
	XORQ	R9, R9
	MOVQ	$4096, R13
	XORQ	R15, R15
auxv:
	MOVQ	0(SI), AX
	MOVQ	8(SI), DX
	ADDQ	$16, SI
	TESTQ	AX, AX
	JEQ	phdrs
	CMPQ	AX, $AT_PHDR
	JNE	2(PC)
	MOVQ	DX, R8
	CMPQ	AX, $AT_PHNUM
	JNE	2(PC)
	MOVQ	DX, R9
	CMPQ	AX, $AT_PAGESZ
	JNE	2(PC)
	MOVQ	DX, R13
	CMPQ	AX, $AT_EXECFN
	JNE	2(PC)
	MOVQ	DX, R15
	JMP	auxv
phdrs:
	TESTQ	R8, R8
	JEQ	mapped
	TESTQ	R9, R9
	JEQ	mapped
	MOVL	0(R8), AX
	CMPL	AX, $PT_LOAD
	JNE	nextph
	MOVL	4(R8), AX
	TESTL	$PF_W, AX
	JNE	bss
nextph:
	ADDQ	$56, R8
	DECQ	R9
	JMP	phdrs
bss:
	// DI: the segment's end, SI: runtime·end, both rounded up to a page.
	LEAQ	-1(R13), CX
	MOVQ	16(R8), DI
	ADDQ	40(R8), DI
	ADDQ	CX, DI
	LEAQ	runtime·end(SB), SI
	ADDQ	CX, SI
	NOTQ	CX
	ANDQ	CX, DI
	ANDQ	CX, SI
	CMPQ	SI, DI
	JLS	mapped
	SUBQ	DI, SI
	MOVQ	DI, R12
	MOVQ	$SYS_mmap, AX
	MOVQ	$3, DX		// PROT_READ|PROT_WRITE
	MOVQ	$MAP_BSS, R10
	MOVQ	$-1, R8
	XORQ	R9, R9
	SYSCALL
	CMPQ	AX, R12
	JEQ	mapped
	MOVQ	·nomemText(SB), R12
	MOVQ	·nomemText+8(SB), BX
	MOVQ	$-1, R13
	JMP	_rt0_ucspi_fatal(SB)
mapped:

	// madvise(data, edata-data, MADV_POPULATE_WRITE): the data section
	// (the variables with pointers and an initial value) made private
	// and writable now, while the process has one thread. The kernel maps
	// the binary's pages a read-only neighbourhood at a time (fault-around),
	// so the first write to each page of it, mostly in the package inits,
	// would copy it and flush the TLB of every CPU running one of the
	// runtime's threads by then: an IPI each, slow in a VM. 13 pages
	// (52 kB); a kernel without MADV_POPULATE_WRITE (before 5.14) says
	// EINVAL and nothing changes.
	LEAQ	-1(R13), CX
	LEAQ	runtime·data(SB), DI
	LEAQ	runtime·edata(SB), SI
	ADDQ	CX, SI
	NOTQ	CX
	ANDQ	CX, DI
	ANDQ	CX, SI
	SUBQ	DI, SI
	MOVQ	$SYS_madvise, AX
	MOVQ	$MADV_POPULATE_WRITE, DX
	SYSCALL

	// rt_sigaction(s, NULL, &rec.actions[s], 8) for every signal s.
	MOVQ	$1, R12
actions:
	MOVQ	$SYS_rt_sigaction, AX
	MOVQ	R12, DI
	XORQ	SI, SI
	MOVQ	R12, DX
	SHLQ	$5, DX
	LEAQ	·rec+record_actions(SB), R8
	ADDQ	R8, DX
	MOVQ	$8, R10
	SYSCALL
	INCQ	R12
	CMPQ	R12, $const_nsig
	JLE	actions

	// rt_sigprocmask(0, NULL, &rec.mask, 8)
	MOVQ	$SYS_rt_sigprocmask, AX
	XORQ	DI, DI
	XORQ	SI, SI
	LEAQ	·rec+record_mask(SB), DX
	MOVQ	$8, R10
	SYSCALL

	// fcntl(fd, F_GETFD) for fd 0, 1, 2: a failure (EBADF) is a closed one.
	XORQ	R12, R12
	XORQ	R14, R14
fds:
	MOVQ	$SYS_fcntl, AX
	MOVQ	R12, DI
	MOVQ	$F_GETFD, SI
	SYSCALL
	TESTQ	AX, AX
	JGE	fdopen
	MOVQ	$1, AX
	MOVQ	R12, CX
	SHLQ	CX, AX
	ORQ	AX, R14
fdopen:
	INCQ	R12
	CMPQ	R12, $3
	JLT	fds
	MOVQ	R14, ·rec+record_closed(SB)

	// Last, so that little of the stub runs after it (from the text's
	// mapping, faulted in anew): the text and read-only data the kernel
	// left (internal/lazybss), as _rt0_ucspi_table records them, mapped
	// from the binary's file:
	// /proc/self/exe, the very file executed, or without /proc (a chroot)
	// the path executed, AT_EXECFN (R15), if it holds the same build: the
	// nonce in the file is the one in memory. An empty table (no lazybss):
	// the kernel mapped them.
	LEAQ	_rt0_ucspi_table(SB), BX
	MOVQ	TABLE_COUNT(BX), R14
	TESTQ	R14, R14
	JEQ	imaged
	MOVQ	$SYS_open, AX
	LEAQ	procexe<>(SB), DI
	MOVQ	$O_RDONLY_CLOEXEC, SI
	XORQ	DX, DX
	SYSCALL
	TESTQ	AX, AX
	JGE	opened
	TESTQ	R15, R15
	JEQ	noopen
	MOVQ	$SYS_open, AX
	MOVQ	R15, DI
	SYSCALL
	TESTQ	AX, AX
	JLT	noopen
opened:
	// pread64(fd, &rec.scratch, 16, the nonce's offset)
	MOVQ	AX, R12
	MOVQ	$SYS_pread64, AX
	MOVQ	R12, DI
	LEAQ	·rec+record_scratch(SB), SI
	MOVQ	$16, DX
	MOVQ	TABLE_NONCEOFF(BX), R10
	SYSCALL
	TESTQ	AX, AX
	JLT	noread
	CMPQ	AX, $16
	JNE	changed
	MOVQ	0(SI), AX
	CMPQ	AX, TABLE_NONCE(BX)
	JNE	changed
	MOVQ	8(SI), AX
	CMPQ	AX, (TABLE_NONCE+8)(BX)
	JNE	changed
	// mmap(the segment's first page, to its end, its protection,
	// MAP_PRIVATE|MAP_FIXED, fd, its offset's page) for each: over the
	// window too, with the same contents.
	ADDQ	$TABLE_SEGMENTS, BX
segment:
	LEAQ	-1(R13), CX
	ANDQ	0(BX), CX
	MOVQ	0(BX), DI
	SUBQ	CX, DI
	MOVQ	16(BX), SI
	ADDQ	CX, SI
	MOVQ	24(BX), DX
	MOVQ	$MAP_IMAGE, R10
	MOVQ	R12, R8
	MOVQ	8(BX), R9
	SUBQ	CX, R9
	MOVQ	$SYS_mmap, AX
	SYSCALL
	CMPQ	AX, DI
	JNE	nomap
	ADDQ	$SEGMENT, BX
	DECQ	R14
	JNE	segment
	MOVQ	$SYS_close, AX
	MOVQ	R12, DI
	SYSCALL
imaged:
	MOVQ	$const_ran, ·rec+record_stub(SB)
	JMP	_rt0_amd64_linux(SB)

smallAS:
	MOVQ	·asText(SB), R12
	MOVQ	·asText+8(SB), BX
	JMP	_rt0_ucspi_fatal(SB)
smallData:
	MOVQ	·dataText(SB), R12
	MOVQ	·dataText+8(SB), BX
	JMP	_rt0_ucspi_fatal(SB)
noopen:
	MOVQ	·openText(SB), R12
	MOVQ	·openText+8(SB), BX
	MOVQ	$-1, R13
	JMP	_rt0_ucspi_fatal(SB)
noread:
	MOVQ	·readText(SB), R12
	MOVQ	·readText+8(SB), BX
	MOVQ	$-1, R13
	JMP	_rt0_ucspi_fatal(SB)
changed:
	MOVQ	·changedText(SB), R12
	MOVQ	·changedText+8(SB), BX
	MOVQ	$-1, R13
	JMP	_rt0_ucspi_fatal(SB)
nomap:
	MOVQ	·mapText(SB), R12
	MOVQ	·mapText+8(SB), BX
	MOVQ	$-1, R13
	JMP	_rt0_ucspi_fatal(SB)

// _rt0_ucspi_raise sets resource R12's soft limit to its hard one, if it is
// lower, and marks it in rec.raised.
TEXT _rt0_ucspi_raise(SB),NOSPLIT|NOFRAME,$0
	LEAQ	·rec+record_limits(SB), BX
	MOVQ	R12, R10
	SHLQ	$4, R10
	ADDQ	R10, BX
	MOVQ	0(BX), AX
	MOVQ	8(BX), CX
	CMPQ	AX, CX
	JCC	raised
	LEAQ	·rec+record_scratch(SB), R10
	MOVQ	CX, 0(R10)
	MOVQ	CX, 8(R10)
	MOVQ	$SYS_prlimit64, AX
	XORQ	DI, DI
	MOVQ	R12, SI
	MOVQ	R10, DX
	XORQ	R10, R10
	SYSCALL
	TESTQ	AX, AX
	JNE	raised
	MOVQ	$1, AX
	MOVQ	R12, CX
	SHLQ	CX, AX
	ORQ	AX, ·rec+record_raised(SB)
raised:
	RET

// _rt0_ucspi_fatal writes "NAME: fatal: unable to start: WHAT N is below what the Go
// runtime needs (about M)" to descriptor 2 and exits 111. WHAT is the string
// R12 (pointer), BX (length), N the hard limit in R13, M the need in R14; with
// R13 -1, the line is "NAME: fatal: unable to start: WHAT".
// NAME is argv[0]'s base name, or argv[1] if that is "ucspi" and argv[1] does
// not start with '-' (ucspi APPLET ...).
TEXT _rt0_ucspi_fatal(SB),NOSPLIT|NOFRAME,$0
	LEAQ	msg<>(SB), DI

	// The name: SI the first byte, CX the length.
	MOVQ	8(SP), SI
	TESTQ	SI, SI
	JEQ	self
	MOVQ	SI, R8
base:
	MOVBQZX	(SI), AX
	TESTQ	AX, AX
	JEQ	based
	INCQ	SI
	CMPQ	AX, $'/'
	JNE	base
	MOVQ	SI, R8
	JMP	base
based:
	MOVQ	SI, CX
	SUBQ	R8, CX
	MOVQ	R8, SI
	// "ucspi APPLET": the applet's name instead.
	CMPQ	CX, ·selfName+8(SB)
	JNE	named
	MOVQ	·selfName(SB), R9
	XORQ	R10, R10
cmp:
	MOVBQZX	(SI)(R10*1), AX
	MOVBQZX	(R9)(R10*1), DX
	CMPQ	AX, DX
	JNE	named
	INCQ	R10
	CMPQ	R10, CX
	JLT	cmp
	CMPQ	0(SP), $2
	JLT	named
	MOVQ	16(SP), R8
	MOVBQZX	(R8), AX
	CMPQ	AX, $'-'
	JEQ	named
	MOVQ	R8, SI
	XORQ	CX, CX
arglen:
	MOVBQZX	(SI)(CX*1), AX
	TESTQ	AX, AX
	JEQ	named
	INCQ	CX
	JMP	arglen
self:
	MOVQ	·selfName(SB), SI
	MOVQ	·selfName+8(SB), CX
named:
	// No name at all (an empty argv[0]): ucspi's. At most 64 bytes of it.
	TESTQ	CX, CX
	JEQ	self
	CMPQ	CX, $64
	JLE	short
	MOVQ	$64, CX
short:
	CALL	_rt0_ucspi_appendstr(SB)
	MOVQ	·startText(SB), SI
	MOVQ	·startText+8(SB), CX
	CALL	_rt0_ucspi_appendstr(SB)
	MOVQ	R12, SI
	MOVQ	BX, CX
	CALL	_rt0_ucspi_appendstr(SB)
	CMPQ	R13, $-1
	JNE	numbers
	MOVQ	·endText(SB), SI	// its "\n" alone
	INCQ	SI
	MOVQ	$1, CX
	CALL	_rt0_ucspi_appendstr(SB)
	JMP	write
numbers:
	MOVQ	R13, AX
	CALL	_rt0_ucspi_appenddec(SB)
	MOVQ	·needText(SB), SI
	MOVQ	·needText+8(SB), CX
	CALL	_rt0_ucspi_appendstr(SB)
	MOVQ	R14, AX
	CALL	_rt0_ucspi_appenddec(SB)
	MOVQ	·endText(SB), SI
	MOVQ	·endText+8(SB), CX
	CALL	_rt0_ucspi_appendstr(SB)
write:
	MOVQ	$SYS_write, AX
	LEAQ	msg<>(SB), SI
	MOVQ	DI, DX
	SUBQ	SI, DX
	MOVQ	$2, DI
	SYSCALL
	MOVQ	$SYS_exit_group, AX
	MOVQ	$111, DI
	SYSCALL
	INT	$3

// _rt0_ucspi_appendstr copies CX bytes from SI to DI, advancing DI.
TEXT _rt0_ucspi_appendstr(SB),NOSPLIT|NOFRAME,$0
	TESTQ	CX, CX
	JEQ	done
copy:
	MOVB	(SI), AX
	MOVB	AX, (DI)
	INCQ	SI
	INCQ	DI
	DECQ	CX
	JNE	copy
done:
	RET

// _rt0_ucspi_appenddec writes AX in decimal at DI, advancing DI.
TEXT _rt0_ucspi_appenddec(SB),NOSPLIT|NOFRAME,$0
	LEAQ	digits<>+20(SB), SI
	MOVQ	$10, R8
digit:
	XORQ	DX, DX
	DIVQ	R8
	ADDQ	$'0', DX
	DECQ	SI
	MOVB	DX, (SI)
	TESTQ	AX, AX
	JNE	digit
	LEAQ	digits<>+20(SB), CX
	SUBQ	SI, CX
	JMP	_rt0_ucspi_appendstr(SB)

// _rt0_ucspi_table: the end of the stub's code, which lazybss finds by the
// magic (the first 16 bytes), and what it records there for the stub: the
// read-only segments it took from the kernel, and the nonce. Its layout is
// lazybss's (and TABLE_* above); it is filled in the file, never written in
// memory.
TEXT _rt0_ucspi_table(SB),NOSPLIT|NOFRAME,$0
	QUAD	$0x6d692d6970736375	// the magic: "ucspi-im", "age", 4 random bytes
	QUAD	$0xa407519ec3656761
	QUAD	$0	// the nonce
	QUAD	$0
	QUAD	$0	// its offset in the file
	QUAD	$0	// how many segments
	QUAD	$0	// 4 segments: address, offset, size, protection
	QUAD	$0
	QUAD	$0
	QUAD	$0
	QUAD	$0
	QUAD	$0
	QUAD	$0
	QUAD	$0
	QUAD	$0
	QUAD	$0
	QUAD	$0
	QUAD	$0
	QUAD	$0
	QUAD	$0
	QUAD	$0
	QUAD	$0

// Data, not BSS (DATA makes them so): fatal may run before the BSS is mapped.
DATA msg<>+0(SB)/8, $0
GLOBL msg<>(SB), NOPTR, $256
DATA digits<>+0(SB)/8, $0
GLOBL digits<>(SB), NOPTR, $24
DATA procexe<>+0(SB)/8, $"/proc/se"
DATA procexe<>+8(SB)/6, $"lf/exe"
GLOBL procexe<>(SB), NOPTR, $16
