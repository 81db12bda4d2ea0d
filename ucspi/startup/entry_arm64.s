#include "textflag.h"
#include "go_asm.h"

#define SYS_fcntl		25
#define SYS_openat		56
#define SYS_close		57
#define SYS_pread64		67
#define SYS_write		64
#define SYS_exit_group		94
#define SYS_rt_sigaction	134
#define SYS_rt_sigprocmask	135
#define SYS_mmap		222
#define SYS_prlimit64		261
#define F_GETFD			1
#define AT_PHDR			3
#define AT_PHNUM		5
#define AT_PAGESZ		6
#define AT_EXECFN		31
#define AT_FDCWD		-100
#define PT_LOAD			1
#define PF_W			2
#define MAP_BSS			0x100022	// MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE
#define MAP_IMAGE		0x12		// MAP_PRIVATE|MAP_FIXED
#define O_RDONLY_CLOEXEC	0x80000

// _rt0_ucspi_table's layout: as in entry_amd64.s.
#define TABLE_NONCE		16
#define TABLE_NONCEOFF		32
#define TABLE_COUNT		40
#define TABLE_SEGMENTS		48
#define SEGMENT			32

// _rt0_ucspi: entry_amd64.s says what it does; this is the same for arm64,
// argc at 0(RSP), then argv, envp and the auxiliary vector.
TEXT _rt0_ucspi(SB),NOSPLIT|NOFRAME,$0
	// prlimit64(0, r, NULL, &rec.limits[r]) for every resource r.
	MOVD	$0, R19
limits:
	MOVD	$·rec+record_limits(SB), R3
	ADD	R19<<4, R3, R3
	MOVD	$0, R0
	MOVD	R19, R1
	MOVD	$0, R2
	MOVD	$SYS_prlimit64, R8
	SVC
	ADD	$1, R19
	CMP	$const_nlimits, R19
	BLT	limits

	// The hard limits against the runtime's needs.
	MOVD	$·rec+record_limits(SB), R9
	MOVD	(const_rlimitAS*16+8)(R9), R21
	MOVD	$const_needAS, R22
	CMP	R22, R21
	BLO	smallAS
	MOVD	(const_rlimitData*16+8)(R9), R21
	MOVD	$const_needData, R22
	CMP	R22, R21
	BLO	smallData

	// Raise the soft address space and data limits to the hard ones.
	MOVD	$const_rlimitAS, R19
	BL	_rt0_ucspi_raise(SB)
	MOVD	$const_rlimitData, R19
	BL	_rt0_ucspi_raise(SB)

	// The BSS the kernel left (internal/lazybss): from the end of the
	// writable segment, as its program header says, to runtime·end.
	MOVD	0(RSP), R0
	ADD	$2, R0
	ADD	R0<<3, RSP, R1		// envp
envp:
	MOVD	(R1), R0
	ADD	$8, R1
	CBNZ	R0, envp
	MOVD	$0, R19			// the program headers
	MOVD	$0, R20			// how many
	MOVD	$4096, R21		// the page size
	MOVD	$0, R25			// AT_EXECFN
auxv:
	MOVD	0(R1), R0
	MOVD	8(R1), R2
	ADD	$16, R1
	CBZ	R0, phdrs
	CMP	$AT_PHDR, R0
	BNE	2(PC)
	MOVD	R2, R19
	CMP	$AT_PHNUM, R0
	BNE	2(PC)
	MOVD	R2, R20
	CMP	$AT_PAGESZ, R0
	BNE	2(PC)
	MOVD	R2, R21
	CMP	$AT_EXECFN, R0
	BNE	2(PC)
	MOVD	R2, R25
	B	auxv
phdrs:
	CBZ	R19, mapped
	CBZ	R20, mapped
	MOVWU	0(R19), R0
	CMP	$PT_LOAD, R0
	BNE	nextph
	MOVWU	4(R19), R0
	TBNZ	$1, R0, bss		// PF_W
nextph:
	ADD	$56, R19
	SUB	$1, R20
	B	phdrs
