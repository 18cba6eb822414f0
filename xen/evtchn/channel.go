// Channel: one bound port, implementing xen.EventChannel.

package evtchn

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen"
)

// Channel is a bound event-channel port attached to a Dispatcher. Notify and Wait may be called
// from different goroutines; Wait by one goroutine at a time (a second waiter would steal
// wakeups, not lose them).
type Channel struct {
	d      *Dispatcher
	port   xen.Port
	owned  bool // bound by us: Close issues EVTCHNOP_close (false for Attach)
	virq   VIRQ // for a BindVIRQ channel (isVIRQ), what Resume binds again
	isVIRQ bool

	// stale is set by Dispatcher.Resume on a channel whose port did not survive the domain's
	// suspension: its number may now be someone else's, so Notify refuses and Close neither
	// masks it nor closes it in Xen.
	stale atomic.Bool

	// ch holds at most one token meaning "an event arrived since the last Wait returned".
	// It is never closed, so a late send from Upcall can never panic.
	ch     chan struct{}
	done   chan struct{} // closed by Close to release a blocked Wait
	closed atomic.Bool

	// sendArg is the encoded struct evtchn_send. Xen only reads the argument, so it is built
	// once and shared by concurrent Notify calls without allocating. The port changes only in
	// Dispatcher.Resume and Reattach, which run while nothing else does (see Resume).
	sendArg [SizeofEvtchnSend]byte
}

var _ xen.EventChannel = (*Channel)(nil)

func (d *Dispatcher) newChannel(p xen.Port, owned bool) (*Channel, error) {
	c := &Channel{d: d, port: p, owned: owned, ch: make(chan struct{}, 1), done: make(chan struct{})}
	putPortArg(c.sendArg[:], p)
	if err := d.attach(c); err != nil {
		return nil, err
	}
	return c, nil
}

// AllocUnbound allocates a port for the remote domain to bind to and attaches a Channel to it.
// The frontend advertises the port in XenStore ("event-channel").
func (d *Dispatcher) AllocUnbound(remote xen.DomID) (*Channel, error) {
	p, err := AllocUnbound(d.hv, remote)
	if err != nil {
		return nil, err
	}
	return d.newChannel(p, true)
}

// BindInterdomain binds to remotePort of domain remote and attaches a Channel to the new port.
func (d *Dispatcher) BindInterdomain(remote xen.DomID, remotePort xen.Port) (*Channel, error) {
	p, err := BindInterdomain(d.hv, remote, remotePort)
	if err != nil {
		return nil, err
	}
	return d.newChannel(p, true)
}

// BindVIRQ binds virq on vcpu and attaches a Channel. vcpu must be the Dispatcher's vcpu: Xen
// posts the events of a port in its vcpu's selector, and this Dispatcher scans only its own.
func (d *Dispatcher) BindVIRQ(virq VIRQ, vcpu uint32) (*Channel, error) {
	if vcpu != d.vcpu {
		return nil, fmt.Errorf("evtchn: bind_virq %d: vcpu %d is not the dispatcher's vcpu %d", virq, vcpu, d.vcpu)
	}
	p, err := BindVIRQ(d.hv, virq, vcpu)
	if err != nil {
		return nil, err
	}
	c, err := d.newChannel(p, true)
	if err != nil {
		return nil, err
	}
	c.virq, c.isVIRQ = virq, true
	return c, nil
}

// Attach attaches a Channel to a port bound by someone else, such as the XenStore or console
// port the toolstack binds before boot (HVM_PARAM_STORE_EVTCHN). Close detaches it but leaves
// the port open in Xen. The port number may come from foreign data and is checked.
func (d *Dispatcher) Attach(port xen.Port) (*Channel, error) {
	if !validPort(port) {
		return nil, fmt.Errorf("%w: attach port %d", ErrBadPort, port)
	}
	return d.newChannel(port, false)
}

// Port returns the local port number.
func (c *Channel) Port() xen.Port { return c.port }

// Stale reports whether the channel lost its port when the domain resumed in a new domain
// (Dispatcher.Resume) and was not moved to a new one (Reattach): its owner must bind anew.
func (c *Channel) Stale() bool { return c.stale.Load() }

// Notify sends an event to the remote end (EVTCHNOP_send). It does not allocate.
func (c *Channel) Notify() error {
	if c.closed.Load() {
		return xen.ErrClosed
	}
	if c.stale.Load() {
		return ErrStale
	}
	if err := c.d.hv.EventChannelOp(EVTCHNOP_send, c.sendArg[:]); err != nil {
		return err
	}
	c.d.notifies.Add(1)
	return nil
}

// Wait blocks until an event has arrived since the previous Wait returned, ctx ends, or the
// Channel is closed. An event that is already pending wins over a finished ctx, so a caller
// polling with a cancelled ctx sees it. Before returning nil, Wait unmasks the port and re-checks
// pending (see the package doc), so an event arriving from here on wakes the next Wait.
func (c *Channel) Wait(ctx context.Context) error {
	select {
	case <-c.ch:
	default:
		select {
		case <-c.ch:
		case <-c.done:
			return xen.ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if c.closed.Load() {
		return xen.ErrClosed
	}
	c.d.unmask(c.port)
	return nil
}

// Close detaches the Channel, releases a blocked Wait with xen.ErrClosed and, for a port this
// Channel bound, closes it in Xen (EVTCHNOP_close). Closing twice returns xen.ErrClosed.
// The port is detached before EVTCHNOP_close so that Xen cannot hand the number to a new
// binding while this Channel still holds the table slot.
func (c *Channel) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return xen.ErrClosed
	}
	c.d.detach(c)
	close(c.done)
	if c.owned && !c.stale.Load() {
		return Close(c.d.hv, c.port)
	}
	return nil
}
