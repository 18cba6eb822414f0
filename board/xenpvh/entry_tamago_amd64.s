// PVH entry: from Xen's 32-bit start state to long mode and the Go runtime.

//go:build tamago && amd64 && linkcpuinit

#include "go_asm.h"
#include "textflag.h"

// Xen starts a PVH guest at the ELF note's entry in 32-bit protected mode, paging off, flat
// segments, interrupts off, no stack, and %ebx holding the guest-physical address of
// struct hvm_start_info. TamaGo's _rt0_amd64_tamago jumps here (runtime/goos.CPUInit -> cpuinit).
//
// Until the far jump to 64-bit code below, the CPU decodes our instructions as 32-bit code:
// only instructions without a REX prefix (MOVL, ADDL, ...) and register-indirect addressing are
// used there. Absolute addresses of Go symbols are not known to 32-bit code (the assembler
// emits RIP-relative LEAs); they are rebuilt from the current PC, as TamaGo's own cpuinit does.

// Fixed low-memory layout (first 2 MiB, below the linked image at RamStart).
#define BOOT_STACK 0x9000	// grows down from here during the 32-bit part
#define PML4T      0x9000
#define PDPT       0xa000
#define PDT        0xb000	// four pages: 0-4 GiB in 2 MiB entries
#define PT         0xf000	// first 2 MiB in 4 KiB entries, so page 0 can stay unmapped
#define TABLES_END 0x10000

#define MSR_EFER 0xc0000080

// The LAPIC page is emulated MMIO and must not be cached: its 2 MiB entry gets PCD|PWT.
#define LAPIC_PDT_ENTRY (PDT + (0xfee00000 >> 21) * 8)

// GDT: null, 64-bit code at selector 0x08 (TamaGo's IDT gates use it), data at 0x10.
DATA	·gdt<>+0x00(SB)/8, $0x0000000000000000
DATA	·gdt<>+0x08(SB)/8, $0x00209a0000000000
DATA	·gdt<>+0x10(SB)/8, $0x0000920000000000
GLOBL	·gdt<>(SB),RODATA,$24

DATA	·gdtptr<>+0x00(SB)/2, $(3*8-1)
DATA	·gdtptr<>+0x02(SB)/8, $·gdt<>(SB)
GLOBL	·gdtptr<>(SB),RODATA,$(2+8)

TEXT cpuinit(SB),NOSPLIT|NOFRAME,$0
	CLI
	MOVL	$BOOT_STACK, SP

	// Keep the hvm_start_info pointer in BP: everything below leaves BP alone.
	MOVL	BX, BP

	// Clear the page tables.
	XORL	AX, AX
	MOVL	$PML4T, DI
	MOVL	$(TABLES_END-PML4T), CX
	CLD
	REP;	STOSB

	// PML4T[0] -> PDPT; PDPT[0..3] -> the four PDT pages (R/W, P).
	MOVL	$PML4T, DI
	MOVL	$(PDPT | 1<<1 | 1<<0), (DI)
	MOVL	$PDPT, DI
	MOVL	$(PDT + 0x0000 | 1<<1 | 1<<0), 0(DI)
	MOVL	$(PDT + 0x1000 | 1<<1 | 1<<0), 8(DI)
	MOVL	$(PDT + 0x2000 | 1<<1 | 1<<0), 16(DI)
	MOVL	$(PDT + 0x3000 | 1<<1 | 1<<0), 24(DI)

	// PDT[i] = i * 2 MiB, identity, 2 MiB pages (PS, R/W, P). Xen under QEMU/TCG offers HAP
	// with 4 KiB and 2 MiB pages only, so TamaGo's 1 GiB mappings would fault.
	MOVL	$PDT, DI
	MOVL	$(1<<7 | 1<<1 | 1<<0), AX
pdt_loop:
	MOVL	AX, (DI)
	ADDL	$8, DI
	ADDL	$(1<<21), AX
	CMPL	DI, $(PDT + 0x4000)
	JB	pdt_loop

	// LAPIC: uncacheable (PCD, PWT).
	MOVL	$LAPIC_PDT_ENTRY, DI
	ORL	$(1<<4 | 1<<3), (DI)

	// PDT[0] -> PT: the first 2 MiB in 4 KiB pages, page 0 left not-present so that nil
	// pointer dereferences fault.
	MOVL	$PDT, DI
	MOVL	$(PT | 1<<1 | 1<<0), (DI)
	MOVL	$(PT + 8), DI
	MOVL	$(0x1000 | 1<<1 | 1<<0), AX
pt_loop:
	MOVL	AX, (DI)
	ADDL	$8, DI
	ADDL	$0x1000, AX
	CMPL	DI, $(PT + 0x1000)
	JB	pt_loop

	// Long mode: CR3, CR4.PAE, EFER.LME, then CR0.PG.
	MOVL	$PML4T, AX
	MOVL	AX, CR3
	MOVL	CR4, AX
	ORL	$(1<<5), AX
	MOVL	AX, CR4
	MOVL	$MSR_EFER, CX
	RDMSR
	ORL	$(1<<8), AX
	WRMSR
	MOVL	CR0, AX
	ORL	$(1<<31 | 1<<0), AX
	MOVL	AX, CR0

	// Load the GDT: its address is this PC plus the LEA displacement (see top of file).
	CALL	·getPC<>(SB)
	MOVL	$·gdtptr<>(SB), BX
	ADDL	$6, AX
	ADDL	BX, AX
	LGDT	(AX)

	// Far return into 64-bit code at ·start64<> with CS = 0x08.
	CALL	·getPC<>(SB)
	MOVL	$·start64<>(SB), BX
	ADDL	$6, AX
	ADDL	BX, AX
	PUSHQ	$0x08	// 0x6a: pushes 4 bytes in 32-bit code
	PUSHQ	AX
	BYTE	$0xcb	// RETF (32-bit operand size: pops EIP, then CS)

