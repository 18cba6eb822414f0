// The boot information Xen hands a PVH guest (hvm/start_info.h), as copied by the entry code.

package pvh

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// struct hvm_start_info and struct hvm_memmap_table_entry layout (arch-x86/hvm/start_info.h),
// checked against the header by xen/abi; the board's entry assembly uses them through go_asm.h.
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

// The copy the board's entry code makes of what Xen placed right after the image, before the Go
// heap can overwrite it: BootInfoSize bytes holding the start info at 0, up to MaxMemmap memory
// map entries at BootMemmapOff, and the command line (NUL-terminated, so at most MaxCmdline-1
// bytes of it) at BootCmdlineOff.
const (
	MaxMemmap      = 128
	MaxCmdline     = 2048
	BootMemmapOff  = 64
	BootCmdlineOff = 4096
	BootInfoSize   = BootCmdlineOff + MaxCmdline
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
var ErrNoStartInfo = errors.New("pvh: no hvm_start_info (not booted as a PVH guest?)")

// ParseBootInfo decodes the copy the board's entry code made: the start info at offset 0, count
// memory map entries at BootMemmapOff, and a NUL-terminated command line at BootCmdlineOff.
func ParseBootInfo(b []byte, count int) (StartInfo, error) {
	if len(b) < BootInfoSize {
		return StartInfo{}, fmt.Errorf("pvh: boot info is %d bytes, want %d", len(b), BootInfoSize)
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
	if count < 0 || count > MaxMemmap {
		return StartInfo{}, fmt.Errorf("pvh: %d memory map entries copied, at most %d fit", count, MaxMemmap)
	}
	for i := 0; i < count; i++ {
		e := b[BootMemmapOff+i*SizeofMemmapEntry:]
		si.Memmap = append(si.Memmap, MemmapEntry{Addr: le.Uint64(e), Size: le.Uint64(e[8:]), Type: le.Uint32(e[16:])})
	}
	cl := b[BootCmdlineOff : BootCmdlineOff+MaxCmdline]
	for i, c := range cl {
		if c == 0 {
			cl = cl[:i]
			break
		}
	}
	si.Cmdline = string(cl)
	return si, nil
}