bss:
	// R0: the segment's end, R1: runtime·end, both rounded up to a page.
	SUB	$1, R21, R3
	MOVD	16(R19), R0
	MOVD	40(R19), R2
	ADD	R2, R0
	ADD	R3, R0
	MOVD	$runtime·end(SB), R1
	ADD	R3, R1
	BIC	R3, R0
	BIC	R3, R1
	CMP	R0, R1
	BLS	mapped
	SUB	R0, R1
	MOVD	R0, R22
	MOVD	$3, R2			// PROT_READ|PROT_WRITE
	MOVD	$MAP_BSS, R3
	MOVD	$-1, R4
	MOVD	$0, R5
	MOVD	$SYS_mmap, R8
	SVC
	CMP	R22, R0
	BEQ	mapped
	MOVD	$·nomemText(SB), R1
	MOVD	0(R1), R23
	MOVD	8(R1), R24
	MOVD	$-1, R21
	B	_rt0_ucspi_fatal(SB)
mapped:

	// rt_sigaction(s, NULL, &rec.actions[s], 8) for every signal s.
	MOVD	$1, R19
actions:
	MOVD	$·rec+record_actions(SB), R2
	ADD	R19<<5, R2, R2
	MOVD	R19, R0
	MOVD	$0, R1
	MOVD	$8, R3
	MOVD	$SYS_rt_sigaction, R8
	SVC
	ADD	$1, R19
	CMP	$const_nsig, R19
	BLE	actions

	// rt_sigprocmask(0, NULL, &rec.mask, 8)
	MOVD	$0, R0
	MOVD	$0, R1
	MOVD	$·rec+record_mask(SB), R2
	MOVD	$8, R3
	MOVD	$SYS_rt_sigprocmask, R8
	SVC

	// fcntl(fd, F_GETFD) for fd 0, 1, 2: a failure (EBADF) is a closed one.
	MOVD	$0, R19
	MOVD	$0, R20
fds:
	MOVD	R19, R0
	MOVD	$F_GETFD, R1
	MOVD	$SYS_fcntl, R8
	SVC
	CMP	$0, R0
	BGE	fdopen
	MOVD	$1, R1
	LSL	R19, R1, R1
	ORR	R1, R20, R20
fdopen:
	ADD	$1, R19
	CMP	$3, R19
	BLT	fds
	MOVD	$·rec+record_closed(SB), R1
	MOVD	R20, (R1)

	// Last: the text and read-only data the kernel left, as entry_amd64.s
	// says.
	MOVD	$_rt0_ucspi_table(SB), R26
	MOVD	TABLE_COUNT(R26), R20
	CBZ	R20, imaged
	MOVD	$AT_FDCWD, R0
	MOVD	$procexe<>(SB), R1
	MOVD	$O_RDONLY_CLOEXEC, R2
	MOVD	$0, R3
	MOVD	$SYS_openat, R8
	SVC
	CMP	$0, R0
	BGE	opened
	CBZ	R25, noopen
	MOVD	$AT_FDCWD, R0
	MOVD	R25, R1
	MOVD	$O_RDONLY_CLOEXEC, R2
	MOVD	$0, R3
	MOVD	$SYS_openat, R8
	SVC
	CMP	$0, R0
	BLT	noopen
opened:
	// pread64(fd, &rec.scratch, 16, the nonce's offset)
	MOVD	R0, R19
	MOVD	$·rec+record_scratch(SB), R1
	MOVD	$16, R2
	MOVD	TABLE_NONCEOFF(R26), R3
	MOVD	$SYS_pread64, R8
	SVC
	CMP	$0, R0
	BLT	noread
	CMP	$16, R0
	BNE	changed
	MOVD	$·rec+record_scratch(SB), R1
	MOVD	0(R1), R2
	MOVD	TABLE_NONCE(R26), R3
	CMP	R3, R2
	BNE	changed
	MOVD	8(R1), R2
	MOVD	(TABLE_NONCE+8)(R26), R3
	CMP	R3, R2
	BNE	changed
	ADD	$TABLE_SEGMENTS, R26
