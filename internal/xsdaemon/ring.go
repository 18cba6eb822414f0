// The daemon's half of the xenstore_domain_interface page: it reads req and writes rsp.

package xsdaemon

import (
	"context"
	"io"
	"sync"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/shmem"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// Ring presents the daemon's half of an interface page as an io.ReadWriter: it consumes req
// and produces rsp, notifying the guest after every index update (xenstored's domain.c
// readchn/writechn). The page's indices are used as found, like a guest's. A guest whose
// indices claim more than a ring's worth is dropped (io.ErrUnexpectedEOF), as xenstored drops
// a domain that corrupts its ring.
type Ring struct {
	page                               []byte
	ch                                 xen.EventChannel
	reqCons, reqProd, rspCons, rspProd *atomic.Uint32 // the guest writes the page concurrently

	mu     sync.Mutex    // guards wake and closed
	wake   chan struct{} // closed and replaced on every event from the guest
	closed bool
}

// NewRing serves page, a page-aligned interface page, over ch, the daemon's end of the
// domain's store event channel. Run must run for Read and Write to see the guest's events.
func NewRing(page []byte, ch xen.EventChannel) *Ring {
	return &Ring{
		page:    page,
		ch:      ch,
		reqCons: shmem.Uint32(page, xenstore.InterfaceOffReqCons),
		reqProd: shmem.Uint32(page, xenstore.InterfaceOffReqProd),
		rspCons: shmem.Uint32(page, xenstore.InterfaceOffRspCons),
		rspProd: shmem.Uint32(page, xenstore.InterfaceOffRspProd),
		wake:    make(chan struct{}),
	}
}

// Run wakes Read and Write on every event from the guest until ctx ends or the channel fails;
// then it closes the ring, so that Read returns io.EOF and Write io.ErrClosedPipe.
func (r *Ring) Run(ctx context.Context) {
	for r.ch.Wait(ctx) == nil {
		r.signal(false)
	}
	r.signal(true)
}

func (r *Ring) signal(closing bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = closing
	close(r.wake)
	r.wake = make(chan struct{})
}

func (r *Ring) waiter() (<-chan struct{}, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.wake, r.closed
}

// Read consumes what the guest produced on req, waiting for it.
func (r *Ring) Read(p []byte) (int, error) {
	for {
		wake, closed := r.waiter()
		if closed {
			return 0, io.EOF
		}
		cons := r.reqCons.Load()
		avail := r.reqProd.Load() - cons
		if avail > xenstore.XENSTORE_RING_SIZE {
			return 0, io.ErrUnexpectedEOF
		}
		if avail > 0 {
			off := xenstore.RingOffset(cons)
			n := min(int(avail), int(xenstore.XENSTORE_RING_SIZE-off), len(p))
			copy(p[:n], r.page[xenstore.InterfaceOffReq+int(off):])
			// Ordering: the bytes are copied out before the guest may overwrite them.
			r.reqCons.Store(cons + uint32(n))
			_ = r.ch.Notify()
			return n, nil
		}
		<-wake
	}
}

// Write produces on rsp, waiting for the guest to make room.
func (r *Ring) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		wake, closed := r.waiter()
		if closed {
			return written, io.ErrClosedPipe
		}
		prod := r.rspProd.Load()
		used := prod - r.rspCons.Load()
		if used > xenstore.XENSTORE_RING_SIZE {
			return written, io.ErrUnexpectedEOF
		}
		if used == xenstore.XENSTORE_RING_SIZE {
			<-wake
			continue
		}
		off := xenstore.RingOffset(prod)
		n := min(int(xenstore.XENSTORE_RING_SIZE-used), int(xenstore.XENSTORE_RING_SIZE-off), len(p))
		copy(r.page[xenstore.InterfaceOffRsp+int(off):], p[:n])
		// Ordering: the bytes are in the ring before the index that publishes them.
		r.rspProd.Store(prod + uint32(n))
		_ = r.ch.Notify()
		p = p[n:]
		written += n
	}
	return written, nil
}
