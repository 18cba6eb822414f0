// The boot protocol's constants, from xen/pvh, where the entry code and xen/abi find them.

package xenpvh

import "github.com/tamaxen/tamaxen/xen/pvh"

// hvm/start_info.h, as xen/pvh spells it. The entry assembly reads these through go_asm.h, which
// holds only this package's constants; xen/abi checks them against Xen's header.
const (
	XEN_HVM_START_MAGIC_VALUE      = pvh.XEN_HVM_START_MAGIC_VALUE
	SizeofStartInfo                = pvh.SizeofStartInfo
	OffsetofStartInfoVersion       = pvh.OffsetofStartInfoVersion
	OffsetofStartInfoFlags         = pvh.OffsetofStartInfoFlags
	OffsetofStartInfoCmdlinePaddr  = pvh.OffsetofStartInfoCmdlinePaddr
	OffsetofStartInfoRsdpPaddr     = pvh.OffsetofStartInfoRsdpPaddr
	OffsetofStartInfoMemmapPaddr   = pvh.OffsetofStartInfoMemmapPaddr
	OffsetofStartInfoMemmapEntries = pvh.OffsetofStartInfoMemmapEntries
	SizeofMemmapEntry              = pvh.SizeofMemmapEntry
	XEN_HVM_MEMMAP_TYPE_RAM        = pvh.XEN_HVM_MEMMAP_TYPE_RAM
	XEN_HVM_MEMMAP_TYPE_RESERVED   = pvh.XEN_HVM_MEMMAP_TYPE_RESERVED
)

// The entry code's copy of the start info (bootInfo) and its sizing of the DMA region, which
// pvh.ParseBootInfo and pvh.ComputeLayout read and check.
const (
	maxMemmap      = pvh.MaxMemmap
	maxCmdline     = pvh.MaxCmdline
	bootMemmapOff  = pvh.BootMemmapOff
	bootCmdlineOff = pvh.BootCmdlineOff
	bootInfoSize   = pvh.BootInfoSize
	dmaAlign       = pvh.DMAAlign
	dmaMin         = pvh.DMAMin
	dmaMax         = pvh.DMAMax
	// fallbackRAMEnd is the RAM the entry code assumes without a usable memory map: the
	// smallest supported guest. Go then reports the missing start info and stops.
	fallbackRAMEnd = 32 << 20
)

// TotalRAM sums the RAM entries of the memory map.
func TotalRAM(mm []pvh.MemmapEntry) uint64 { return pvh.TotalRAM(mm) }
