// The few unsafe lines: atomic words inside the shared_info page.

package evtchn

import "unsafe"

// aligned8 reports whether b starts on an 8-byte boundary, which the 64-bit atomics below need
// (a misaligned locked operation would split across cache lines, or fault on other CPUs).
func aligned8(b []byte) bool {
	return len(b) > 0 && uintptr(unsafe.Pointer(unsafe.SliceData(b)))%8 == 0
}

// word64 returns the 64-bit word at b[off:off+8]. The slice expression bounds-checks, and
// sharedInfo validates length and alignment once, so off is always in range and aligned.
func word64(b []byte, off int) *uint64 {
	return (*uint64)(unsafe.Pointer(&b[off : off+8][0]))
}

// word32 returns the 32-bit word at b[off:off+4].
func word32(b []byte, off int) *uint32 {
	return (*uint32)(unsafe.Pointer(&b[off : off+4][0]))
}
