// A queue's goroutines: the event channel pumps (xenvif_interrupt, xenvif_tx_interrupt,
// xenvif_rx_interrupt), TX processing (xenvif_poll) and RX (xenvif_kthread_guest_rx).

package netback

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen/evtchn"
	"github.com/tamaxen/tamaxen/xen/sim"
)

// napiWeight is XENVIF_NAPI_WEIGHT: TX packets per poll.
const napiWeight = 64

// queueCounters are one queue index's counters, kept across reconnections.
type queueCounters struct {
	txPackets, rxPackets, rxDropped, rxErrors atomic.Uint64
}

// queue is one connected TX/RX ring pair.
type queue struct {
	b     *Backend
	index int

	txMap, rxMap *sim.Mapping
	txCh, rxCh   *evtchn.Channel // the same channel unless split
	vif          *Vif
	rx           rxQueue

	// Injected frames: pending holds those waiting for RX buffers, free the unused items.
	// Both have capacity RxQueueLen and between them always hold every item.
	pending, free chan *rxItem

	txKick, rxKick chan struct{} // capacity 1: work may be waiting
	txMu           sync.Mutex    // serialises txWork between its two callers
	cancel         context.CancelFunc
	wg             sync.WaitGroup
}

func newQueue(b *Backend, index int) *queue {
	q := &queue{b: b, index: index,
		pending: make(chan *rxItem, b.cfg.RxQueueLen), free: make(chan *rxItem, b.cfg.RxQueueLen),
		txKick: make(chan struct{}, 1), rxKick: make(chan struct{}, 1)}
	for range b.cfg.RxQueueLen {
		q.free <- &rxItem{}
	}
	return q
}

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (q *queue) kickAll() { kick(q.txKick); kick(q.rxKick) }

// start runs the queue's goroutines. Work posted before the channels were bound is picked up
// by a first kick, as xenvif_connect_data schedules NAPI once.
func (q *queue) start() {
	ctx, cancel := context.WithCancel(context.Background())
	q.cancel = cancel
	shared := q.rxCh == q.txCh
	q.wg.Add(3)
	go func() {
		defer q.wg.Done()
		// xenvif_interrupt (shared) or xenvif_tx_interrupt (split), and the NAPI poll it
		// schedules, which Linux runs right after the handler on the same CPU: the TX work
		// is done here rather than handed to another goroutine, a switch Linux does not make.
		for q.txCh.Wait(ctx) == nil {
			if shared {
				kick(q.rxKick)
			}
			q.txWork()
		}
	}()
	go func() { defer q.wg.Done(); q.txLoop(ctx) }()
	go func() { defer q.wg.Done(); q.rxLoop(ctx) }()
	if !shared {
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			for q.rxCh.Wait(ctx) == nil { // xenvif_rx_interrupt
				kick(q.rxKick)
			}
		}()
	}
	q.kickAll()
}

// stop ends the goroutines and undoes everything connectDataRings did.
func (q *queue) stop() {
	if q.cancel != nil {
		q.cancel()
	}
	if q.rxCh != nil && q.rxCh != q.txCh {
		_ = q.rxCh.Close()
	}
	if q.txCh != nil {
		_ = q.txCh.Close()
	}
	q.wg.Wait()
	if q.vif != nil {
		q.vif.Release()
	}
	q.rx.release()
	if q.txMap != nil {
		q.txMap.Unmap()
	}
	if q.rxMap != nil {
		q.rxMap.Unmap()
	}
}

// deliverTx hands a TX frame to the attachment.
func (q *queue) deliverTx(f Frame) {
	q.b.qstats[q.index].txPackets.Add(1)
	if fn := q.b.deliver.Load(); fn != nil && *fn != nil {
		(*fn)(f)
	}
}

// txLoop runs txWork when kicked (at start, and when a fault changes) rather than by an
// event. A fatal error disables the vif (xenvif_fatal_tx_err): the loop ends, the ring stays
// as is (and ProcessTx keeps failing for the event path).
func (q *queue) txLoop(ctx context.Context) {
	for {
		select {
		case <-q.txKick:
		case <-ctx.Done():
			return
		}
		if !q.txWork() {
			return
		}
	}
}

// txWork is xenvif_poll: up to napiWeight packets per pass, then again while work remains. It
// reports false once the vif failed.
func (q *queue) txWork() bool {
	q.txMu.Lock()
	defer q.txMu.Unlock()
	for q.b.currentFault() != FaultStall {
		n, notify, err := q.vif.ProcessTx(napiWeight)
		if notify {
			_ = q.txCh.Notify()
		}
		if err != nil {
			q.b.setFatal(err)
			return false
		}
		if n < napiWeight {
			break
		}
	}
	return true
}
