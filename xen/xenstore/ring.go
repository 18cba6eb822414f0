// RingTransport: the guest end of the xenstore_domain_interface byte rings.

package xenstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

// Layout of struct xenstore_domain_interface, in bytes from the start of the page.
const (
	XENSTORE_RING_SIZE = 1024

	InterfaceOffReq            = 0    // char req[XENSTORE_RING_SIZE], guest to daemon
	InterfaceOffRsp            = 1024 // char rsp[XENSTORE_RING_SIZE], daemon to guest
	InterfaceOffReqCons        = 2048 // written by the daemon
	InterfaceOffReqProd        = 2052 // written by the guest
	InterfaceOffRspCons        = 2056 // written by the guest
	InterfaceOffRspProd        = 2060 // written by the daemon
	InterfaceOffServerFeatures = 2064
	InterfaceOffConnection     = 2068
	InterfaceOffError          = 2072
	InterfaceSize              = 2076 // sizeof(struct xenstore_domain_interface)
)

// Values of the server_features, connection and error fields.
const (
	XENSTORE_SERVER_FEATURE_RECONNECTION = 1
	XENSTORE_SERVER_FEATURE_ERROR        = 2

	XENSTORE_CONNECTED = 0
	XENSTORE_RECONNECT = 1

	XENSTORE_ERROR_NONE    = 0
	XENSTORE_ERROR_COMM    = 1
	XENSTORE_ERROR_RINGIDX = 2
	XENSTORE_ERROR_PROTO   = 3
)

// RingOffset is where a free-running index falls within a ring (MASK_XENSTORE_IDX).
func RingOffset(idx uint32) uint32 { return idx & (XENSTORE_RING_SIZE - 1) }

// RingTransport is the guest side of the shared xenstore page, an io.ReadWriteCloser carrying
// the byte stream a Client speaks. Writes fill req, reads drain rsp; both sleep on the event
// channel when the ring is full or empty and notify the daemon after every index update.
//
// The indices are free-running u32s. The transport keeps private copies of the ones it owns
// (req_prod, rsp_cons) so the daemon cannot move them, and checks the daemon's (req_cons,
// rsp_prod) on every read: an index more than a ring's worth away from ours means the daemon is
// broken, and the transport fails for good with xen.ErrBroken rather than reading out of step.
type RingTransport struct {
	page []byte
	ev   xen.EventChannel

	// The page's indices and flags, which the daemon writes concurrently: only ever accessed
	// atomically, since a plain load could be torn, cached or reordered with the data copies.
	reqCons, reqProd, rspCons, rspProd, features, errField *atomic.Uint32

	wmu sync.Mutex // one writer fills req at a time, so that a message is never split by another

	// mu guards the fields below and every look at the page: a read or a write takes its bytes
	// and moves its index under mu, so that Suspend, once it has held mu, knows nobody is
	// looking at the page.
	mu      sync.Mutex
	rspPriv uint32        // our copy of rsp_cons
	reqPriv uint32        // our copy of req_prod
	wake    chan struct{} // closed and replaced whenever the daemon notifies or the transport ends
	err     error         // why the transport no longer works

	suspended bool               // between Suspend and Resume: nobody looks at the page
	stop      context.CancelFunc // ends the event goroutine; nil while none runs
	done      chan struct{}      // closed when the event goroutine returned
}

// NewRingTransport attaches to an interface page the daemon shares with the guest (the page
// and event channel named by HVM_PARAM_STORE_PFN and HVM_PARAM_STORE_EVTCHN). The page's
// current indices are taken as they are: the guest must not assume they start at zero, since a
// boot loader may have used the ring before. It starts one goroutine that waits on ev.
func NewRingTransport(page []byte, ev xen.EventChannel) (*RingTransport, error) {
	if len(page) < InterfaceSize {
		return nil, fmt.Errorf("xenstore: interface page of %d bytes, need %d", len(page), InterfaceSize)
	}
	if !shmem.Aligned(page, 4) {
		return nil, fmt.Errorf("xenstore: interface page not 4-byte aligned")
	}
	r := &RingTransport{
		page: page, ev: ev,
		reqCons:  shmem.Uint32(page, InterfaceOffReqCons),
		reqProd:  shmem.Uint32(page, InterfaceOffReqProd),
		rspCons:  shmem.Uint32(page, InterfaceOffRspCons),
		rspProd:  shmem.Uint32(page, InterfaceOffRspProd),
		features: shmem.Uint32(page, InterfaceOffServerFeatures),
		errField: shmem.Uint32(page, InterfaceOffError),
		wake:     make(chan struct{}),
	}
	r.reqPriv = r.reqProd.Load()
	r.rspPriv = r.rspCons.Load()
	if d := r.reqPriv - r.reqCons.Load(); d > XENSTORE_RING_SIZE {
		return nil, brokenf("req ring holds %d bytes at attach", d)
	}
	if d := r.rspProd.Load() - r.rspPriv; d > XENSTORE_RING_SIZE {
		return nil, brokenf("rsp ring holds %d bytes at attach", d)
	}
	r.startEvents()
	return r, nil
}

