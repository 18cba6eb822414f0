// Atomic accesses to the indices in the shared console page.

package console

import (
	"sync/atomic"
	"unsafe"
)

func load32(b []byte, off int) uint32 {
	b = b[off : off+4]
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(unsafe.SliceData(b))))
}

func store32(b []byte, off int, v uint32) {
	b = b[off : off+4]
	atomic.StoreUint32((*uint32)(unsafe.Pointer(unsafe.SliceData(b))), v)
}

func aligned4(b []byte) bool { return uintptr(unsafe.Pointer(unsafe.SliceData(b)))%4 == 0 }
