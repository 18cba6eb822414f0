// The daemon's side of the xenstore_domain_interface page: it reads req and writes rsp.

package xenstoretest

import (
	"context"
	"io"
	"sync"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// ringConn presents the daemon's half of an interface page as an io.ReadWriter for Serve.
type ringConn struct {
	page                               []byte
	ev                                 xen.EventChannel
	reqCons, reqProd, rspCons, rspProd *uint32

	mu     sync.Mutex    // guards wake and closed
	wake   chan struct{} // closed and replaced on every notification from the guest
	closed bool
}

// ServeRing serves the guest on an interface page and the daemon's end of its event channel,
// until stop is called. The page's indices are used as found, like a guest's.
func (s *Server) ServeRing(page []byte, ev xen.EventChannel) (stop func()) {
	rc := &ringConn{
		page:    page,
		ev:      ev,
		reqCons: index(page, xenstore.InterfaceOffReqCons),
		reqProd: index(page, xenstore.InterfaceOffReqProd),
		rspCons: index(page, xenstore.InterfaceOffRspCons),
		rspProd: index(page, xenstore.InterfaceOffRspProd),
		wake:    make(chan struct{}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ev.Wait(ctx) == nil {
			rc.signal(false)
		}
		rc.signal(true)
	}()
	go func() {
		defer wg.Done()
		_ = s.Serve(rc)
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

func (rc *ringConn) signal(closing bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.closed {
		return
	}
	rc.closed = closing
	close(rc.wake)
	rc.wake = make(chan struct{})
}

func (rc *ringConn) waiter() (<-chan struct{}, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.wake, rc.closed
}

// Read consumes what the guest produced on req.
func (rc *ringConn) Read(p []byte) (int, error) {
	for {
		wake, closed := rc.waiter()
		if closed {
			return 0, io.EOF
		}
		cons := atomic.LoadUint32(rc.reqCons)
		avail := atomic.LoadUint32(rc.reqProd) - cons
		if avail > xenstore.XENSTORE_RING_SIZE {
			return 0, io.ErrUnexpectedEOF // a guest breaking the ring is dropped
		}
		if avail > 0 {
			off := xenstore.MASK_XENSTORE_IDX(cons)
			n := min(int(avail), int(xenstore.XENSTORE_RING_SIZE-off), len(p))
			copy(p[:n], rc.page[xenstore.InterfaceOffReq+int(off):])
			atomic.StoreUint32(rc.reqCons, cons+uint32(n))
			_ = rc.ev.Notify()
			return n, nil
		}
		<-wake
	}
}

// Write produces on rsp, waiting for the guest to make room.
func (rc *ringConn) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		wake, closed := rc.waiter()
		if closed {
			return written, io.ErrClosedPipe
		}
		prod := atomic.LoadUint32(rc.rspProd)
		used := prod - atomic.LoadUint32(rc.rspCons)
		if used > xenstore.XENSTORE_RING_SIZE {
			return written, io.ErrUnexpectedEOF
		}
		if used == xenstore.XENSTORE_RING_SIZE {
			<-wake
			continue
		}
		off := xenstore.MASK_XENSTORE_IDX(prod)
		n := min(int(xenstore.XENSTORE_RING_SIZE-used), int(xenstore.XENSTORE_RING_SIZE-off), len(p))
		copy(rc.page[xenstore.InterfaceOffRsp+int(off):], p[:n])
		atomic.StoreUint32(rc.rspProd, prod+uint32(n))
		_ = rc.ev.Notify()
		p = p[n:]
		written += n
	}
	return written, nil
}
