#include "textflag.h"
#include "go_asm.h"

#define SYS_write		1
#define SYS_close		3
#define SYS_rt_sigaction	13
#define SYS_rt_sigprocmask	14
#define SYS_clone		56
#define SYS_execve		59
#define SYS_fcntl		72
#define SYS_exit_group		231
#define SYS_dup3		292
#define SYS_prlimit64		302
#define SYS_clone3		435
#define ENOSYS			38
#define EINVAL			22

#define SIG_SETMASK	2
#define F_SETFD		2
#define CLONE_SPAWN	0x4111	// CLONE_VM|CLONE_VFORK|SIGCHLD

// func execve(x *exe) (errno uintptr)
TEXT ·execve(SB),NOSPLIT,$0-16
	MOVQ	x+0(FP), BX

	// The program's limits.
	XORQ	R12, R12
elimits:
	CMPQ	R12, exe_nlim(BX)
	JCC	emask
	MOVQ	$SYS_prlimit64, AX
	XORQ	DI, DI
	MOVQ	exe_res(BX)(R12*8), SI
	MOVQ	R12, DX
	SHLQ	$4, DX
	LEAQ	exe_lim(BX)(DX*1), DX
	XORQ	R10, R10
	SYSCALL
	INCQ	R12
	JMP	elimits

emask:
	// The program's signal mask; the thread's kept in x.old.
	MOVQ	$SYS_rt_sigprocmask, AX
	MOVQ	$SIG_SETMASK, DI
	LEAQ	exe_mask(BX), SI
	LEAQ	exe_old(BX), DX
	MOVQ	$8, R10
	SYSCALL

	// Close the descriptors in x.shut.
	MOVQ	exe_shut(BX), R13
	XORQ	R12, R12
eshut:
	TESTQ	$1, R13
	JEQ	enext
	MOVQ	$SYS_close, AX
	MOVQ	R12, DI
	SYSCALL
enext:
	SHRQ	$1, R13
	INCQ	R12
	CMPQ	R12, $3
	JLT	eshut

	MOVQ	$SYS_execve, AX
	MOVQ	exe_path(BX), DI
	MOVQ	exe_argv(BX), SI
	MOVQ	exe_envp(BX), DX
	SYSCALL
	NEGQ	AX
	MOVQ	AX, R9

	// It failed: the thread's mask and the limits as they were.
	MOVQ	$SYS_rt_sigprocmask, AX
	MOVQ	$SIG_SETMASK, DI
	LEAQ	exe_old(BX), SI
	XORQ	DX, DX
	MOVQ	$8, R10
	SYSCALL
	XORQ	R12, R12
eback:
	CMPQ	R12, exe_nlim(BX)
	JCC	edone
	MOVQ	$SYS_prlimit64, AX
	XORQ	DI, DI
	MOVQ	exe_res(BX)(R12*8), SI
	MOVQ	R12, DX
	SHLQ	$4, DX
	LEAQ	exe_back(BX)(DX*1), DX
	XORQ	R10, R10
	SYSCALL
	INCQ	R12
	JMP	eback
edone:
	MOVQ	R9, errno+8(FP)
	RET

// func spawn(x *exe) (pid, errno uintptr)
//
// The child runs on this same stack, as vfork's does, while this thread waits
// in clone until the child has exec'd or exited; it uses registers and x
// only, never the stack, so our frame is as we left it.
TEXT ·spawn(SB),NOSPLIT,$0-24
	MOVQ	x+0(FP), BX

	// clone3 with CLONE_CLEAR_SIGHAND (x.cargs): the child starts with every
	// caught signal at its default and ignored ones ignored, so no Go
	// handler can run in it, and nothing need be blocked here or reset
	// there. Kernels before 5.5 (and qemu-user, and some seccomp filters)
	// refuse it: then clone, below.
	MOVQ	$SYS_clone3, AX
	LEAQ	exe_cargs(BX), DI
	MOVQ	$const_cloneArgsSize, SI
	SYSCALL
	TESTQ	AX, AX
	JEQ	cleared
	CMPQ	AX, $-ENOSYS
	JEQ	noclone3
	CMPQ	AX, $-EINVAL
	JEQ	noclone3
	MOVQ	AX, R12
	JMP	spawned

noclone3:
	// Every signal a Go handler catches blocked on this thread: no Go
	// handler may run in the child, which shares our memory. The child
	// inherits this mask.
	MOVQ	$SYS_rt_sigprocmask, AX
	MOVQ	$SIG_SETMASK, DI
	LEAQ	exe_all(BX), SI
	LEAQ	exe_old(BX), DX
	MOVQ	$8, R10
	SYSCALL

	MOVQ	$SYS_clone, AX
	MOVQ	$CLONE_SPAWN, DI
	XORQ	SI, SI
	XORQ	DX, DX
	XORQ	R10, R10
	XORQ	R8, R8
	SYSCALL
	TESTQ	AX, AX
	JEQ	child
	MOVQ	AX, R12

	MOVQ	$SYS_rt_sigprocmask, AX
	MOVQ	$SIG_SETMASK, DI
	LEAQ	exe_old(BX), SI
	XORQ	DX, DX
	MOVQ	$8, R10
	SYSCALL