// startEvents starts the goroutine that waits on the event channel. Called with r.mu held, or
// before anyone else can see r.
func (r *RingTransport) startEvents() {
	ctx, stop := context.WithCancel(context.Background())
	r.stop, r.done = stop, make(chan struct{})
	go r.events(ctx, r.done)
}

// stopEvents ends the event goroutine, if one runs, and waits for it.
func (r *RingTransport) stopEvents() {
	r.mu.Lock()
	stop, done := r.stop, r.done
	r.stop, r.done = nil, nil
	r.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// events turns event channel notifications into wake-ups. It is the only caller of ev.Wait, so
// a reader waiting for data and a writer waiting for space never steal each other's event.
// Ending ctx (Close, Suspend, a broken ring) ends it quietly: whoever ended it says why.
func (r *RingTransport) events(ctx context.Context, done chan struct{}) {
	defer close(done)
	for {
		if err := r.ev.Wait(ctx); err != nil {
			if ctx.Err() == nil {
				r.setErr(fmt.Errorf("xenstore: event channel: %w", err))
			}
			return
		}
		r.mu.Lock()
		r.wakeLocked()
		r.mu.Unlock()
	}
}

// wakeLocked wakes everyone waiting on the transport. Called with r.mu held.
func (r *RingTransport) wakeLocked() {
	close(r.wake)
	r.wake = make(chan struct{})
}

// setErr fails the transport, waking everyone waiting on it.
func (r *RingTransport) setErr(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setErrLocked(err)
}

func (r *RingTransport) setErrLocked(err error) {
	if r.err == nil {
		r.err = err
		r.wakeLocked()
	}
}

// brokenLocked fails the transport because the daemon broke the ring protocol, and stops
// listening. Called with r.mu held.
func (r *RingTransport) brokenLocked(format string, args ...any) error {
	r.setErrLocked(brokenf(format, args...))
	if r.stop != nil {
		r.stop() // Close or Suspend waits for it
	}
	return r.err
}

// Err returns why the transport no longer works, or nil.
func (r *RingTransport) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// serverErrorLocked reports an error the daemon announced in the error field, if it has the
// feature. Called with r.mu held.
func (r *RingTransport) serverErrorLocked() error {
	if r.features.Load()&XENSTORE_SERVER_FEATURE_ERROR == 0 {
		return nil
	}
	if e := r.errField.Load(); e != XENSTORE_ERROR_NONE {
		return r.brokenLocked("daemon reports ring error %d", e)
	}
	return nil
}

// Suspend keeps the transport off the page and its event channel until Resume, as the domain
// is about to be suspended: the toolstack may clear the page, and the channel's port may change
// under the dispatcher (evtchn.Dispatcher.Resume, Reattach), while the domain is away. Reads and
// writes wait, and the goroutine that waits on the channel stops. Suspend returns once nobody
// looks at the page any more. Client.Suspend calls it; a second call does nothing.
func (r *RingTransport) Suspend() {
	r.mu.Lock()
	r.suspended = true
	r.mu.Unlock()
	r.stopEvents()
}

// Resume lets the transport use the page and its event channel again after Suspend (in a new
// domain, once Resync has taken the ring afresh and the channel is on its new port). Reads and
// writes look at the ring again at once, since events sent meanwhile may have been lost.
// Client.Resume calls it; it does nothing on a transport that is not suspended.
func (r *RingTransport) Resume() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.suspended {
		return
	}
	r.suspended = false
	if r.err == nil {
		r.startEvents()
	}
	r.wakeLocked()
}

