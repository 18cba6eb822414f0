// Package evtchn implements Xen event channels with the 2-level ABI (xen/include/public/
// event_channel.h and the evtchn_* fields of shared_info in xen.h): the EVTCHNOP hypercalls, the
// upcall demultiplexer that turns pending bits into goroutine wakeups, and Channel, the
// xen.EventChannel the drivers use.
//
// The package is portable: it reaches Xen only through xen.Hypervisor and a []byte view of the
// shared_info page, so it runs on a TamaGo PVH guest and against a simulated Xen in host tests.
//
// # Delivery
//
// The platform's interrupt handler calls Dispatcher.Upcall. Upcall only demultiplexes: for each
// pending, unmasked port it masks the port, clears pending and puts a token in the port's channel
// of capacity 1 (a non-blocking send, so tokens coalesce and none is lost). Channel.Wait takes the
// token and unmasks the port.
//
// Unmasking is local with a re-check, not EVTCHNOP_unmask: Wait clears the mask bit and then tests
// pending; if an event arrived while the port was masked (Xen latched it in pending without raising
// an upcall, the edge is lost), Wait delivers it itself exactly as Upcall would. That saves a
// hypercall per wakeup. (Linux re-raises the upcall for the local vcpu instead, and falls back to
// EVTCHNOP_unmask on HVM because setting upcall_pending by hand raises no interrupt there; we have
// no interrupt to raise, the waiter is already running.)
//
// Consequences: a burst of events before a Wait gives one wakeup, plus at most one more for the
// events latched while the port was masked. A wakeup may find no new work; an event is never lost.
// New masks every port, so a port bound before the Dispatcher existed (XenStore, console) raises
// nothing until it is attached with Dispatcher.Attach.
package evtchn

import (
	"errors"
	"fmt"
	"math/bits"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen"
)

// ErrPortInUse is returned when a port is already attached to a Channel of this Dispatcher.
var ErrPortInUse = errors.New("evtchn: port already attached")

// ErrStale is returned by Notify on a Channel whose port was lost when the domain was suspended
// and resumed in a new domain (see Dispatcher.Resume).
var ErrStale = errors.New("evtchn: port lost across suspend; the channel must be bound anew")

// Dispatcher owns the event-channel state of one vcpu: it demultiplexes that vcpu's upcalls and
// holds the port table. TamaGo runs a guest on one vcpu, so a guest has one Dispatcher.
type Dispatcher struct {
	hv   xen.Hypervisor
	si   sharedInfo
	vcpu uint32

	// ports is read lock-free by Upcall and written by attach/detach with atomic pointer
	// operations, so registering never blocks the interrupt path and vice versa.
	ports [EVTCHN_2L_NR_CHANNELS]atomic.Pointer[Channel]

	upcalls  atomic.Uint64
	events   atomic.Uint64
	stray    atomic.Uint64
	notifies atomic.Uint64

	// testHookBeforeTake, set only by tests, runs in deliver between finding a Channel on the
	// port and taking the port's pending bit: where another goroutine may close the Channel and
	// bind the number again.
	testHookBeforeTake func(p xen.Port)
}

// Stats counts what the Dispatcher has seen.
type Stats struct {
	Upcalls uint64 // calls to Upcall, including empty ones
	Events  uint64 // wakeups delivered to a Channel (before coalescing)
	Stray   uint64 // pending ports with no Channel; they are masked and left pending
	// Notifies counts EVTCHNOP_send calls that succeeded (Channel.Notify): each may wake the
	// other domain, so a driver batches them.
	Notifies uint64
}

// New returns the Dispatcher for vcpu, working on sharedInfo, the guest's mapping of the
// shared_info page (at least SharedInfoMinSize bytes, 8-byte aligned). It masks every port;
// each port is unmasked when a Channel is attached to it.
func New(hv xen.Hypervisor, sharedInfo []byte, vcpu uint32) (*Dispatcher, error) {
	if hv == nil {
		return nil, errors.New("evtchn: nil Hypervisor")
	}
	si, err := newSharedInfo(sharedInfo, vcpu)
	if err != nil {
		return nil, err
	}
	si.maskAll()
	return &Dispatcher{hv: hv, si: si, vcpu: vcpu}, nil
}

// Stats returns the counters.
func (d *Dispatcher) Stats() Stats {
	return Stats{Upcalls: d.upcalls.Load(), Events: d.events.Load(), Stray: d.stray.Load(), Notifies: d.notifies.Load()}
}

// Pending reports whether Xen has flagged an upcall (the vcpu's evtchn_upcall_pending) that
// Upcall has not serviced yet. A platform that polls, rather than trusting every interrupt to
// arrive, calls Upcall when it is set.
func (d *Dispatcher) Pending() bool { return d.si.upcallPending() }

// Upcall services the event-channel upcall. The platform calls it from its interrupt handler
// (on TamaGo, the interrupt-servicing goroutine). It does not allocate, block, or take locks other
// than the runtime's brief channel lock; an upcall with nothing pending is normal and harmless.
// Concurrent calls are safe: every bit changes hands through an atomic exchange or AND.
func (d *Dispatcher) Upcall() {
	d.upcalls.Add(1)
	for {
		// Clear the flag before taking the selector: an event Xen posts after this point sets
		// it again and is caught by the loop condition below, so no edge is lost.
		d.si.clearUpcallPending()
		for sel := d.si.swapPendingSel(); sel != 0; sel &= sel - 1 {
			w := bits.TrailingZeros64(sel)
			for ready := d.si.ready(w); ready != 0; ready &= ready - 1 {
				d.deliver(xen.Port(w*64 + bits.TrailingZeros64(ready)))
			}
		}
		if !d.si.upcallPending() {
			return
		}
	}
}

