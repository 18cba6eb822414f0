// The unsafe lines: a word of a shared page as a sync/atomic value, alignment, aligned pages.

package shmem

import (
	"sync/atomic"
	"unsafe"

	"github.com/tamaxen/tamaxen/xen"
)

// Uint32 returns the 32-bit word at b[off:off+4]. A word that does not lie wholly inside the
// view panics instead of reaching the memory around it. The word must be 4-byte aligned: check
// the view once with Aligned, and the wire layouts keep their fields aligned.
func Uint32(b []byte, off int) *atomic.Uint32 {
	return (*atomic.Uint32)(at(b, off, 4))
}

// Uint64 returns the 64-bit word at b[off:off+8], which must be 8-byte aligned (a misaligned
// locked operation would split across cache lines, or fault).
func Uint64(b []byte, off int) *atomic.Uint64 {
	return (*atomic.Uint64)(at(b, off, 8))
}

// at is the address of b[off:off+n], bounds-checked against b's length (a plain reslice would
// only check its capacity).
func at(b []byte, off, n int) unsafe.Pointer {
	return unsafe.Pointer(unsafe.SliceData(b[off:len(b):len(b)][:n]))
}

// Aligned reports whether b is not empty and starts on an n-byte boundary (n a power of two).
func Aligned(b []byte, n uintptr) bool {
	return len(b) > 0 && uintptr(unsafe.Pointer(unsafe.SliceData(b)))&(n-1) == 0
}

// Pages returns n zeroed pages starting on a page boundary, as guest RAM is: the simulated Xen
// builds its guests' memory from them, and tests their shared pages.
func Pages(n int) []byte {
	b := make([]byte, (n+1)*xen.PageSize)
	off := int(xen.PageSize-uintptr(unsafe.Pointer(unsafe.SliceData(b)))%xen.PageSize) % xen.PageSize
	return b[off : off+n*xen.PageSize : off+n*xen.PageSize]
}
