// The unsafe step that lets sync/atomic reach the indices in the shared ring header.

package ring

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// headerPtrs returns pointers to req_prod, req_event, rsp_prod and rsp_event. The header is
// memory the other domain writes concurrently, so these fields are only ever accessed through
// sync/atomic: a plain load could be torn, hoisted out of a loop, or reordered with the slot
// accesses it is meant to order.
func headerPtrs(page []byte) ([4]*uint32, error) {
	var p [4]*uint32
	if len(page) < HeaderSize {
		return p, fmt.Errorf("ring: page of %d bytes has no room for the header", len(page))
	}
	base := unsafe.Pointer(unsafe.SliceData(page))
	if uintptr(base)%4 != 0 {
		return p, fmt.Errorf("ring: page not 4-byte aligned")
	}
	for i, off := range [4]int{OffReqProd, OffReqEvent, OffRspProd, OffRspEvent} {
		p[i] = (*uint32)(unsafe.Add(base, off))
	}
	return p, nil
}

// loadIdx and storeIdx are the only accesses to the shared indices. Go's atomics are
// sequentially consistent, which gives each ordering point below what ring.h's xen_rmb,
// xen_wmb and xen_mb give the C macros.
func loadIdx(p *uint32) uint32     { return atomic.LoadUint32(p) }
func storeIdx(p *uint32, v uint32) { atomic.StoreUint32(p, v) }
