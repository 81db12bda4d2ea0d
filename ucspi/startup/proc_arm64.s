#include "textflag.h"
#include "go_asm.h"

#define SYS_dup3		24
#define SYS_fcntl		25
#define SYS_close		57
#define SYS_write		64
#define SYS_exit_group		94
#define SYS_rt_sigaction	134
#define SYS_rt_sigprocmask	135
#define SYS_clone		220
#define SYS_execve		221
#define SYS_prlimit64		261
#define SYS_clone3		435
#define ENOSYS			38
#define EINVAL			22

#define SIG_SETMASK	2
#define F_SETFD		2
#define CLONE_SPAWN	0x4111	// CLONE_VM|CLONE_VFORK|SIGCHLD

// proc_amd64.s says what these do.

// func execve(x *exe) (errno uintptr)
TEXT ·execve(SB),NOSPLIT,$0-16
	MOVD	x+0(FP), R9

	// The program's limits.
	MOVD	$0, R10
elimits:
	MOVD	exe_nlim(R9), R11
	CMP	R11, R10
	BHS	emask
	ADD	$exe_res, R9, R1
	MOVD	(R1)(R10<<3), R1
	ADD	$exe_lim, R9, R2
	ADD	R10<<4, R2, R2
	MOVD	$0, R0
	MOVD	$0, R3
	MOVD	$SYS_prlimit64, R8
	SVC
	ADD	$1, R10
	B	elimits

emask:
	// The program's signal mask; the thread's kept in x.old.
	MOVD	$SIG_SETMASK, R0
	ADD	$exe_mask, R9, R1
	ADD	$exe_old, R9, R2
	MOVD	$8, R3
	MOVD	$SYS_rt_sigprocmask, R8
	SVC

	// Close the descriptors in x.shut.
	MOVD	exe_shut(R9), R12
	MOVD	$0, R10
eshut:
	TBZ	$0, R12, enext
	MOVD	R10, R0
	MOVD	$SYS_close, R8
	SVC
enext:
	LSR	$1, R12, R12
	ADD	$1, R10
	CMP	$3, R10
	BLT	eshut

	MOVD	exe_path(R9), R0
	MOVD	exe_argv(R9), R1
	MOVD	exe_envp(R9), R2
	MOVD	$SYS_execve, R8
	SVC
	NEG	R0, R13

	// It failed: the thread's mask and the limits as they were.
	MOVD	$SIG_SETMASK, R0
	ADD	$exe_old, R9, R1
	MOVD	$0, R2
	MOVD	$8, R3
	MOVD	$SYS_rt_sigprocmask, R8
	SVC
	MOVD	$0, R10
eback:
	MOVD	exe_nlim(R9), R11
	CMP	R11, R10
	BHS	edone
	ADD	$exe_res, R9, R1
	MOVD	(R1)(R10<<3), R1
	ADD	$exe_back, R9, R2
	ADD	R10<<4, R2, R2
	MOVD	$0, R0
	MOVD	$0, R3
	MOVD	$SYS_prlimit64, R8
	SVC
	ADD	$1, R10
	B	eback
edone:
	MOVD	R13, errno+8(FP)
	RET

// func spawn(x *exe) (pid, errno uintptr)
TEXT ·spawn(SB),NOSPLIT,$0-24
	MOVD	x+0(FP), R9

	// proc_amd64.s says why clone3 first.
	ADD	$exe_cargs, R9, R0
	MOVD	$const_cloneArgsSize, R1
	MOVD	$SYS_clone3, R8
	SVC
	CBZ	R0, cleared
	CMN	$ENOSYS, R0
	BEQ	noclone3
	CMN	$EINVAL, R0
	BEQ	noclone3
	MOVD	R0, R10
	B	spawned

