// Port output and TSC reads for the board.

//go:build tamago && amd64

#include "textflag.h"

// func outb(port uint16, val uint8)
TEXT ·outb(SB),NOSPLIT,$0-3
	MOVW	port+0(FP), DX
	MOVB	val+2(FP), AX
	OUTB
	RET

// func rdtsc() uint64
TEXT ·rdtsc(SB),NOSPLIT,$0-8
	RDTSC
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, ret+0(FP)
	RET

// func haltForever()
TEXT ·haltForever(SB),NOSPLIT,$0
	CLI
loop:
	HLT
	JMP	loop