// deliver hands one pending port to its Channel. The order matters:
//  1. Mask first, so a new event on the port is latched in pending (no upcall) until the waiter
//     unmasks, and so a concurrent attach either sees our mask and clears it, or is seen by the
//     load below.
//  2. Look for a Channel. With none, leave pending set: attach's re-check delivers it if the port
//     is being bound right now; otherwise it is a stray, masked so it cannot storm.
//  3. Clear pending. The one who clears it (we, or a racing Upcall or re-check) sends the token.
//  4. Load the Channel only now: the port may have been closed and its number bound again since
//     step 2, and an event made pending after the new Channel attached is the new Channel's, not
//     its predecessor's (a token sent to a closed Channel is lost). With no Channel any more,
//     put the event back for the next one and look again.
//  5. Non-blocking send: a token already there means the waiter has not run yet and will see
//     this event too.
//
// A loser of step 3 must not leave its mask behind: the winner's token may already have been
// consumed and the port unmasked, and a stale mask would then strand the port (masked, no token,
// nobody to unmask). So the loser unmasks again and re-checks.
func (d *Dispatcher) deliver(p xen.Port) {
	for {
		d.si.setMask(p)
		if d.ports[p].Load() == nil {
			d.stray.Add(1)
			return
		}
		if d.testHookBeforeTake != nil {
			d.testHookBeforeTake(p)
		}
		if d.si.testAndClearPending(p) {
			c := d.ports[p].Load()
			if c == nil {
				d.si.setPending(p)
				continue
			}
			d.events.Add(1)
			select {
			case c.ch <- struct{}{}:
			default:
			}
			return
		}
		d.si.clearMask(p)
		if !d.si.isPending(p) {
			return
		}
	}
}

// unmask is the local unmask with re-check (see the package doc): a port that became pending
// while masked produced no upcall, so we deliver it here.
func (d *Dispatcher) unmask(p xen.Port) {
	d.si.clearMask(p)
	if d.si.isPending(p) {
		d.deliver(p)
	}
}

// attach registers c for its port and unmasks the port; an event already pending (Xen marks a
// freshly bound interdomain port pending) is delivered at once.
func (d *Dispatcher) attach(c *Channel) error {
	if !d.ports[c.port].CompareAndSwap(nil, c) {
		return fmt.Errorf("%w: port %d", ErrPortInUse, c.port)
	}
	d.unmask(c.port)
	return nil
}

// detach masks the port and removes c from the table; a later Upcall treats the port as stray.
// A stale channel's port is no longer in the table and may belong to another channel now, so
// it is left alone.
func (d *Dispatcher) detach(c *Channel) {
	if c.stale.Load() {
		return
	}
	d.si.setMask(c.port)
	d.ports[c.port].CompareAndSwap(c, nil)
}

// Resume brings the Dispatcher back after the domain was suspended and resumed in a new domain
// (xl restore, migration), once the platform has mapped shared_info again. Xen remembers no
// port of the old domain: Resume masks every port, binds each VIRQ channel again (the same
// Channel, on its new port, so its waiter carries on), and marks every other channel stale.
// A stale channel's Notify fails with ErrStale and its Close leaves Xen alone; its owner binds
// a new one (netfront reconnects), or, for a port the toolstack binds (XenStore, console), the
// platform moves it to the new port with Reattach.
//
// Resume and Reattach must run while no other goroutine uses the Dispatcher's channels, as is
// the case on the single vCPU right after SCHEDOP_shutdown(SHUTDOWN_suspend) returns.
func (d *Dispatcher) Resume() error {
	d.si.maskAll()
	var virqs []*Channel
	for p := range d.ports {
		c := d.ports[p].Swap(nil)
		if c == nil {
			continue
		}
		c.stale.Store(true)
		if c.isVIRQ && !c.closed.Load() {
			virqs = append(virqs, c)
		}
	}
	var first error
	for _, c := range virqs {
		p, err := BindVIRQ(d.hv, c.virq, d.vcpu)
		if err == nil {
			err = d.move(c, p)
		}
		if err != nil && first == nil {
			first = fmt.Errorf("evtchn: resume: VIRQ %d: %w", c.virq, err)
		}
	}
	return first
}

// Reattach moves c, a channel made by Attach that Resume marked stale, to port, the number the
// toolstack bound for the new domain. See Resume.
func (d *Dispatcher) Reattach(c *Channel, port xen.Port) error {
	if c.d != d || c.owned || c.closed.Load() {
		return fmt.Errorf("evtchn: reattach port %d: not an attached, open channel of this dispatcher", port)
	}
	if !validPort(port) {
		return fmt.Errorf("%w: reattach port %d", ErrBadPort, port)
	}
	return d.move(c, port)
}

// move gives c the port p and attaches it there, delivering an event already pending.
func (d *Dispatcher) move(c *Channel, p xen.Port) error {
	if !d.ports[p].CompareAndSwap(nil, c) {
		return fmt.Errorf("%w: port %d", ErrPortInUse, p)
	}
	if c.port != p {
		d.ports[c.port].CompareAndSwap(c, nil)
	}
	c.port = p
	putPortArg(c.sendArg[:], p)
	c.stale.Store(false)
	d.unmask(p)
	// The new domain lost any event in flight when it was suspended: wake the waiter once so
	// it looks at its ring or timer again.
	select {
	case c.ch <- struct{}{}:
	default:
	}
	return nil
}
