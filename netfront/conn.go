// One connection to the backend: its queues, pages, grants and event channels.

package netfront

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tamaxen/tamaxen/xen/xenbus"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// conn is the device connected to one backend instance. Everything in it is fixed once it
// runs, except the rings' contents.
type conn struct {
	d        *Device
	dev      *xenbus.Device
	be       *xenbus.StateWatch
	mac      net.HardwareAddr
	mtu      int
	features Features
	queues   []*queue
	pool     *pagePool // every page granted to the backend, rings and buffers

	resumed <-chan struct{} // the Device's resumed when last looked at (supervise)
	done    chan struct{}   // closed when the connection goes away
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the queues' goroutines
}

// connect negotiates with the vif's current backend and brings a connection up.
func (d *Device) connect(ctx context.Context) (*conn, error) {
	d.mu.RLock()
	resumed := d.resumed
	d.mu.RUnlock()
	xs := d.p.XenStore
	dev, err := xenbus.Open(ctx, xs, "vif", d.id)
	if err != nil {
		return nil, err
	}
	c := &conn{d: d, dev: dev, done: make(chan struct{}), resumed: resumed,
		pool: newPagePool(d.p.Memory, d.p.Grants, dev.BackendID)}
	if c.mac, err = readMAC(ctx, xs, dev.Path); err != nil {
		return nil, err
	}
	if c.be, err = dev.WatchBackend(ctx); err != nil {
		return nil, err
	}
	// A backend that vanishes while we wait for it (the toolstack removing a detached vif whose
	// directory we found just before it went) ends this attempt; the caller tries again and
	// finds the vif the toolstack adds next.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var vanished atomic.Bool
	go func() {
		if _, err := c.be.WaitFor(cctx, func(s xenbus.State) bool { return s == xenbus.XenbusStateUnknown }); err == nil {
			vanished.Store(true)
			cancel()
		}
	}()
	fail := func(err error) (*conn, error) {
		cancel()
		if vanished.Load() {
			err = fmt.Errorf("netfront: backend %s vanished: %w", dev.Backend, err)
		}
		c.abandon(ctx)
		c.be.Close()
		c.release()
		return nil, fmt.Errorf("netfront: connecting %s: %w", dev.Path, err)
	}
	// The backend's features are there once it waits for us in InitWait (netback_probe writes
	// them first), not before: a driver domain may probe the vif after we found it.
	if err := dev.Prepare(cctx, c.be); err != nil {
		return fail(err)
	}
	if c.features, err = negotiate(cctx, xs, dev.Backend, d.cfg); err != nil {
		return fail(err)
	}
	c.mtu = readMTU(cctx, xs, dev.Path, c.features.SG)
	for i := 0; i < c.features.Queues; i++ {
		q, err := c.newQueue(i)
		c.queues = append(c.queues, q) // even half-built, so release can undo it
		if err != nil {
			return fail(err)
		}
	}
	if err := dev.Connect(cctx, c.be, func(tx *xenstore.Tx) error { return c.publish(cctx, tx) }); err != nil {
		return fail(err)
	}
	cancel()
	// A new connection starts clean: a violation of the previous one (whose goroutines and
	// senders are gone, see close and drop) does not break this one. Cleared before the
	// queues' goroutines start, since they stop at the first sight of a broken device.
	d.broken.Store(nil)
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	for _, q := range c.queues {
		if err := q.rx.post(); err != nil {
			_ = c.close(ctx)
			return nil, err
		}
		c.wg.Add(1)
		go func() { defer c.wg.Done(); q.rx.run(runCtx, !c.features.SplitEventChannels) }()
		if c.features.SplitEventChannels {
			c.wg.Add(1)
			go func() { defer c.wg.Done(); q.tx.run(runCtx) }()
		}
	}
	return c, nil
}

// abandon takes back what a connection attempt that failed may have told the backend, before
// its grants are revoked: a backend that comes late must not find the frontend Connected with
// ring references that no longer grant anything (or, once reused, grant something else), nor
// the references themselves (unpublish). With time left it closes both sides as Close does;
// without, it only says Closed. An attempt that
// Close interrupted (a reconnection) closes both sides too, with Close's own bound: the backend
// may already map the new rings, and Close returns once it has let go of them, as it does for
// a connection that was made.
func (c *conn) abandon(ctx context.Context) {
	closing := isClosed(c.d.closing)
	bound := time.Second
	if closing {
		bound = closeTimeout
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bound)
	defer cancel()
	own, err := c.dev.State(cctx)
	if err != nil || own == xenbus.XenbusStateInitialising || own == xenbus.XenbusStateClosed {
		return // nothing published, or already closed
	}
	if err := c.unpublish(cctx); err != nil {
		c.d.logf("netfront: taking back %s's ring references: %v", c.dev.Path, err)
	}
	if ctx.Err() == nil || closing {
		if err := c.dev.Close(cctx, c.be); err == nil {
			return
		}
	}
	// A handshake that ran out of time spent cctx: saying Closed gets a bound of its own.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer scancel()
	_ = c.dev.SwitchState(sctx, xenbus.XenbusStateClosed)
}

// closeTimeout bounds the closing handshake: how long Close waits for a backend that does not
// answer.
const closeTimeout = 10 * time.Second

// close stops the queues, runs the frontend's side of closing and releases everything.
func (c *conn) close(ctx context.Context) error {
	close(c.done)
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	// Bounded: a backend that never answers must not keep Close from returning.
	cctx, cancel := context.WithTimeout(ctx, closeTimeout)
	err := c.dev.Close(cctx, c.be)
	cancel()
	c.be.Close()
	c.release()
	return err
}

// stale reports whether the connection was made in the domain before a suspension: one of its
// event channels lost its port (evtchn.Channel.Stale).
func (c *conn) stale() bool {
	for _, q := range c.queues {
		for _, ch := range q.chans {
			if s, ok := ch.(interface{ Stale() bool }); ok && s.Stale() {
				return true
			}
		}
	}
	return false
}

// drop stops the queues and releases everything without a word to the backend: after the
// domain resumed in a new domain, that backend and the event channels are gone (evtchn makes
// the channels stale, so closing them leaves Xen alone) and the grant table is a new one.
func (c *conn) drop() {
	close(c.done)
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	c.be.Close()
	c.release()
}

// release closes every channel and gives back every page of the pool (pagePool.release: a
// page the backend still maps is freed once it unmaps it, never before).
func (c *conn) release() {
	for _, q := range c.queues {
		// A sender that took this connection before it went away may still be filling a TX
		// page: wait for it, under the TX lock, before the pages go. Senders that take the
		// lock after this find the connection done and leave it alone.
		q.tx.mu.Lock()
		defer q.tx.mu.Unlock()
		for _, ch := range q.chans {
			_ = ch.Close()
		}
		q.chans = nil
		q.stats.txInFlight.Store(0)
		q.stats.rxPosted.Store(0)
	}
	if inUse := c.pool.release(c.d.logf); inUse > 0 {
		c.d.logf("netfront: %d pages still mapped by the backend: freed once it unmaps them", inUse)
	}
}

func (c *conn) gsoAllowed(t uint8) bool {
	return t == GSOTCPv4 && c.features.GSOTCPv4 || t == GSOTCPv6 && c.features.GSOTCPv6
}

// waitRetry pauses between reconnection attempts; false if ctx ended.
func waitRetry(ctx context.Context) bool {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