spawned:
	TESTQ	R12, R12
	JLT	noclone
	MOVQ	R12, pid+8(FP)
	MOVQ	$0, errno+16(FP)
	RET
noclone:
	NEGQ	R12
	MOVQ	$0, pid+8(FP)
	MOVQ	R12, errno+16(FP)
	RET

cleared:
	// The child of clone3: its signals are as they should be.
	MOVQ	$1, exe_shared(BX)
	JMP	limits

child:
	// Say that this child runs in our memory, as vfork's does: its exec
	// failure then needs no pipe (Spawn).
	MOVQ	$1, exe_shared(BX)

	// Every signal back to its default, but those ignored: rt_sigaction(s,
	// &x.dfl, &x.act), and rt_sigaction(s, &x.ign, NULL) if it was SIG_IGN.
	MOVQ	$1, R12
csig:
	MOVQ	$SYS_rt_sigaction, AX
	MOVQ	R12, DI
	LEAQ	exe_dfl(BX), SI
	LEAQ	exe_act(BX), DX
	MOVQ	$8, R10
	SYSCALL
	TESTQ	AX, AX
	JNE	cnext
	CMPQ	exe_act(BX), $const_sigIGN
	JNE	cnext
	MOVQ	$SYS_rt_sigaction, AX
	MOVQ	R12, DI
	LEAQ	exe_ign(BX), SI
	XORQ	DX, DX
	MOVQ	$8, R10
	SYSCALL
cnext:
	INCQ	R12
	CMPQ	R12, $const_nsig
	JLE	csig

	// The program's limits.
limits:
	XORQ	R12, R12
climits:
	CMPQ	R12, exe_nlim(BX)
	JCC	cfds
	MOVQ	$SYS_prlimit64, AX
	XORQ	DI, DI
	MOVQ	exe_res(BX)(R12*8), SI
	MOVQ	R12, DX
	SHLQ	$4, DX
	LEAQ	exe_lim(BX)(DX*1), DX
	XORQ	R10, R10
	SYSCALL
	INCQ	R12
	JMP	climits

cfds:
	// Descriptor i: x.fds[i] moved there (dup3 clears close-on-exec), kept
	// with close-on-exec cleared, or closed (-1); those past x.nfd, up to
	// 2, closed. Spawn saw to it that no source is a place before its own.
	XORQ	R12, R12
cfd:
	CMPQ	R12, exe_nfd(BX)
	JCC	cshut
	MOVQ	exe_fds(BX)(R12*8), DI
	TESTQ	DI, DI
	JGE	cmove
	MOVQ	$SYS_close, AX
	MOVQ	R12, DI
	SYSCALL
	INCQ	R12
	JMP	cfd
cmove:
	CMPQ	DI, R12
	JEQ	ckeep
	MOVQ	$SYS_dup3, AX
	MOVQ	R12, SI
	XORQ	DX, DX
	SYSCALL
	JMP	cfdok
ckeep:
	MOVQ	$SYS_fcntl, AX
	MOVQ	$F_SETFD, SI
	XORQ	DX, DX
	SYSCALL
cfdok:
	TESTQ	AX, AX
	JLT	cfail
	INCQ	R12
	JMP	cfd
cshut:
	CMPQ	R12, $3
	JCC	cexec
	MOVQ	$SYS_close, AX
	MOVQ	R12, DI
	SYSCALL
	INCQ	R12
	JMP	cshut

cexec:
	MOVQ	$SYS_rt_sigprocmask, AX
	MOVQ	$SIG_SETMASK, DI
	LEAQ	exe_mask(BX), SI
	XORQ	DX, DX
	MOVQ	$8, R10
	SYSCALL
	MOVQ	$SYS_execve, AX
	MOVQ	exe_path(BX), DI
	MOVQ	exe_argv(BX), SI
	MOVQ	exe_envp(BX), DX
	SYSCALL
cfail:
	// Tell the parent why in x.err and, in case the child's memory is a
	// copy (qemu-user's emulation of vfork is fork), on the pipe.
	NEGQ	AX
	MOVQ	AX, exe_err(BX)
	MOVQ	$SYS_write, AX
	MOVQ	exe_pipe(BX), DI
	LEAQ	exe_err(BX), SI
	MOVQ	$8, DX
	SYSCALL
	MOVQ	$SYS_exit_group, AX
	MOVQ	$127, DI
	SYSCALL
	INT	$3
