// The few unsafe lines: page-aligned arenas and atomic words inside guest pages.

package sim

import "unsafe"

// alignedPages returns n zeroed pages starting on a page boundary, as guest RAM is.
func alignedPages(n int) []byte {
	const page = 4096
	b := make([]byte, (n+1)*page)
	off := int(page-uintptr(unsafe.Pointer(unsafe.SliceData(b)))%page) % page
	return b[off : off+n*page : off+n*page]
}

// word32 returns the 32-bit word at b[off:off+4]; callers keep off 4-aligned within an aligned
// page.
func word32(b []byte, off int) *uint32 {
	return (*uint32)(unsafe.Pointer(&b[off : off+4][0]))
}

// word64 returns the 64-bit word at b[off:off+8]; callers keep off 8-aligned.
func word64(b []byte, off int) *uint64 {
	return (*uint64)(unsafe.Pointer(&b[off : off+8][0]))
}
