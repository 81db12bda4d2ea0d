#include "textflag.h"

#define SYS_write	64

// childsignal_amd64.s says what this does. The kernel returns from it through
// its own trampoline (the link register it set), so there is no restorer.
TEXT childSignal<>(SB),NOSPLIT|NOFRAME,$0
	MOVD	·childEvents(SB), R0
	MOVD	$·childOne(SB), R1
	MOVD	$8, R2
	MOVD	$SYS_write, R8
	SVC
	RET

// func childHandler() (handler, restorer uint64)
TEXT ·childHandler(SB),NOSPLIT,$0-16
	MOVD	$childSignal<>(SB), R0
	MOVD	R0, handler+0(FP)
	MOVD	ZR, restorer+8(FP)
	RET
