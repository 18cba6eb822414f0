// The boot information Xen hands a PVH guest (hvm/start_info.h), as copied by the entry code.

package xenpvh

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// struct hvm_start_info and struct hvm_memmap_table_entry layout (arch-x86/hvm/start_info.h),
// checked against the header by xen/abi; the entry assembly uses them through go_asm.h.
const (
	XEN_HVM_START_MAGIC_VALUE      = 0x336ec578
	SizeofStartInfo                = 56
	OffsetofStartInfoVersion       = 4
	OffsetofStartInfoFlags         = 8
	OffsetofStartInfoCmdlinePaddr  = 24
	OffsetofStartInfoRsdpPaddr     = 32
	OffsetofStartInfoMemmapPaddr   = 40
	OffsetofStartInfoMemmapEntries = 48
	SizeofMemmapEntry              = 24
	XEN_HVM_MEMMAP_TYPE_RAM        = 1 // the E820 numbering
	XEN_HVM_MEMMAP_TYPE_RESERVED   = 2
)

// The copy the entry code makes (bootInfo): the start info at 0, up to maxMemmap memory map
// entries at bootMemmapOff, the command line (NUL-terminated) at bootCmdlineOff.
const (
	maxMemmap      = 128
	maxCmdline     = 2048
	bootMemmapOff  = 64
	bootCmdlineOff = 4096
	bootInfoSize   = bootCmdlineOff + maxCmdline
	fallbackRAMEnd = 32 << 20
)

// MemmapEntry is one entry of the guest's memory map.
type MemmapEntry struct {
	Addr, Size uint64
	Type       uint32
}

// End is the first address after the entry.
func (e MemmapEntry) End() uint64 { return e.Addr + e.Size }

// StartInfo is what the board learnt from Xen's hvm_start_info.
type StartInfo struct {
	Version uint32
	Flags   uint32
	RSDP    uint64
	Memmap  []MemmapEntry
	Cmdline string
}

// ErrNoStartInfo means the guest was not started through the PVH entry point.
var ErrNoStartInfo = errors.New("xenpvh: no hvm_start_info (not booted as a PVH guest?)")

// ParseBootInfo decodes the copy the entry code made: the start info at offset 0, count memory
// map entries at bootMemmapOff, and a NUL-terminated command line at bootCmdlineOff.
func ParseBootInfo(b []byte, count int) (StartInfo, error) {
	if len(b) < bootInfoSize {
		return StartInfo{}, fmt.Errorf("xenpvh: boot info is %d bytes, want %d", len(b), bootInfoSize)
	}
	le := binary.LittleEndian
	if le.Uint32(b) != XEN_HVM_START_MAGIC_VALUE {
		return StartInfo{}, ErrNoStartInfo
	}
	si := StartInfo{
		Version: le.Uint32(b[OffsetofStartInfoVersion:]),
		Flags:   le.Uint32(b[OffsetofStartInfoFlags:]),
		RSDP:    le.Uint64(b[OffsetofStartInfoRsdpPaddr:]),
	}
	if count < 0 || count > maxMemmap {
		return StartInfo{}, fmt.Errorf("xenpvh: %d memory map entries copied, at most %d fit", count, maxMemmap)
	}
	for i := 0; i < count; i++ {
		e := b[bootMemmapOff+i*SizeofMemmapEntry:]
		si.Memmap = append(si.Memmap, MemmapEntry{Addr: le.Uint64(e), Size: le.Uint64(e[8:]), Type: le.Uint32(e[16:])})
	}
	cl := b[bootCmdlineOff : bootCmdlineOff+maxCmdline]
	for i, c := range cl {
		if c == 0 {
			cl = cl[:i]
			break
		}
	}
	si.Cmdline = string(cl)
	return si, nil
}
