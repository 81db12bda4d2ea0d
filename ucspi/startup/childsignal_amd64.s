#include "textflag.h"

#define SYS_write		1
#define SYS_rt_sigreturn	15

// The SIGCHLD handler of ChildSignals: write(childEvents, &childOne, 8). The
// kernel calls it on the thread's signal stack (SA_ONSTACK) with C's calling
// convention, and puts every register back after it, so it needs no frame
// and may use any register. A counter that would overflow (EAGAIN) already
// has the reader's attention.
TEXT childSignal<>(SB),NOSPLIT|NOFRAME,$0
	MOVQ	·childEvents(SB), DI
	LEAQ	·childOne(SB), SI
	MOVL	$8, DX
	MOVL	$SYS_write, AX
	SYSCALL
	RET

// Where childSignal returns to (SA_RESTORER): back to the interrupted code.
TEXT childRestorer<>(SB),NOSPLIT|NOFRAME,$0
	MOVL	$SYS_rt_sigreturn, AX
	SYSCALL
	INT	$3

// func childHandler() (handler, restorer uint64)
TEXT ·childHandler(SB),NOSPLIT,$0-16
	LEAQ	childSignal<>(SB), AX
	MOVQ	AX, handler+0(FP)
	LEAQ	childRestorer<>(SB), AX
	MOVQ	AX, restorer+8(FP)
	RET