segment:
	// R6: the address's offset in its page.
	SUB	$1, R21, R6
	MOVD	0(R26), R0
	AND	R0, R6, R6
	SUB	R6, R0, R0
	MOVD	16(R26), R1
	ADD	R6, R1, R1
	MOVD	24(R26), R2
	MOVD	$MAP_IMAGE, R3
	MOVD	R19, R4
	MOVD	8(R26), R5
	SUB	R6, R5, R5
	MOVD	R0, R7
	MOVD	$SYS_mmap, R8
	SVC
	CMP	R7, R0
	BNE	nomap
	ADD	$SEGMENT, R26
	SUB	$1, R20
	CBNZ	R20, segment
	MOVD	R19, R0
	MOVD	$SYS_close, R8
	SVC
imaged:

	MOVD	$·rec+record_stub(SB), R1
	MOVD	$const_ran, R2
	MOVD	R2, (R1)
	B	_rt0_arm64_linux(SB)

smallAS:
	MOVD	$·asText(SB), R1
	MOVD	0(R1), R23
	MOVD	8(R1), R24
	B	_rt0_ucspi_fatal(SB)
smallData:
	MOVD	$·dataText(SB), R1
	MOVD	0(R1), R23
	MOVD	8(R1), R24
	B	_rt0_ucspi_fatal(SB)
noopen:
	MOVD	$·openText(SB), R1
	B	why
noread:
	MOVD	$·readText(SB), R1
	B	why
changed:
	MOVD	$·changedText(SB), R1
	B	why
nomap:
	MOVD	$·mapText(SB), R1
why:
	MOVD	0(R1), R23
	MOVD	8(R1), R24
	MOVD	$-1, R21
	B	_rt0_ucspi_fatal(SB)

// _rt0_ucspi_raise sets resource R19's soft limit to its hard one, if it is
// lower, and marks it in rec.raised.
TEXT _rt0_ucspi_raise(SB),NOSPLIT|NOFRAME,$0
	MOVD	$·rec+record_limits(SB), R9
	ADD	R19<<4, R9, R9
	MOVD	0(R9), R10
	MOVD	8(R9), R11
	CMP	R11, R10
	BHS	raised
	MOVD	$·rec+record_scratch(SB), R2
	MOVD	R11, 0(R2)
	MOVD	R11, 8(R2)
	MOVD	$0, R0
	MOVD	R19, R1
	MOVD	$0, R3
	MOVD	$SYS_prlimit64, R8
	SVC
	CBNZ	R0, raised
	MOVD	$1, R1
	LSL	R19, R1, R1
	MOVD	$·rec+record_raised(SB), R2
	MOVD	(R2), R3
	ORR	R1, R3, R3
	MOVD	R3, (R2)
raised:
	RET

// _rt0_ucspi_fatal: as in entry_amd64.s, with WHAT the string R23 (pointer), R24
// (length), N in R21 (-1: no numbers), M in R22.
TEXT _rt0_ucspi_fatal(SB),NOSPLIT|NOFRAME,$0
	MOVD	$msg<>(SB), R7

	// The name: R4 the first byte, R5 the length.
	MOVD	8(RSP), R1
	CBZ	R1, self
	MOVD	R1, R2
base:
	MOVBU	(R1), R3
	CBZ	R3, based
	ADD	$1, R1
	CMP	$'/', R3
	BNE	base
	MOVD	R1, R2
	B	base
based:
	SUB	R2, R1, R5
	MOVD	R2, R4
	// "ucspi APPLET": the applet's name instead.
	MOVD	$·selfName(SB), R6
	MOVD	8(R6), R10
	CMP	R10, R5
	BNE	named
	MOVD	0(R6), R6
	MOVD	$0, R10
cmp:
	MOVBU	(R4)(R10), R11
	MOVBU	(R6)(R10), R12
	CMP	R12, R11
	BNE	named
	ADD	$1, R10
	CMP	R5, R10
	BLT	cmp
	MOVD	0(RSP), R11
	CMP	$2, R11
	BLT	named
	MOVD	16(RSP), R1
	MOVBU	(R1), R11
	CMP	$'-', R11
	BEQ	named
	MOVD	R1, R4
	MOVD	$0, R5
arglen:
	MOVBU	(R4)(R5), R11
	CBZ	R11, named
	ADD	$1, R5
	B	arglen
