// One connection to the backend: how connect negotiates and starts it.

package netfront

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen/xenbus"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// conn is the device connected to one backend instance. Everything in it is fixed once it
// runs, except the rings' contents. Its life (lifecycle.go) is one connState, changed by
// connect and the supervisor only, or by Close once the supervisor is gone.
type conn struct {
	d        *Device
	dev      *xenbus.Device
	be       *xenbus.StateWatch
	mac      net.HardwareAddr
	mtu      int
	features Features
	queues   []*queue
	pool     *pagePool // every page granted to the backend, rings and buffers
	state    connState

	resumed <-chan struct{} // the Device's resumed when connect began (see supervise)
	done    chan struct{}   // closed when the connection stops running
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the queues' goroutines
}

// connect negotiates with the vif's current backend and brings a connection up: found,
// negotiated and published (starting), then running. An attempt that fails is abandoned.
func (d *Device) connect(ctx context.Context) (*conn, error) {
	c, err := d.newConn(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.handshake(ctx); err != nil {
		return nil, err
	}
	// A new connection starts clean: a violation of the previous one (whose goroutines and
	// senders are gone: it ended) does not break this one. Cleared before the queues'
	// goroutines start, since they stop at the first sight of a broken device.
	d.broken.Store(nil)
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// newConn finds the vif's backend and follows the backend's state.
func (d *Device) newConn(ctx context.Context) (*conn, error) {
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
	if c.be, err = dev.WatchBackend(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// handshake negotiates with the backend, builds the queues and publishes them as the backend
// connects. On failure the attempt ends abandoned.
func (c *conn) handshake(ctx context.Context) error {
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
	err := c.build(cctx)
	if err == nil {
		return nil
	}
	cancel()
	if vanished.Load() {
		err = fmt.Errorf("netfront: backend %s vanished: %w", c.dev.Backend, err)
	}
	_ = c.end(ctx, connAbandoned)
	return fmt.Errorf("netfront: connecting %s: %w", c.dev.Path, err)
}

// build waits for the backend, reads the MAC and MTU and negotiates the features (one round
// trip, readOffer), makes the queues and publishes them.
func (c *conn) build(ctx context.Context) error {
	xs := c.d.p.XenStore
	// The backend's features are there once it waits for us in InitWait (netback_probe writes
	// them first), not before: a driver domain may probe the vif after we found it.
	if err := c.dev.Prepare(ctx, c.be); err != nil {
		return err
	}
	o, err := readOffer(ctx, xs, c.dev.Backend, c.dev.Path, c.d.cfg)
	if err != nil {
		return err
	}
	c.features, c.mac, c.mtu = o.features, o.mac, o.mtu
	for i := 0; i < c.features.Queues; i++ {
		q, err := c.newQueue(i)
		c.queues = append(c.queues, q) // even half-built, so release can undo it
		if err != nil {
			return err
		}
	}
	return c.dev.Connect(ctx, c.be, func(tx *xenstore.Tx) error { return c.publish(ctx, tx) })
}

// start runs the connection: each queue's RX buffers posted and its goroutines started. If a
// queue's buffers cannot be posted, the connection, whose earlier queues run already, ends
// closed.
func (c *conn) start(ctx context.Context) error {
	if err := c.to(connRunning); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	for _, q := range c.queues {
		if err := q.rx.post(); err != nil {
			_ = c.end(ctx, connClosed)
			return err
		}
		c.wg.Add(1)
		go func() { defer c.wg.Done(); q.rx.run(runCtx, !c.features.SplitEventChannels) }()
		if c.features.SplitEventChannels {
			c.wg.Add(1)
			go func() { defer c.wg.Done(); q.tx.run(runCtx) }()
		}
	}
	return nil
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

func (c *conn) gsoAllowed(t uint8) bool {
	return t == GSOTCPv4 && c.features.GSOTCPv4 || t == GSOTCPv6 && c.features.GSOTCPv6
}
