// Backend: one vif's xenbus side, following the frontend's state as xenbus.c does.

package netback

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/sim"
	"github.com/tamaxen/tamaxen/xen/sim/xenstored"
	"github.com/tamaxen/tamaxen/xen/xenbus"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// Errors of the attachment.
var (
	ErrNotConnected  = errors.New("netback: vif not connected")
	ErrBadFrame      = errors.New("netback: frame shorter than an Ethernet header or longer than 65535 bytes")
	ErrTooBig        = errors.New("netback: frame larger than a page and the frontend has no feature-sg")
	ErrNotNegotiated = errors.New("netback: GSO type not negotiated with the frontend")
	ErrQueueFull     = errors.New("netback: rx queue full")
)

// Backend is the backend of one vif (struct backend_info with its struct xenvif). New starts
// it; it then follows the frontend through connect, disconnect and reconnect until Close.
type Backend struct {
	cfg   Config
	dom0  *sim.Services
	xs    *xenstore.Client
	guest xen.DomID
	dir   string // the backend directory
	front string // the frontend directory

	deliver atomic.Pointer[func(Frame)]
	fault   atomic.Int32
	state   atomic.Uint32 // be->state, as last switched
	fatal   atomic.Pointer[error]

	cancel context.CancelFunc
	done   chan struct{}
	cmds   chan func() // run on the xenbus goroutine

	// fe holds the frontend's flags read at connect; written by the xenbus goroutine while no
	// queue runs, read by the queues and Inject under mu.
	fe frontFlags

	mu     sync.RWMutex // guards queues (replaced by connect and disconnect) and fe
	queues []*queue

	qstats []queueCounters // by queue index, across reconnections
}

// frontFlags are the frontend's keys as read_xenbus_vif_flags reads them.
type frontFlags struct {
	canSG, gsoV4, gsoV6, ipCsum, ipv6Csum bool
}

