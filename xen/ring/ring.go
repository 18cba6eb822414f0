// The shared ring page of io/ring.h: header layout, capacity and slot addressing.

// Package ring implements the shared request/response rings of Xen's io/ring.h, the transport
// under every PV device (netif, blkif, ...): a page holding a 64-byte header of producer and
// event indices followed by a power-of-two array of slots, each a union of one request and one
// response. The front end produces requests and consumes responses; the back end the reverse.
//
// It is portable Go (no TamaGo import) and works on a []byte page. Callers encode requests and
// responses in place in the slot bytes the producer side hands out, and the consumer side
// copies each entry out exactly once before the caller looks at it, so the other domain cannot
// change an entry between validation and use. Indices are free-running u32s that wrap, as in C.
//
// The mapping to the C macros:
//
//	XEN_FRONT_RING_INIT            NewFront
//	FRONT_RING_ATTACH              AttachFront
//	BACK_RING_INIT/ATTACH          NewBack, AttachBack
//	RING_SIZE                      Size (and the package function Size, __CONST_RING_SIZE)
//	RING_FREE_REQUESTS, RING_FULL  (*Front).FreeRequests, Full
//	RING_GET_REQUEST(req_prod_pvt++) (*Front).NextRequest
//	RING_PUSH_REQUESTS[_AND_CHECK_NOTIFY]  (*Front).PushRequests[AndCheckNotify]
//	RING_COPY_RESPONSE(rsp_cons++)  (*Front).ConsumeResponse
//	RING_FINAL_CHECK_FOR_RESPONSES (*Front).FinalCheckForResponses
//	and the back-end mirror images on *Back.
//
// A Front or Back is not safe for concurrent use: the driver serialises each ring with its lock.
// The other end is untrusted: a producer index that claims more entries than can exist makes
// the consuming side return xen.ErrBroken, then and on every later call.
package ring

import (
	"fmt"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

// Layout of the shared ring header (struct __name##_sring), in bytes from the page start.
const (
	OffReqProd  = 0  // RING_IDX req_prod
	OffReqEvent = 4  // RING_IDX req_event
	OffRspProd  = 8  // RING_IDX rsp_prod
	OffRspEvent = 12 // RING_IDX rsp_event
	OffPvt      = 16 // union pvt (netif.smartpoll_active, tapif_user.msg, pvt_pad[4])
	OffPad      = 20 // uint8_t __pad[44]
	// HeaderSize is offsetof(struct __name##_sring, ring): where slot 0 starts.
	HeaderSize = 64
)

// Size is __CONST_RING_SIZE: the number of slots of slotSize bytes that fit after the header
// in pageSize bytes, rounded down to a power of two so an index maps to a slot by masking.
// It returns 0 if not even one slot fits.
func Size(pageSize, slotSize int) int {
	if slotSize <= 0 || pageSize < HeaderSize+slotSize {
		return 0
	}
	n := (pageSize - HeaderSize) / slotSize
	p := 1
	for p*2 <= n {
		p *= 2
	}
	return p
}

// shared is the view of the page both ends use.
type shared struct {
	page     []byte
	slotSize int
	size     uint32 // nr_ents, a power of two

	// The indices in the header. The other domain writes them concurrently, so they are only
	// ever accessed atomically: a plain load could be torn, hoisted out of a loop, or reordered
	// with the slot accesses it is meant to order. Go's atomics are sequentially consistent,
	// which gives each ordering point what ring.h's xen_rmb, xen_wmb and xen_mb give the C
	// macros.
	reqProd, reqEvent, rspProd, rspEvent *atomic.Uint32
}

func newShared(page []byte, slotSize int) (shared, error) {
	n := Size(len(page), slotSize)
	if n == 0 {
		return shared{}, fmt.Errorf("ring: no %d-byte slot fits in a %d-byte page", slotSize, len(page))
	}
	if uint64(n) > 1<<31 {
		return shared{}, fmt.Errorf("ring: %d slots do not fit u32 index arithmetic", n)
	}
	if !shmem.Aligned(page, 4) {
		return shared{}, fmt.Errorf("ring: page not 4-byte aligned")
	}
	return shared{
		page: page, slotSize: slotSize, size: uint32(n),
		reqProd:  shmem.Uint32(page, OffReqProd),
		reqEvent: shmem.Uint32(page, OffReqEvent),
		rspProd:  shmem.Uint32(page, OffRspProd),
		rspEvent: shmem.Uint32(page, OffRspEvent),
	}, nil
}

// slot returns the bytes of the slot an index maps to.
func (s *shared) slot(idx uint32) []byte {
	off := HeaderSize + int(idx&(s.size-1))*s.slotSize
	return s.page[off : off+s.slotSize : off+s.slotSize]
}

// initHeader is SHARED_RING_INIT: both producers at 0, both event thresholds at 1 so the first
// entry either way is notified, and the private and padding bytes cleared. Only the front end
// initialises; the back end attaches to what the front end set up.
func (s *shared) initHeader() {
	clear(s.page[OffPvt:HeaderSize])
	s.reqProd.Store(0)
	s.rspProd.Store(0)
	s.reqEvent.Store(1)
	s.rspEvent.Store(1)
}

// notifyNeeded is the test of RING_PUSH_*_AND_CHECK_NOTIFY: the consumer asked, through its
// event index, to be woken once the producer passes event; notify if event lies in the batch
// (old, new]. All u32 differences, so it holds across the wrap.
func notifyNeeded(old, new, event uint32) bool {
	return new-event < new-old
}

// errBroken is what every method returns once the other end has broken the protocol.
func errBroken(format string, args ...any) error {
	return fmt.Errorf("ring: %w: %s", xen.ErrBroken, fmt.Sprintf(format, args...))
}
