// The back end: consumes requests, produces responses (struct __name##_back_ring).

package ring

import "github.com/tamaxen/tamaxen/xen"

// Back is the back end's half of a ring. The portable packages are front ends; Back exists for
// simulated devices and for testing front ends against a real ring on the host.
type Back struct {
	s          shared
	rspProdPvt uint32 // rsp_prod_pvt: responses produced, published or not
	rspPushed  uint32 // the rsp_prod last published
	reqCons    uint32 // req_cons: requests consumed
	err        error  // set once the front end broke the protocol
}

// NewBack attaches to a ring the front end initialised, with both indices at 0
// (BACK_RING_INIT). Only the front end initialises the shared header.
func NewBack(page []byte, slotSize int) (*Back, error) { return AttachBack(page, slotSize, 0) }

// AttachBack attaches with both private indices at start (BACK_RING_ATTACH).
func AttachBack(page []byte, slotSize int, start uint32) (*Back, error) {
	s, err := newShared(page, slotSize)
	if err != nil {
		return nil, err
	}
	return &Back{s: s, rspProdPvt: start, rspPushed: start, reqCons: start}, nil
}

// Size is the number of slots (RING_SIZE).
func (b *Back) Size() int { return int(b.s.size) }

// ReqCons is the request consumer index.
func (b *Back) ReqCons() uint32 { return b.reqCons }

// RspProdPvt is the private response producer index.
func (b *Back) RspProdPvt() uint32 { return b.rspProdPvt }

// Err returns the protocol violation that broke the ring, or nil.
func (b *Back) Err() error { return b.err }

// UnconsumedRequests is the number of requests ready to consume
// (XEN_RING_NR_UNCONSUMED_REQUESTS): those published, capped by the slots that are not still
// waiting for their response. A front end publishing more requests than the ring can hold has
// broken it (RING_REQUEST_PROD_OVERFLOW): xen.ErrBroken, now and from then on.
func (b *Back) UnconsumedRequests() (uint32, error) {
	if b.err != nil {
		return 0, b.err
	}
	// Ordering: req_prod is read before the slots it covers (xen_rmb); the load is an acquire.
	prod := b.s.reqProd.Load()
	// The second test catches a req_prod that moved backwards, which the macro's does not.
	if prod-b.rspProdPvt > b.s.size || prod-b.reqCons > b.s.size {
		b.err = errBroken("req_prod %#x with req_cons %#x and rsp_prod_pvt %#x", prod, b.reqCons, b.rspProdPvt)
		return 0, b.err
	}
	req := prod - b.reqCons
	rsp := b.s.size - (b.reqCons - b.rspProdPvt)
	return min(req, rsp), nil
}

// ConsumeRequest copies the next request out of its slot into dst and counts it as consumed
// (RING_COPY_REQUEST(r, r->req_cons++)). It returns false if no request is ready.
func (b *Back) ConsumeRequest(dst []byte) (bool, error) {
	n, err := b.UnconsumedRequests()
	if err != nil || n == 0 {
		return false, err
	}
	copy(dst, b.s.slot(b.reqCons))
	b.reqCons++
	return true, nil
}

// NextResponse returns the slot of the next response and counts it as produced
// (RING_GET_RESPONSE(r, r->rsp_prod_pvt++)). A response reuses the slot of a consumed request,
// so with none consumed and unanswered there is no slot: xen.ErrRingFull.
func (b *Back) NextResponse() ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	if b.rspProdPvt == b.reqCons {
		return nil, xen.ErrRingFull
	}
	slot := b.s.slot(b.rspProdPvt)
	b.rspProdPvt++
	return slot, nil
}

// PushResponses publishes the responses produced so far (RING_PUSH_RESPONSES).
func (b *Back) PushResponses() {
	// Ordering: slot writes before the index that covers them (xen_wmb), by the release store.
	b.s.rspProd.Store(b.rspProdPvt)
	b.rspPushed = b.rspProdPvt
}

// PushResponsesAndCheckNotify publishes the responses produced so far and reports whether the
// front end asked to be notified of them (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY).
func (b *Back) PushResponsesAndCheckNotify() bool {
	old, new := b.rspPushed, b.rspProdPvt
	// Ordering: slot writes before the index (xen_wmb), by the release store.
	b.s.rspProd.Store(new)
	b.rspPushed = new
	// Ordering: the new rsp_prod is visible before rsp_event is read (xen_mb), so a front end
	// going to sleep either sees these responses or has set rsp_event where we see it.
	return notifyNeeded(old, new, b.s.rspEvent.Load())
}

// FinalCheckForRequests reports whether requests are ready, and if none are, asks the front end
// to notify on the next one before checking once more (RING_FINAL_CHECK_FOR_REQUESTS).
func (b *Back) FinalCheckForRequests() (bool, error) {
	n, err := b.UnconsumedRequests()
	if err != nil || n > 0 {
		return n > 0, err
	}
	b.s.reqEvent.Store(b.reqCons + 1)
	// Ordering: req_event is visible before req_prod is read again (xen_mb).
	n, err = b.UnconsumedRequests()
	return n > 0, err
}
