// A queue: one TX/RX ring pair, its buffers and its event channels.

package netfront

import (
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/evtchn"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/ring"
)

// queue is one TX/RX ring pair; its pages are the connection's pool's.
type queue struct {
	dev       *Device
	c         *conn
	index     int
	tx        txQueue
	rx        rxQueue
	txRingRef xen.GrantRef
	rxRingRef xen.GrantRef
	stats     *counters
	chans     []channel // the queue's event channels, so teardown can close each
}

// newQueue makes queue index of c: its rings, as many buffers as the configuration asks for
// within what the rings hold, and its event channels. A queue returned with an error is
// half-built: what it took is in the pool and in chans, for teardown.
func (c *conn) newQueue(index int) (*queue, error) {
	q := c.emptyQueue(index)
	if err := q.makeRings(c.pool); err != nil {
		return q, err
	}
	cfg := c.d.cfg
	ntx := bufferCount(cfg.TxBuffers, 64, MinTxBuffers, q.tx.ring.Size())
	nrx := bufferCount(cfg.RxBuffers, 128, minRxBuffers, q.rx.ring.Size())
	if err := q.makeBuffers(c.pool, ntx, nrx); err != nil {
		return q, err
	}
	return q, q.makeChannels(c.d.p.Events, c.dev.BackendID, c.features.SplitEventChannels)
}

// emptyQueue is queue index of c with nothing allocated yet.
func (c *conn) emptyQueue(index int) *queue {
	q := &queue{dev: c.d, c: c, index: index, stats: c.d.queueCounters(index)}
	q.tx.q, q.rx.q = q, q
	q.tx.mu = &q.stats.txMu
	q.tx.space = make(chan struct{}, 1)
	q.tx.storm.wake = make(chan struct{}, 1)
	q.rx.storm.wake = make(chan struct{}, 1)
	q.rx.asm = newRxAssembler()
	return q
}

// bufferCount is the number of buffers a queue gets when asked for n (def if n <= 0): at least
// least, at most one per ring slot.
func bufferCount(n, def, least, ringSize int) int {
	if n <= 0 {
		n = def
	}
	return min(max(n, least), ringSize)
}

// makeRings grants the TX and RX ring pages, both writable.
func (q *queue) makeRings(pool *pagePool) error {
	txRing, txRef, err := pool.grant(false)
	if err != nil {
		return err
	}
	rxRing, rxRef, err := pool.grant(false)
	if err != nil {
		return err
	}
	q.txRingRef, q.rxRingRef = txRef, rxRef
	if q.tx.ring, err = ring.NewFront(txRing.Data, netif.TxSlotSize); err != nil {
		return err
	}
	q.rx.ring, err = ring.NewFront(rxRing.Data, netif.RxSlotSize)
	return err
}

// makeBuffers grants ntx TX buffers, read-only, and nrx RX buffers, writable.
func (q *queue) makeBuffers(pool *pagePool, ntx, nrx int) error {
	var err error
	if q.tx.bufs, err = pool.buffers(ntx, true); err != nil {
		return err
	}
	q.tx.inflight = make([]bool, ntx)
	q.rx.mask = uint32(q.rx.ring.Size() - 1)
	q.rx.posted = make([]uint16, q.rx.ring.Size())
	q.rx.bufs, err = pool.buffers(nrx, false)
	return err
}

// makeChannels allocates the queue's event channel to the backend's domain, or two (TX and
// RX) with split event channels.
func (q *queue) makeChannels(events *evtchn.Dispatcher, dom xen.DomID, split bool) error {
	ch, err := events.AllocUnbound(dom)
	if err != nil {
		return err
	}
	q.chans = append(q.chans, ch)
	q.tx.ch, q.rx.ch = ch, ch
	if split {
		rch, err := events.AllocUnbound(dom)
		if err != nil {
			return err
		}
		q.chans = append(q.chans, rch)
		q.rx.ch = rch
	}
	return nil
}