// New creates the backend of vif devid of guest, which xs.AddVif created, and runs its xenbus
// side as netback_probe does: features in the backend directory, InitWait, then following the
// frontend's state on a watch.
func New(dom0 *sim.Services, xs *xenstored.Store, guest xen.DomID, devid int, cfg Config) (*Backend, error) {
	front, dir := xenstored.VifPaths(guest, devid, dom0.Domain.ID())
	c, err := xs.Client(dom0.Domain.ID())
	if err != nil {
		return nil, err
	}
	if cfg.RxQueueLen <= 0 {
		cfg.RxQueueLen = 64
	}
	b := &Backend{cfg: cfg, dom0: dom0, xs: c, guest: guest, dir: dir, front: front,
		done: make(chan struct{}), cmds: make(chan func())}
	b.qstats = make([]queueCounters, b.maxQueues())
	if cfg.Deliver != nil {
		b.SetDeliver(cfg.Deliver)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.state.Store(uint32(xenbus.XenbusStateInitialising))
	if err := b.writeFeatures(ctx); err != nil {
		cancel()
		_ = c.Close()
		return nil, fmt.Errorf("netback: writing features: %w", err)
	}
	// netback_probe: xenbus_switch_state(dev, XenbusStateInitWait).
	if err := b.switchState(ctx, xenbus.XenbusStateInitWait); err != nil {
		cancel()
		_ = c.Close()
		return nil, err
	}
	w, err := c.Watch(ctx, front+"/state")
	if err != nil {
		cancel()
		_ = c.Close()
		return nil, err
	}
	go b.run(ctx, w)
	return b, nil
}

// Close stops following the frontend, disconnects the queues (netback_remove) and closes the
// backend's XenStore connection.
func (b *Backend) Close() error {
	b.cancel()
	<-b.done
	b.disconnect()
	return b.xs.Close()
}

// State is the backend's xenbus state.
func (b *Backend) State() xenbus.State { return xenbus.State(b.state.Load()) }

// Err returns the first fatal error: a xenbus_dev_fatal of the xenbus side, or a
// xenvif_fatal_tx_err of a queue.
func (b *Backend) Err() error {
	if p := b.fatal.Load(); p != nil {
		return *p
	}
	return nil
}

func (b *Backend) setFatal(err error) { b.fatal.CompareAndSwap(nil, &err) }

// SetDeliver replaces the function that receives the guest's frames.
func (b *Backend) SetDeliver(fn func(Frame)) { b.deliver.Store(&fn) }

// SetFault makes the backend misbehave from now on (FaultNone restores it).
func (b *Backend) SetFault(f Fault) {
	b.fault.Store(int32(f))
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, q := range b.queues {
		q.kickAll()
	}
}

func (b *Backend) currentFault() Fault { return Fault(b.fault.Load()) }

// Disconnect closes the vif from the backend's side mid-stream, as a hot-unplug does
// (set_backend_state(be, XenbusStateClosing) from the toolstack's online=0): the queues stop,
// the rings are unmapped and the backend goes Closing. It returns once that is done.
func (b *Backend) Disconnect() {
	done := make(chan struct{})
	select {
	case b.cmds <- func() { b.setState(context.Background(), xenbus.XenbusStateClosing); close(done) }:
		<-done
	case <-b.done:
	}
}

// run is the xenbus watch callback loop: frontend_changed for each state the frontend shows.
func (b *Backend) run(ctx context.Context, w *xenstore.Watch) {
	defer close(b.done)
	defer func() { _ = b.xs.Unwatch(context.WithoutCancel(ctx), w) }()
	for {
		select {
		case _, ok := <-w.Events():
			if !ok {
				return
			}
			v, err := b.xs.Read(ctx, b.front+"/state")
			s := xenbus.XenbusStateUnknown
			if err == nil {
				if s, err = xenbus.ParseState(v); err != nil {
					s = xenbus.XenbusStateUnknown
				}
			} else if !errors.Is(err, xen.ENOENT) {
				return // the context ended or the connection broke
			}
			b.frontendChanged(ctx, s)
		case fn := <-b.cmds:
			fn()
		case <-ctx.Done():
			return
		}
	}
}

// frontendChanged is Linux's frontend_changed.
func (b *Backend) frontendChanged(ctx context.Context, s xenbus.State) {
	switch s {
	case xenbus.XenbusStateInitialising:
		b.setState(ctx, xenbus.XenbusStateInitWait)
	case xenbus.XenbusStateInitialised:
		// Linux waits for Connected before reading the frontend's keys.
	case xenbus.XenbusStateConnected:
		b.setState(ctx, xenbus.XenbusStateConnected)
	case xenbus.XenbusStateClosing:
		b.setState(ctx, xenbus.XenbusStateClosing)
	case xenbus.XenbusStateClosed, xenbus.XenbusStateUnknown:
		// The device stays online (xenbus_dev_is_online), so the backend waits in Closed for
		// the frontend to come back through Initialising.
		b.setState(ctx, xenbus.XenbusStateClosed)
	}
}

// setState is set_backend_state: it walks the backend's state machine to the target one step
// at a time, connecting and disconnecting on the way.
func (b *Backend) setState(ctx context.Context, target xenbus.State) {
	const (
		initialising = xenbus.XenbusStateInitialising
		initWait     = xenbus.XenbusStateInitWait
		connected    = xenbus.XenbusStateConnected
		closing      = xenbus.XenbusStateClosing
		closed       = xenbus.XenbusStateClosed
	)
	for i := 0; b.State() != target && i < 8; i++ {
		cur := b.State()
		next := cur
		switch cur {
		case initialising:
			next = initWait
			if target == closed {
				next = closed
			}
		case closed:
			next = initWait
			if target == closing {
				next = closing
			}
		case initWait:
			switch target {
			case connected:
				// backend_connect: a failed connect has already gone Closing through
				// xenbus_dev_fatal.
				if err := b.connect(ctx); err != nil {
					b.devFatal(ctx, err)
					return
				}
				next = connected
			default:
				next = closing
			}
		case connected:
			// backend_disconnect, then Closing.
			b.disconnect()
			next = closing
		case closing:
			next = closed
		}
		if err := b.switchState(ctx, next); err != nil {
			return
		}
	}
}

// switchState is backend_switch_state / xenbus_switch_state.
func (b *Backend) switchState(ctx context.Context, s xenbus.State) error {
	b.state.Store(uint32(s))
	return b.xs.Write(ctx, b.dir+"/state", []byte(strconv.Itoa(int(s))))
}

// devFatal is xenbus_dev_fatal: the error under error/<backend dir>/error, then Closing.
func (b *Backend) devFatal(ctx context.Context, err error) {
	b.setFatal(err)
	home := fmt.Sprintf("/local/domain/%d", b.dom0.Domain.ID())
	_ = b.xs.Write(ctx, home+"/error"+strings.TrimPrefix(b.dir, home)+"/error", []byte(err.Error()))
	_ = b.switchState(ctx, xenbus.XenbusStateClosing)
}