// getPC returns, in AX, the address it was called from.
TEXT ·getPC<>(SB),NOSPLIT|NOFRAME,$0
	POPQ	AX	// 0x58: POP EAX in 32-bit code
	JMP	AX

TEXT ·start64<>(SB),NOSPLIT|NOFRAME,$0
	// The data segments still hold Xen's 32-bit selectors: load ours.
	MOVL	$0x10, AX
	MOVW	AX, DS
	MOVW	AX, ES
	MOVW	AX, SS
	MOVW	AX, FS
	MOVW	AX, GS

	// The boot timeline's origin: the TSC a few microseconds after Xen started us (the page
	// tables above are the only work before it). Hwinit1 turns it into Xen system time.
	RDTSC
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, ·entryTSC(SB)

	// Upper halves of registers are undefined after the mode switch.
	MOVL	BP, BP
	MOVQ	$BOOT_STACK, SP

	CALL	sse_enable(SB)

	MOVQ	runtime∕goos·RamStart(SB), DX

	// Copy hvm_start_info, its memory map and the command line into ·bootInfo before the Go
	// heap can overwrite them: Xen places them right after the image, where the heap begins.
	MOVQ	BP, SI
	MOVQ	BP, ·startInfoAddr(SB)
	LEAQ	·bootInfo(SB), DI
	CMPL	(SI), $const_XEN_HVM_START_MAGIC_VALUE
	JNE	no_start_info
	MOVQ	$const_SizeofStartInfo, CX
	CLD
	REP;	MOVSB

	// Memory map: min(memmap_entries, maxMemmap) entries of 24 bytes (start info version >= 1).
	LEAQ	·bootInfo(SB), BX
	CMPL	4(BX), $1
	JB	copy_cmdline
	MOVQ	const_OffsetofStartInfoMemmapPaddr(BX), SI
	CMPQ	SI, $0
	JE	copy_cmdline
	MOVL	const_OffsetofStartInfoMemmapEntries(BX), CX
	CMPQ	CX, $const_maxMemmap
	JBE	memmap_count_ok
	MOVQ	$const_maxMemmap, CX
memmap_count_ok:
	MOVL	CX, ·memmapCopied(SB)
	IMULQ	$const_SizeofMemmapEntry, CX
	LEAQ	const_bootMemmapOff(BX), DI
	REP;	MOVSB

copy_cmdline:
	MOVQ	const_OffsetofStartInfoCmdlinePaddr(BX), SI
	CMPQ	SI, $0
	JE	layout
	LEAQ	const_bootCmdlineOff(BX), DI
	MOVQ	$(const_maxCmdline-1), CX
cmdline_loop:
	MOVB	(SI), AX
	CMPB	AX, $0
	JE	layout
	MOVB	AX, (DI)
	INCQ	SI
	INCQ	DI
	DECQ	CX
	JNZ	cmdline_loop

layout:
	// ramEnd: the end of the E820 RAM entry holding RamStart (DX); pvh.ComputeLayout makes
	// the same decision, and Go checks the two agree.
	LEAQ	·bootInfo(SB), BX
	LEAQ	const_bootMemmapOff(BX), SI
	MOVL	·memmapCopied(SB), CX
find_ram:
	CMPQ	CX, $0
	JE	no_start_info
	CMPL	16(SI), $1		// type == E820 RAM
	JNE	next_entry
	MOVQ	0(SI), AX		// addr
	CMPQ	DX, AX
	JB	next_entry
	ADDQ	8(SI), AX		// addr + size
	CMPQ	DX, AX
	JAE	next_entry
	MOVQ	AX, ·ramEnd(SB)
	JMP	set_size
next_entry:
	ADDQ	$const_SizeofMemmapEntry, SI
	DECQ	CX
	JMP	find_ram

no_start_info:
	// No usable memory map: assume the smallest supported guest; Go reports it at Hwinit1.
	MOVQ	$const_fallbackRAMEnd, AX
	MOVQ	AX, ·ramEnd(SB)

set_size:
	// DMA region size: (ramEnd - RamStart) / 8, within [dmaMin, dmaMax], 1 MiB aligned.
	MOVQ	·ramEnd(SB), AX
	SUBQ	DX, AX
	MOVQ	AX, BX			// BX = RAM available above RamStart
	SHRQ	$3, AX
	ANDQ	$~(const_dmaAlign-1), AX
	CMPQ	AX, $const_dmaMin
	JAE	dma_not_small
	MOVQ	$const_dmaMin, AX
dma_not_small:
	CMPQ	AX, $const_dmaMax
	JBE	dma_ok
	MOVQ	$const_dmaMax, AX
dma_ok:
	SUBQ	AX, BX
	MOVQ	BX, runtime∕goos·RamSize(SB)

	// Go's initial stack sits RamStackOffset below the end of the runtime's RAM.
	MOVQ	runtime∕goos·RamStart(SB), SP
	ADDQ	runtime∕goos·RamSize(SB), SP
	SUBQ	runtime∕goos·RamStackOffset(SB), SP

	STI
	JMP	_rt0_tamago_start(SB)
