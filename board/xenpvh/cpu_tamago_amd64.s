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

// func halt()
// Halts until an interrupt arrives, unless an upcall is already waiting to be serviced. The
// flag is tested with interrupts disabled and STI's one-instruction shadow makes STI;HLT atomic,
// so an upcall raised after the test still ends the HLT.
TEXT ·halt(SB),NOSPLIT,$0
	CLI
	CMPL	·upcallRaised(SB), $0
	JNE	done
	STI
	HLT
done:
	STI
	RET

// upcallEntry is the interrupt gate of the upcall vector. It touches no Go runtime state: it
// records the upcall, acknowledges it at the local APIC at once (so the next one can be raised
// while this is serviced) and returns. The scheduler's idle hook services it.
TEXT ·upcallEntry(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	AX
	MOVL	$1, ·upcallRaised(SB)
	MOVQ	$0xfee000b0, AX // lapicEOI
	MOVL	$0, (AX)
	POPQ	AX
	IRETQ

// backstopEntry is the interrupt gate of the local APIC timer's backstop vector: like
// upcallEntry it only records (backstopRaised) and acknowledges.
TEXT ·backstopEntry(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	AX
	MOVL	$1, ·backstopRaised(SB)
	MOVQ	$0xfee000b0, AX // lapicEOI
	MOVL	$0, (AX)
	POPQ	AX
	IRETQ

// func backstopEntryAddr() uintptr
TEXT ·backstopEntryAddr(SB),NOSPLIT,$0-8
	MOVQ	$·backstopEntry(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// func mmioWrite32(addr uintptr, val uint32)
TEXT ·mmioWrite32(SB),NOSPLIT,$0-12
	MOVQ	addr+0(FP), AX
	MOVL	val+8(FP), BX
	MOVL	BX, (AX)
	RET

// func upcallEntryAddr() uintptr
TEXT ·upcallEntryAddr(SB),NOSPLIT,$0-8
	MOVQ	$·upcallEntry(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// func idtBase() uintptr
TEXT ·idtBase(SB),NOSPLIT,$16-8
	SIDT	0(SP)
	MOVQ	2(SP), AX
	MOVQ	AX, ret+0(FP)
	RET

// func haltForever()
TEXT ·haltForever(SB),NOSPLIT,$0
	CLI
loop:
	HLT
	JMP	loop