noclone3:
	MOVD	$SIG_SETMASK, R0
	ADD	$exe_all, R9, R1
	ADD	$exe_old, R9, R2
	MOVD	$8, R3
	MOVD	$SYS_rt_sigprocmask, R8
	SVC

	MOVD	$CLONE_SPAWN, R0
	MOVD	$0, R1
	MOVD	$0, R2
	MOVD	$0, R3
	MOVD	$0, R4
	MOVD	$SYS_clone, R8
	SVC
	CBZ	R0, child
	MOVD	R0, R10

	MOVD	$SIG_SETMASK, R0
	ADD	$exe_old, R9, R1
	MOVD	$0, R2
	MOVD	$8, R3
	MOVD	$SYS_rt_sigprocmask, R8
	SVC

spawned:
	CMP	$0, R10
	BLT	noclone
	MOVD	R10, pid+8(FP)
	MOVD	ZR, errno+16(FP)
	RET
noclone:
	NEG	R10, R10
	MOVD	ZR, pid+8(FP)
	MOVD	R10, errno+16(FP)
	RET

cleared:
	MOVD	$1, R10
	MOVD	R10, exe_shared(R9)
	B	limits

child:
	MOVD	$1, R10
	MOVD	R10, exe_shared(R9) // proc_amd64.s says why
csig:
	MOVD	R10, R0
	ADD	$exe_dfl, R9, R1
	ADD	$exe_act, R9, R2
	MOVD	$8, R3
	MOVD	$SYS_rt_sigaction, R8
	SVC
	CBNZ	R0, cnext
	MOVD	exe_act(R9), R11
	CMP	$const_sigIGN, R11
	BNE	cnext
	MOVD	R10, R0
	ADD	$exe_ign, R9, R1
	MOVD	$0, R2
	MOVD	$8, R3
	MOVD	$SYS_rt_sigaction, R8
	SVC
cnext:
	ADD	$1, R10
	CMP	$const_nsig, R10
	BLE	csig

limits:
	MOVD	$0, R10
climits:
	MOVD	exe_nlim(R9), R11
	CMP	R11, R10
	BHS	cfds
	ADD	$exe_res, R9, R1
	MOVD	(R1)(R10<<3), R1
	ADD	$exe_lim, R9, R2
	ADD	R10<<4, R2, R2
	MOVD	$0, R0
	MOVD	$0, R3
	MOVD	$SYS_prlimit64, R8
	SVC
	ADD	$1, R10
	B	climits

cfds:
	MOVD	$0, R10
cfd:
	MOVD	exe_nfd(R9), R11
	CMP	R11, R10
	BHS	cshut
	ADD	$exe_fds, R9, R1
	MOVD	(R1)(R10<<3), R0
	CMP	$0, R0
	BGE	cmove
	MOVD	R10, R0
	MOVD	$SYS_close, R8
	SVC
	ADD	$1, R10
	B	cfd
cmove:
	CMP	R10, R0
	BEQ	ckeep
	MOVD	R10, R1
	MOVD	$0, R2
	MOVD	$SYS_dup3, R8
	SVC
	B	cfdok
ckeep:
	MOVD	$F_SETFD, R1
	MOVD	$0, R2
	MOVD	$SYS_fcntl, R8
	SVC
cfdok:
	CMP	$0, R0
	BLT	cfail
	ADD	$1, R10
	B	cfd
cshut:
	CMP	$3, R10
	BHS	cexec
	MOVD	R10, R0
	MOVD	$SYS_close, R8
	SVC
	ADD	$1, R10
	B	cshut

cexec:
	MOVD	$SIG_SETMASK, R0
	ADD	$exe_mask, R9, R1
	MOVD	$0, R2
	MOVD	$8, R3
	MOVD	$SYS_rt_sigprocmask, R8
	SVC
	MOVD	exe_path(R9), R0
	MOVD	exe_argv(R9), R1
	MOVD	exe_envp(R9), R2
	MOVD	$SYS_execve, R8
	SVC
cfail:
	NEG	R0, R0
	MOVD	R0, exe_err(R9)
	MOVD	exe_pipe(R9), R0
	ADD	$exe_err, R9, R1
	MOVD	$8, R2
	MOVD	$SYS_write, R8
	SVC
	MOVD	$127, R0
	MOVD	$SYS_exit_group, R8
	SVC
	B	0(PC)
