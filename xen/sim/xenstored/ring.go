// Domains' connections: the xenstore_domain_interface page and its event channel.

package xenstored

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/evtchn"
	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/sim"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// ringConn is the daemon's half of a domain's interface page, as an io.ReadWriter: it
// consumes req and produces rsp, notifying the guest after every index update (xenstored's
// domain.c readchn/writechn).
type ringConn struct {
	dom                                xen.DomID
	mapping                            *sim.Mapping
	ch                                 *evtchn.Channel
	reqCons, reqProd, rspCons, rspProd *uint32

	mu     sync.Mutex    // guards wake and closed
	wake   chan struct{} // closed and replaced on every event from the guest
	closed bool

	cancel context.CancelFunc
	done   sync.WaitGroup
}

// Introduce is XS_INTRODUCE as the toolstack issues it after building a domain: xenstored
// maps the store page through the reserved grant ref (GNTTAB_RESERVED_XENSTORE), binds to the
// domain's store port (HVM_PARAM_STORE_EVTCHN) and starts serving the domain. It fires
// @introduceDomain. MakeDomain must have created the domain's home.
func (s *Store) Introduce(d *sim.Domain) error {
	if s.dom0 == nil {
		return fmt.Errorf("xenstored: introduce dom%d: no dom0 services", d.ID())
	}
	port, ok := d.Param(sim.HVM_PARAM_STORE_EVTCHN)
	if !ok {
		return fmt.Errorf("xenstored: introduce dom%d: no store event channel", d.ID())
	}
	m, err := s.dom0.Domain.MapGrant(d.ID(), gnttab.GNTTAB_RESERVED_XENSTORE, true)
	if err != nil {
		return err
	}
	ch, err := s.dom0.Events.BindInterdomain(d.ID(), xen.Port(port))
	if err != nil {
		m.Unmap()
		return err
	}
	rc := &ringConn{
		dom: d.ID(), mapping: m, ch: ch, wake: make(chan struct{}),
		reqCons: word32(m.Data, xenstore.InterfaceOffReqCons),
		reqProd: word32(m.Data, xenstore.InterfaceOffReqProd),
		rspCons: word32(m.Data, xenstore.InterfaceOffRspCons),
		rspProd: word32(m.Data, xenstore.InterfaceOffRspProd),
	}
	s.mu.Lock()
	if s.closed || s.rings[d.ID()] != nil {
		s.mu.Unlock()
		_ = ch.Close()
		m.Unmap()
		return fmt.Errorf("xenstored: introduce dom%d: %w", d.ID(), xen.EEXIST)
	}
	s.rings[d.ID()] = rc
	s.fireLocked([]change{{path: "@introduceDomain"}})
	s.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	rc.cancel = cancel
	rc.done.Add(2)
	go func() {
		defer rc.done.Done()
		for ch.Wait(ctx) == nil {
			rc.signal(false)
		}
		rc.signal(true)
	}()
	c := s.newConn(d.ID())
	go func() {
		defer rc.done.Done()
		s.serve(c, rc)
	}()
	return nil
}

// Release is XS_RELEASE: stop serving the domain, drop its watches and transactions, unbind
// and unmap, and fire @releaseDomain.
func (s *Store) Release(dom xen.DomID) error {
	s.mu.Lock()
	rc := s.rings[dom]
	delete(s.rings, dom)
	s.mu.Unlock()
	if rc == nil {
		return xen.ENOENT
	}
	rc.stop()
	s.mu.Lock()
	s.fireLocked([]change{{path: "@releaseDomain"}})
	s.mu.Unlock()
	return nil
}

func (rc *ringConn) stop() {
	rc.cancel()
	rc.done.Wait()
	_ = rc.ch.Close()
	rc.mapping.Unmap()
}

// Client connects an in-process client acting as domain dom (dom0 for the toolstack and the
// backends) over net.Pipe, the way dom0 processes reach xenstored through its socket.
func (s *Store) Client(dom xen.DomID) (*xenstore.Client, error) {
	cs, ss := net.Pipe()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, xen.ErrClosed
	}
	s.wg.Add(1)
	s.mu.Unlock()
	c := s.newConn(dom)
	go func() {
		defer s.wg.Done()
		s.serve(c, ss)
		_ = ss.Close()
	}()
	return xenstore.New(cs), nil
}

// Close releases every domain and waits for the in-process connections, which end when
// their clients are closed.
func (s *Store) Close() {
	s.mu.Lock()
	s.closed = true
	rings := s.rings
	s.rings = make(map[xen.DomID]*ringConn)
	s.mu.Unlock()
	for _, rc := range rings {
		rc.stop()
	}
	s.wg.Wait()
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

// Read consumes what the guest produced on req. A guest whose indices claim more than a ring's
// worth is dropped, as xenstored drops a domain that corrupts its ring.
func (rc *ringConn) Read(p []byte) (int, error) {
	for {
		wake, closed := rc.waiter()
		if closed {
			return 0, io.EOF
		}
		cons := atomic.LoadUint32(rc.reqCons)
		avail := atomic.LoadUint32(rc.reqProd) - cons
		if avail > xenstore.XENSTORE_RING_SIZE {
			return 0, io.ErrUnexpectedEOF
		}
		if avail > 0 {
			off := xenstore.MASK_XENSTORE_IDX(cons)
			n := min(int(avail), int(xenstore.XENSTORE_RING_SIZE-off), len(p))
			copy(p[:n], rc.mapping.Data[xenstore.InterfaceOffReq+int(off):])
			// Ordering: the bytes are copied out before the guest may overwrite them.
			atomic.StoreUint32(rc.reqCons, cons+uint32(n))
			_ = rc.ch.Notify()
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
		copy(rc.mapping.Data[xenstore.InterfaceOffRsp+int(off):], p[:n])
		// Ordering: the bytes are in the ring before the index that publishes them.
		atomic.StoreUint32(rc.rspProd, prod+uint32(n))
		_ = rc.ch.Notify()
		p = p[n:]
		written += n
	}
	return written, nil
}
