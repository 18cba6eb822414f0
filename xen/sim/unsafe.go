// The few unsafe lines: page-aligned arenas and atomic words inside guest pages.

package sim

import (
	"sync/atomic"
	"unsafe"
)

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

// copyWords copies the page src into the page dst one atomic 64-bit word at a time, as Xen
// fills a page the guest may be reading with locked operations (the guest's vCPU would be
// stopped; its goroutines here are not).
func copyWords(dst, src []byte) {
	for off := 0; off+8 <= len(dst) && off+8 <= len(src); off += 8 {
		atomic.StoreUint64(word64(dst, off), atomic.LoadUint64(word64(src, off)))
	}
}
