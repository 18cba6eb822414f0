// The device: discovery, connecting its queues, the goroutines that serve them, and teardown.

package netfront

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"sync"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/ring"
	"github.com/tamaxen/tamaxen/xen/xenbus"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// Device is a connected vif.
type Device struct {
	p        Platform
	cfg      Config
	dev      *xenbus.Device
	be       *xenbus.StateWatch
	mac      net.HardwareAddr
	mtu      int
	features Features
	queues   []*queue

	broken  atomic.Pointer[error] // the first protocol violation, if any
	closing chan struct{}
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
}

// queue is one TX/RX ring pair with its pages and grants.
type queue struct {
	dev       *Device
	index     int
	tx        txQueue
	rx        rxQueue
	txRingRef xen.GrantRef
	rxRingRef xen.GrantRef
	stats     counters

	// Everything granted or allocated for this queue, so teardown can end access to each.
	grants []xen.GrantRef
	pages  []xen.Page
	chans  []channel
}

// Open finds the vif, negotiates with its backend and connects. The device then passes
// frames until Close, or until the backend breaks the protocol.
func Open(ctx context.Context, p Platform, cfg Config) (*Device, error) {
	if p.XenStore == nil || p.Grants == nil || p.Events == nil || p.Memory == nil {
		return nil, errors.New("netfront: incomplete Platform")
	}
	xs := p.XenStore
	id := cfg.ID
	if id == "" {
		ids, err := xenbus.Devices(ctx, xs, "vif")
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, errors.New("netfront: no vif in device/vif")
		}
		id = ids[0]
	}
	dev, err := xenbus.Open(ctx, xs, "vif", id)
	if err != nil {
		return nil, err
	}
	d := &Device{p: p, cfg: cfg, dev: dev, closing: make(chan struct{})}
	if d.mac, err = readMAC(ctx, xs, dev.Path); err != nil {
		return nil, err
	}
	if d.features, err = negotiate(ctx, xs, dev.Backend, cfg); err != nil {
		return nil, err
	}
	d.mtu = readMTU(ctx, xs, dev.Path, d.features.SG)
	if d.be, err = dev.WatchBackend(ctx); err != nil {
		return nil, err
	}
	for i := 0; i < d.features.Queues; i++ {
		q, err := d.newQueue(i)
		d.queues = append(d.queues, q) // even half-built, so release can undo it
		if err != nil {
			d.be.Close()
			d.release()
			return nil, err
		}
	}
	err = dev.Connect(ctx, d.be, func(tx *xenstore.Tx) error { return d.publish(ctx, tx) })
	if err != nil {
		d.be.Close()
		d.release()
		return nil, fmt.Errorf("netfront: connecting %s: %w", dev.Path, err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	for _, q := range d.queues {
		if err := q.rx.post(); err != nil {
			d.Close()
			return nil, err
		}
		d.wg.Add(1)
		go func() { defer d.wg.Done(); q.rx.run(runCtx, !d.features.SplitEventChannels) }()
		if d.features.SplitEventChannels {
			d.wg.Add(1)
			go func() { defer d.wg.Done(); q.tx.run(runCtx) }()
		}
	}
	return d, nil
}

// newQueue allocates a queue's rings, buffers, grants and event channels.
func (d *Device) newQueue(index int) (*queue, error) {
	q := &queue{dev: d, index: index}
	q.tx.q, q.rx.q = q, q
	dom := d.dev.BackendID
	page := func(readonly bool) (xen.Page, xen.GrantRef, error) {
		pg, err := d.p.Memory.AllocPage()
		if err != nil {
			return xen.Page{}, 0, err
		}
		q.pages = append(q.pages, pg)
		ref, err := d.p.Grants.Grant(dom, pg.Frame, readonly)
		if err != nil {
			return xen.Page{}, 0, err
		}
		q.grants = append(q.grants, ref)
		return pg, ref, nil
	}

	txRing, txRef, err := page(false)
	if err != nil {
		return q, err
	}
	rxRing, rxRef, err := page(false)
	if err != nil {
		return q, err
	}
	q.txRingRef, q.rxRingRef = txRef, rxRef
	if q.tx.ring, err = ring.NewFront(txRing.Data, netif.TxSlotSize); err != nil {
		return q, err
	}
	if q.rx.ring, err = ring.NewFront(rxRing.Data, netif.RxSlotSize); err != nil {
		return q, err
	}

	ntx := d.cfg.TxBuffers
	if ntx <= 0 {
		ntx = 64
	}
	ntx = min(ntx, q.tx.ring.Size())
	for id := 0; id < ntx; id++ {
		pg, ref, err := page(true)
		if err != nil {
			return q, err
		}
		q.tx.pages = append(q.tx.pages, pg)
		q.tx.grefs = append(q.tx.grefs, ref)
		q.tx.free = append(q.tx.free, uint16(ntx-1-id))
	}
	q.tx.inflight = make([]bool, ntx)
	q.tx.space = make(chan struct{}, 1)

	nrx := d.cfg.RxBuffers
	if nrx <= 0 {
		nrx = 128
	}
	nrx = min(max(nrx, minRxBuffers), q.rx.ring.Size())
	q.rx.mask = uint32(q.rx.ring.Size() - 1)
	q.rx.posted = make([]uint16, q.rx.ring.Size())
	for id := 0; id < nrx; id++ {
		pg, ref, err := page(false)
		if err != nil {
			return q, err
		}
		q.rx.pages = append(q.rx.pages, pg)
		q.rx.grefs = append(q.rx.grefs, ref)
		q.rx.free = append(q.rx.free, uint16(nrx-1-id))
	}
	q.rx.frame = make([]byte, 0, maxRxFrame)

	ch, err := d.p.Events.AllocUnbound(dom)
	if err != nil {
		return q, err
	}
	q.chans = append(q.chans, ch)
	q.tx.ch, q.rx.ch = ch, ch
	if d.features.SplitEventChannels {
		rch, err := d.p.Events.AllocUnbound(dom)
		if err != nil {
			return q, err
		}
		q.chans = append(q.chans, rch)
		q.rx.ch = rch
	}
	return q, nil
}

// run is the TX completion goroutine of a queue with its own TX event channel.
func (t *txQueue) run(ctx context.Context) {
	for t.ch.Wait(ctx) == nil {
		if t.reclaim() != nil {
			return
		}
	}
}

// MAC returns the vif's MAC address.
func (d *Device) MAC() net.HardwareAddr { return d.mac }

// MTU returns the largest frame payload (Ethernet header excluded) the device passes.
func (d *Device) MTU() int { return d.mtu }

// Features returns what was negotiated with the backend.
func (d *Device) Features() Features { return d.features }

// Path returns the frontend's XenStore directory.
func (d *Device) Path() string { return d.dev.Path }

// Stats returns each queue's counters.
func (d *Device) Stats() []QueueStats {
	s := make([]QueueStats, len(d.queues))
	for i, q := range d.queues {
		s[i] = q.stats.snapshot()
	}
	return s
}

// Send queues a frame on the queue its flow hashes to, waiting for ring space while ctx allows.
// The frame is copied: the caller may reuse it as soon as Send returns.
func (d *Device) Send(ctx context.Context, frame []byte, m TxMeta) error {
	if err := d.err(); err != nil {
		return err
	}
	q := d.queues[0]
	if len(d.queues) > 1 {
		q = d.queues[flowHash(frame)%uint32(len(d.queues))]
	}
	return q.tx.send(ctx, frame, m)
}

// flowHash spreads flows over queues by their IPv4/IPv6 addresses and ports, so that one
// flow stays on one queue and keeps its order.
func flowHash(f []byte) uint32 {
	h := fnv.New32a()
	switch {
	case len(f) >= 14+20 && f[12] == 0x08 && f[13] == 0x00:
		ihl := int(f[14]&0x0f) * 4
		h.Write(f[14+12 : 14+20])
		if f[14+9] == 6 || f[14+9] == 17 {
			if len(f) >= 14+ihl+4 {
				h.Write(f[14+ihl : 14+ihl+4])
			}
		}
	case len(f) >= 14+40 && f[12] == 0x86 && f[13] == 0xdd:
		h.Write(f[14+8 : 14+40])
		if (f[14+6] == 6 || f[14+6] == 17) && len(f) >= 14+40+4 {
			h.Write(f[14+40 : 14+44])
		}
	default:
		return 0
	}
	return h.Sum32()
}

func (d *Device) gsoAllowed(t uint8) bool {
	return t == GSOTCPv4 && d.features.GSOTCPv4 || t == GSOTCPv6 && d.features.GSOTCPv6
}

// violation records a backend protocol violation: the device is broken from now on.
func (d *Device) violation(q *queue, format string, args ...any) error {
	q.stats.violations.Add(1)
	err := fmt.Errorf("%w: netfront queue %d: %s", ErrBroken, q.index, fmt.Sprintf(format, args...))
	d.broken.CompareAndSwap(nil, &err)
	return err
}

// err returns why the device no longer works, or nil.
func (d *Device) err() error {
	if p := d.broken.Load(); p != nil {
		return *p
	}
	select {
	case <-d.closing:
		return ErrClosed
	default:
		return nil
	}
}

// Err reports whether the device broke (ErrBroken, with the violation) or was closed.
func (d *Device) Err() error { return d.err() }

// Close disconnects from the backend, stops the device's goroutines, ends access to every page
// granted and frees them. Pages the backend still holds are not reused.
func (d *Device) Close() error {
	var err error
	d.once.Do(func() {
		close(d.closing)
		if d.cancel != nil {
			d.cancel()
		}
		d.wg.Wait()
		ctx := context.Background()
		if d.dev != nil && d.be != nil {
			err = d.dev.Close(ctx, d.be)
		}
		if d.be != nil {
			d.be.Close()
		}
		if rerr := d.release(); err == nil {
			err = rerr
		}
	})
	return err
}

// release ends every grant, closes every channel and frees every page of every queue.
func (d *Device) release() error {
	var inUse int
	for _, q := range d.queues {
		for _, ch := range q.chans {
			_ = ch.Close()
		}
		for i, ref := range q.grants {
			if err := d.p.Grants.Revoke(ref); err != nil {
				// The backend still maps it: the page must never be reused.
				inUse++
				q.pages[i] = xen.Page{}
			}
		}
		for _, pg := range q.pages {
			if pg.Data != nil {
				d.p.Memory.FreePage(pg)
			}
		}
		q.grants, q.pages, q.chans = nil, nil, nil
	}
	if inUse > 0 {
		return fmt.Errorf("netfront: %d pages still mapped by the backend were not reused", inUse)
	}
	return nil
}