// Resync takes the ring's indices afresh after the domain was suspended and resumed in a new
// domain: the toolstack clears the interface page on restore, so the private copies of req_prod
// and rsp_cons no longer describe it. Response bytes the old daemon left unread are dropped, as
// Linux's xb_init_comms does. Reads and writes look at the ring under the same lock, so none is
// halfway through meanwhile; Resync wakes them to look again.
//
// The indices are read here, before anything new is written: the reader may not run until the
// daemon has already answered the first request sent after Resync, and that answer must not be
// taken for old bytes.
func (r *RingTransport) Resync() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rspPriv = r.rspProd.Load()
	r.rspCons.Store(r.rspPriv)
	r.reqPriv = r.reqProd.Load()
	r.wakeLocked()
}

// Close stops the transport: blocked and later reads and writes fail with xen.ErrClosed.
func (r *RingTransport) Close() error {
	r.setErr(xen.ErrClosed)
	r.stopEvents()
	return nil
}

// Read copies bytes the daemon produced on rsp into p, waiting until at least one is there.
func (r *RingTransport) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, wake, err := r.look(func() (int, error) { return r.readLocked(p) })
		if err != nil || n > 0 {
			return n, err
		}
		<-wake
	}
}

// Write copies p into req, as much at a time as the ring has room for, and returns once all of
// it is in the ring (not once the daemon has read it).
func (r *RingTransport) Write(p []byte) (int, error) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	written := 0
	for len(p) > 0 {
		n, wake, err := r.look(func() (int, error) { return r.writeLocked(p) })
		written += n
		if err != nil {
			return written, err
		}
		if n == 0 {
			<-wake
		}
		p = p[n:]
	}
	return written, nil
}

// look runs move, a read's or a write's look at the page, under r.mu, unless the transport
// has failed or is suspended. When move moved nothing (rsp empty, req full) or the transport
// is suspended, look returns the channel the next wake-up closes, taken under the same lock as
// the look: a notification arriving after the look closes this very channel, so none is lost.
func (r *RingTransport) look(move func() (int, error)) (int, <-chan struct{}, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return 0, nil, r.err
	}
	if r.suspended {
		return 0, r.wake, nil
	}
	n, err := move()
	if n > 0 || err != nil {
		return n, nil, err
	}
	return 0, r.wake, r.serverErrorLocked()
}

// readLocked copies what rsp holds into p. Called by look.
func (r *RingTransport) readLocked(p []byte) (int, error) {
	// Acquire: the bytes copied below are read only after the index that publishes them.
	prod := r.rspProd.Load()
	avail := prod - r.rspPriv
	if avail > XENSTORE_RING_SIZE {
		return 0, r.brokenLocked("rsp_prod %#x is %d bytes past rsp_cons %#x", prod, avail, r.rspPriv)
	}
	if avail == 0 {
		return 0, nil
	}
	off := RingOffset(r.rspPriv)
	n := min(int(avail), int(XENSTORE_RING_SIZE-off), len(p))
	copy(p[:n], r.page[InterfaceOffRsp+int(off):])
	r.rspPriv += uint32(n)
	// Release: the copy above completes before the daemon sees the bytes as free and may
	// overwrite them.
	r.rspCons.Store(r.rspPriv)
	// The ring protocol asks for a notification after every index update; a daemon blocked on
	// a full rsp ring waits for exactly this one.
	if err := r.ev.Notify(); err != nil {
		r.setErrLocked(fmt.Errorf("xenstore: notify: %w", err))
	}
	return n, nil
}

// writeLocked copies as much of p into req as there is room for. Called by look.
func (r *RingTransport) writeLocked(p []byte) (int, error) {
	// Acquire: the daemon finished reading the bytes before req_cons before it published it,
	// so overwriting them below is safe.
	cons := r.reqCons.Load()
	used := r.reqPriv - cons
	if used > XENSTORE_RING_SIZE {
		return 0, r.brokenLocked("req_cons %#x is %d bytes behind req_prod %#x", cons, used, r.reqPriv)
	}
	if used == XENSTORE_RING_SIZE {
		return 0, nil
	}
	off := RingOffset(r.reqPriv)
	n := min(int(XENSTORE_RING_SIZE-used), int(XENSTORE_RING_SIZE-off), len(p))
	copy(r.page[InterfaceOffReq+int(off):], p[:n])
	r.reqPriv += uint32(n)
	// Release: the daemon sees the bytes copied above before the index that covers them.
	r.reqProd.Store(r.reqPriv)
	if err := r.ev.Notify(); err != nil {
		r.setErrLocked(fmt.Errorf("xenstore: notify: %w", err))
		return n, r.err
	}
	return n, nil
}
