// The few unsafe lines: the atomic header word of a grant entry, and alignment checks.

package gnttab

import "unsafe"

// aligned reports whether b starts on an n-byte boundary (n a power of two).
func aligned(b []byte, n uintptr) bool {
	return len(b) > 0 && uintptr(unsafe.Pointer(unsafe.SliceData(b)))&(n-1) == 0
}

// word32 returns the 32-bit word at e[0:4]: a grant entry's flags (low half on little-endian)
// and domid. Frames are checked to be page aligned when mapped, so every entry is 8-byte aligned.
func word32(e []byte) *uint32 {
	return (*uint32)(unsafe.Pointer(&e[:4][0]))
}
