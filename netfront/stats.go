// Per-queue counters: the datapath's counted per batch under its ring lock, the rare ones
// with atomics; all read at any time.

package netfront

import (
	"sync"
	"sync/atomic"
)

// QueueStats are one queue's counters.
type QueueStats struct {
	TxPackets, TxBytes, TxErrors, TxDropped, TxGSO uint64
	RxPackets, RxBytes, RxErrors, RxDropped, RxGSO uint64
	// RxCsumBlank counts frames that arrived with a partial checksum to complete
	// (Linux's rx_gso_checksum_fixup counts the fix-ups of such frames).
	RxCsumBlank uint64
	// Violations counts backend protocol violations (each one breaks the device).
	Violations uint64
	// TxInFlight is the number of TX slots awaiting a response; RxPosted the posted RX buffers.
	TxInFlight, RxPosted uint64
	// TxPolled counts the times a sender waiting for TX space found completions by polling
	// rather than through an event (expected without split event channels; with them, each
	// one is an event that never came).
	TxPolled uint64
	// Causes within the counters above. TxTimeouts are the TxDropped frames whose Send ended
	// (its context) while the ring was full; the rest of TxDropped were too large for the
	// slots a backend accepts. RxBadGSO are the RxErrors frames dropped for a GSO extra of an
	// unknown type or a zero size, RxOverSlots those that took more slots than a backend may
	// use (more than XEN_NETIF_NR_SLOTS_MIN+1 data slots, or an extra-info slot per type); the rest had an error response
	// (NETIF_RSP_ERROR). A frame is counted once, for the first cause found.
	TxTimeouts, RxBadGSO, RxOverSlots uint64
	// Spurious counts event wakeups that found no new response on the rings they serve, and
	// Throttled the pauses taken because such wakeups came in a row: a backend notifying in
	// a loop (Linux's lateeoi, XSA-332) is served at a bounded rate.
	Spurious, Throttled uint64
}

// counters are one queue index's counters, kept across connections. The per-frame ones are
// plain integers under a lock the datapath holds anyway, so a frame costs no atomic
// read-modify-write for its accounting (one such instruction costs about as much as copying
// 100 bytes): tx under txMu, which is the TX ring lock of the queue with this index in every
// connection (txQueue.mu), and rx under rxMu, which the RX goroutine takes once per pass to add
// what the pass counted. The rare counters stay atomic, updated wherever they happen.
type counters struct {
	txMu sync.Mutex
	tx   txCounts // guarded by txMu
	rxMu sync.Mutex
	rx   rxCounts // guarded by rxMu

	txErrors, txDropped               atomic.Uint64
	rxErrors, rxDropped               atomic.Uint64
	violations, txPolled              atomic.Uint64
	txTimeouts, rxBadGSO, rxOverSlots atomic.Uint64
	spurious, throttled               atomic.Uint64
	rxPosted                          atomic.Int64 // net changes added once per pass
}

// txCounts are the TX counters of the frames queued, counted under the TX lock.
type txCounts struct {
	packets, bytes, gso uint64
	inFlight            int64 // TX slots awaiting a response
}

// rxCounts are the RX counters of the frames delivered, counted by one RX pass.
type rxCounts struct{ packets, bytes, gso, csumBlank uint64 }

func (c *rxCounts) add(o rxCounts) {
	c.packets += o.packets
	c.bytes += o.bytes
	c.gso += o.gso
	c.csumBlank += o.csumBlank
}

// addRx adds what one RX pass counted.
func (c *counters) addRx(o rxCounts) {
	if o == (rxCounts{}) {
		return
	}
	c.rxMu.Lock()
	c.rx.add(o)
	c.rxMu.Unlock()
}

func (c *counters) snapshot() QueueStats {
	c.txMu.Lock()
	tx := c.tx
	c.txMu.Unlock()
	c.rxMu.Lock()
	rx := c.rx
	c.rxMu.Unlock()
	return QueueStats{
		TxPackets: tx.packets, TxBytes: tx.bytes, TxErrors: c.txErrors.Load(),
		TxDropped: c.txDropped.Load(), TxGSO: tx.gso,
		RxPackets: rx.packets, RxBytes: rx.bytes, RxErrors: c.rxErrors.Load(),
		RxDropped: c.rxDropped.Load(), RxGSO: rx.gso, RxCsumBlank: rx.csumBlank,
		Violations: c.violations.Load(), TxPolled: c.txPolled.Load(),
		TxTimeouts: c.txTimeouts.Load(), RxBadGSO: c.rxBadGSO.Load(), RxOverSlots: c.rxOverSlots.Load(),
		Spurious: c.spurious.Load(), Throttled: c.throttled.Load(),
		TxInFlight: uint64(max(tx.inFlight, 0)), RxPosted: uint64(max(c.rxPosted.Load(), 0)),
	}
}
