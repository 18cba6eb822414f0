// Per-queue counters, updated without locks and read at any time.

package netfront

import "sync/atomic"

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

type counters struct {
	txPackets, txBytes, txErrors, txDropped, txGSO atomic.Uint64
	rxPackets, rxBytes, rxErrors, rxDropped, rxGSO atomic.Uint64
	rxCsumBlank, violations, txPolled              atomic.Uint64
	txTimeouts, rxBadGSO, rxOverSlots              atomic.Uint64
	spurious, throttled                            atomic.Uint64
	txInFlight, rxPosted                           atomic.Int64
}

func (c *counters) snapshot() QueueStats {
	return QueueStats{
		TxPackets: c.txPackets.Load(), TxBytes: c.txBytes.Load(), TxErrors: c.txErrors.Load(),
		TxDropped: c.txDropped.Load(), TxGSO: c.txGSO.Load(),
		RxPackets: c.rxPackets.Load(), RxBytes: c.rxBytes.Load(), RxErrors: c.rxErrors.Load(),
		RxDropped: c.rxDropped.Load(), RxGSO: c.rxGSO.Load(), RxCsumBlank: c.rxCsumBlank.Load(),
		Violations: c.violations.Load(), TxPolled: c.txPolled.Load(),
		TxTimeouts: c.txTimeouts.Load(), RxBadGSO: c.rxBadGSO.Load(), RxOverSlots: c.rxOverSlots.Load(),
		Spurious: c.spurious.Load(), Throttled: c.throttled.Load(),
		TxInFlight: uint64(max(c.txInFlight.Load(), 0)), RxPosted: uint64(max(c.rxPosted.Load(), 0)),
	}
}
