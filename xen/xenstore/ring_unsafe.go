// The unsafe step that lets sync/atomic reach the indices in the shared interface page.

package xenstore

import (
	"fmt"
	"unsafe"
)

// indexPtrs returns pointers to the u32 fields of the interface page at the given offsets. The
// page is memory another domain writes, so the indices are only ever accessed through
// sync/atomic; a plain load could be torn, cached or reordered with the data copies.
func indexPtrs(page []byte, offs ...int) ([]*uint32, error) {
	if len(page) < InterfaceSize {
		return nil, fmt.Errorf("xenstore: interface page of %d bytes, need %d", len(page), InterfaceSize)
	}
	base := unsafe.Pointer(unsafe.SliceData(page))
	if uintptr(base)%4 != 0 {
		return nil, fmt.Errorf("xenstore: interface page not 4-byte aligned")
	}
	ptrs := make([]*uint32, len(offs))
	for i, off := range offs {
		ptrs[i] = (*uint32)(unsafe.Add(base, off))
	}
	return ptrs, nil
}
