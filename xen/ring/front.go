// The front end: produces requests, consumes responses (struct __name##_front_ring).

package ring

import "github.com/tamaxen/tamaxen/xen"

// Front is the front end's half of a ring.
type Front struct {
	s          shared
	reqProdPvt uint32 // req_prod_pvt: requests produced, published or not
	reqPushed  uint32 // the req_prod last published; the shared copy is the back end's to corrupt
	rspCons    uint32 // rsp_cons: responses consumed
	// rspEvent is the rsp_event last written, valid if rspAsked: FinalCheckForResponses does not
	// write it again, nor look twice, while it still asks for the response after rsp_cons.
	rspEvent uint32
	rspAsked bool
	err      error // set once the back end broke the protocol
}

// NewFront initialises the shared header of a fresh page and attaches to it as the front end
// (XEN_FRONT_RING_INIT). page is usually one xen.PageSize page; slotSize is the size of the
// C union of request and response, i.e. the larger of the two.
func NewFront(page []byte, slotSize int) (*Front, error) {
	s, err := newShared(page, slotSize)
	if err != nil {
		return nil, err
	}
	s.initHeader()
	// SHARED_RING_INIT sets rsp_event to 1: the first response is asked for already.
	return &Front{s: s, rspEvent: 1, rspAsked: true}, nil
}

// AttachFront attaches to a ring whose header is already set up, with both private indices at
// start (FRONT_RING_ATTACH), as after a reconnect; it does not touch the shared header.
func AttachFront(page []byte, slotSize int, start uint32) (*Front, error) {
	s, err := newShared(page, slotSize)
	if err != nil {
		return nil, err
	}
	return &Front{s: s, reqProdPvt: start, reqPushed: start, rspCons: start}, nil
}

// Size is the number of slots (RING_SIZE).
func (f *Front) Size() int { return int(f.s.size) }

// ReqProdPvt is the private request producer index.
func (f *Front) ReqProdPvt() uint32 { return f.reqProdPvt }

// RspCons is the response consumer index.
func (f *Front) RspCons() uint32 { return f.rspCons }

// Err returns the protocol violation that broke the ring, or nil.
func (f *Front) Err() error { return f.err }

// FreeRequests is the number of requests that can be produced before responses are consumed
// (RING_FREE_REQUESTS): a slot is only free again once its response has been taken.
func (f *Front) FreeRequests() uint32 { return f.s.size - (f.reqProdPvt - f.rspCons) }

// Full reports whether no request slot is free (RING_FULL).
func (f *Front) Full() bool { return f.FreeRequests() == 0 }

// NextRequest returns the slot of the next request and counts it as produced
// (RING_GET_REQUEST(r, r->req_prod_pvt++)). The caller encodes the request in place; the back
// end sees it after the next push. It fails with xen.ErrRingFull when no slot is free.
func (f *Front) NextRequest() ([]byte, error) {
	if f.err != nil {
		return nil, f.err
	}
	if f.Full() {
		return nil, xen.ErrRingFull
	}
	slot := f.s.slot(f.reqProdPvt)
	f.reqProdPvt++
	return slot, nil
}

// PushRequests publishes the requests produced so far (RING_PUSH_REQUESTS).
func (f *Front) PushRequests() {
	// Ordering: the slot writes above happen before the back end can see the index that
	// covers them (xen_wmb); the atomic store is a release.
	f.s.reqProd.Store(f.reqProdPvt)
	f.reqPushed = f.reqProdPvt
}

// PushRequestsAndCheckNotify publishes the requests produced so far and reports whether the back
// end asked to be notified of them (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY): true if its req_event
// lies within the batch just published.
func (f *Front) PushRequestsAndCheckNotify() bool {
	// The C macro reads the old req_prod from the shared page; only we write it, so our copy
	// is the same value without trusting the page.
	old, new := f.reqPushed, f.reqProdPvt
	// Ordering: slot writes before the index (xen_wmb), by the release store.
	f.s.reqProd.Store(new)
	f.reqPushed = new
	// Ordering: the new req_prod is visible before req_event is read (xen_mb). Otherwise the
	// back end could set req_event and go to sleep after our check but without seeing our
	// requests, and nobody would wake it. Sequentially consistent atomics forbid that reorder.
	return notifyNeeded(old, new, f.s.reqEvent.Load())
}

// UnconsumedResponses is the number of responses ready to consume
// (RING_HAS_UNCONSUMED_RESPONSES). A back end claiming more responses than requests
// outstanding has broken the ring: the call returns xen.ErrBroken, now and from then on.
func (f *Front) UnconsumedResponses() (uint32, error) {
	if f.err != nil {
		return 0, f.err
	}
	// Ordering: rsp_prod is read before the slots it covers (xen_rmb); the load is an acquire.
	prod := f.s.rspProd.Load()
	n := prod - f.rspCons
	// Stricter than RING_RESPONSE_PROD_OVERFLOW's "more than the ring size": there can be no
	// more responses than requests published and not yet answered. A producer index that moved
	// backwards shows up here too, as a huge u32 difference.
	if outstanding := f.reqPushed - f.rspCons; n > outstanding {
		f.err = errBroken("rsp_prod %#x is %d past rsp_cons %#x with only %d requests outstanding",
			prod, n, f.rspCons, outstanding)
		return 0, f.err
	}
	return n, nil
}

// ConsumeResponse copies the next response out of its slot into dst (min(len(dst), slot size)
// bytes) and counts it as consumed (RING_COPY_RESPONSE(r, r->rsp_cons++)). It returns false if
// no response is ready. The caller validates the copy; the slot may change under it.
func (f *Front) ConsumeResponse(dst []byte) (bool, error) {
	n, err := f.UnconsumedResponses()
	if err != nil || n == 0 {
		return false, err
	}
	copy(dst, f.s.slot(f.rspCons))
	f.rspCons++
	return true, nil
}

// FinalCheckForResponses reports whether responses are ready, and if none are, asks the back
// end to notify on the next one before checking once more (RING_FINAL_CHECK_FOR_RESPONSES).
// Call it before going to sleep: a false result means a notification will come.
//
// The request for an event is written, and followed by the second look, only when it changes:
// if rsp_event already asks for the response after rsp_cons (written by an earlier call, whose
// second look found nothing, and no response consumed since), a response pushed from then on
// notifies, and the first look has just found none pushed before. A front end reclaiming on
// every send, as a TX path does, then pays one load per call rather than a store, a full
// barrier and a second load.
func (f *Front) FinalCheckForResponses() (bool, error) {
	n, err := f.UnconsumedResponses()
	if err != nil || n > 0 {
		return n > 0, err
	}
	want := f.rspCons + 1
	if f.rspAsked && f.rspEvent == want {
		return false, nil
	}
	f.s.rspEvent.Store(want)
	f.rspEvent, f.rspAsked = want, true
	// Ordering: rsp_event is visible before rsp_prod is read again (xen_mb), so a response the
	// back end pushed meanwhile is either seen now or its push sees rsp_event and notifies.
	n, err = f.UnconsumedResponses()
	return n > 0, err
}
