// Atomic loads from the shared_info page, which Xen writes concurrently.

package pvclock

import (
	"sync/atomic"
	"unsafe"
)

// The atomic loads order each read after the previous one, which is what the version protocol
// needs: the fields are read strictly between the two reads of the version. Slicing (not
// indexing) does the bounds check, so nothing is read non-atomically.

func load32(b []byte, off int) uint32 {
	b = b[off : off+4]
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(unsafe.SliceData(b))))
}

func load64(b []byte, off int) uint64 {
	b = b[off : off+8]
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(unsafe.SliceData(b))))
}
