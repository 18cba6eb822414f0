// Hypercall trampoline, CPUID and WRMSR for a TamaGo amd64 guest.

//go:build tamago && amd64

#include "textflag.h"

// func cpuid(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB),NOSPLIT,$0-24
	MOVL	leaf+0(FP), AX
	MOVL	subleaf+4(FP), CX
	CPUID
	MOVL	AX, eax+8(FP)
	MOVL	BX, ebx+12(FP)
	MOVL	CX, ecx+16(FP)
	MOVL	DX, edx+20(FP)
	RET

// func wrmsr(msr uint32, val uint64)
TEXT ·wrmsr(SB),NOSPLIT,$0-16
	MOVL	msr+0(FP), CX
	MOVQ	val+8(FP), AX
	MOVQ	AX, DX
	SHRQ	$32, DX
	WRMSR
	RET

// The x86-64 hypercall ABI passes arguments in RDI, RSI, RDX, R10, R8 and returns in RAX; the
// hypercalls issued here take at most three. Debug builds of Xen clobber the argument registers
// on return; ABI0 callers expect that. All three stubs are NOSPLIT with no frame: the stack
// cannot move between loading a buffer's address and the hypercall.

// func trampoline(addr, a1, a2 uintptr) int64
TEXT ·trampoline(SB),NOSPLIT,$0-32
	MOVQ	addr+0(FP), AX
	MOVQ	a1+8(FP), DI
	MOVQ	a2+16(FP), SI
	CALL	AX
	MOVQ	AX, ret+24(FP)
	RET

// func trampolineBuf2(addr, a1 uintptr, buf []byte, a3 uintptr) int64
TEXT ·trampolineBuf2(SB),NOSPLIT,$0-56
	MOVQ	addr+0(FP), AX
	MOVQ	a1+8(FP), DI
	MOVQ	buf_base+16(FP), SI
	MOVQ	a3+40(FP), DX
	CALL	AX
	MOVQ	AX, ret+48(FP)
	RET

// func trampolineBuf3(addr, a1, a2 uintptr, buf []byte) int64
TEXT ·trampolineBuf3(SB),NOSPLIT,$0-56
	MOVQ	addr+0(FP), AX
	MOVQ	a1+8(FP), DI
	MOVQ	a2+16(FP), SI
	MOVQ	buf_base+24(FP), DX
	CALL	AX
	MOVQ	AX, ret+48(FP)
	RET