self:
	MOVD	$·selfName(SB), R6
	MOVD	0(R6), R4
	MOVD	8(R6), R5
named:
	// No name at all (an empty argv[0]): ucspi's. At most 64 bytes of it.
	CBZ	R5, self
	CMP	$64, R5
	BLE	short
	MOVD	$64, R5
short:
	BL	_rt0_ucspi_appendstr(SB)
	MOVD	$·startText(SB), R6
	MOVD	0(R6), R4
	MOVD	8(R6), R5
	BL	_rt0_ucspi_appendstr(SB)
	MOVD	R23, R4
	MOVD	R24, R5
	BL	_rt0_ucspi_appendstr(SB)
	CMN	$1, R21
	BNE	numbers
	MOVD	$·endText(SB), R6	// its "\n" alone
	MOVD	0(R6), R4
	ADD	$1, R4
	MOVD	$1, R5
	BL	_rt0_ucspi_appendstr(SB)
	B	write
numbers:
	MOVD	R21, R0
	BL	_rt0_ucspi_appenddec(SB)
	MOVD	$·needText(SB), R6
	MOVD	0(R6), R4
	MOVD	8(R6), R5
	BL	_rt0_ucspi_appendstr(SB)
	MOVD	R22, R0
	BL	_rt0_ucspi_appenddec(SB)
	MOVD	$·endText(SB), R6
	MOVD	0(R6), R4
	MOVD	8(R6), R5
	BL	_rt0_ucspi_appendstr(SB)
write:
	MOVD	$msg<>(SB), R1
	SUB	R1, R7, R2
	MOVD	$2, R0
	MOVD	$SYS_write, R8
	SVC
	MOVD	$111, R0
	MOVD	$SYS_exit_group, R8
	SVC
	B	0(PC)

// _rt0_ucspi_appendstr copies R5 bytes from R4 to R7, advancing R7.
TEXT _rt0_ucspi_appendstr(SB),NOSPLIT|NOFRAME,$0
	CBZ	R5, done
copy:
	MOVBU	(R4), R11
	MOVB	R11, (R7)
	ADD	$1, R4
	ADD	$1, R7
	SUB	$1, R5
	CBNZ	R5, copy
done:
	RET

// _rt0_ucspi_appenddec writes R0 in decimal at R7, advancing R7.
TEXT _rt0_ucspi_appenddec(SB),NOSPLIT|NOFRAME,$0
	MOVD	$digits<>+20(SB), R4
	MOVD	$10, R3
digit:
	UDIV	R3, R0, R1
	MSUB	R1, R0, R3, R2
	ADD	$'0', R2
	SUB	$1, R4
	MOVB	R2, (R4)
	MOVD	R1, R0
	CBNZ	R0, digit
	MOVD	$digits<>+20(SB), R5
	SUB	R4, R5, R5
	B	_rt0_ucspi_appendstr(SB)

// _rt0_ucspi_table: as in entry_amd64.s.
TEXT _rt0_ucspi_table(SB),NOSPLIT|NOFRAME,$0
	DWORD	$0x6d692d6970736375	// the magic: "ucspi-im", "age", 4 random bytes
	DWORD	$0xa407519ec3656761
	DWORD	$0	// the nonce
	DWORD	$0
	DWORD	$0	// its offset in the file
	DWORD	$0	// how many segments
	DWORD	$0	// 4 segments: address, offset, size, protection
	DWORD	$0
	DWORD	$0
	DWORD	$0
	DWORD	$0
	DWORD	$0
	DWORD	$0
	DWORD	$0
	DWORD	$0
	DWORD	$0
	DWORD	$0
	DWORD	$0
	DWORD	$0
	DWORD	$0
	DWORD	$0
	DWORD	$0

// Data, not BSS (DATA makes them so): fatal may run before the BSS is mapped.
DATA msg<>+0(SB)/8, $0
GLOBL msg<>(SB), NOPTR, $256
DATA digits<>+0(SB)/8, $0
GLOBL digits<>(SB), NOPTR, $24
DATA procexe<>+0(SB)/8, $"/proc/se"
DATA procexe<>+8(SB)/6, $"lf/exe"
GLOBL procexe<>(SB), NOPTR, $16
