// Event channels between domains, after Xen's common/event_channel.c and event_2l.c.

package sim

import (
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/evtchn"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

// EVTCHNOP_status and struct evtchn_status (event_channel.h), which package evtchn does not
// issue. Layout: dom 0, port 4, status 8, vcpu 12, union u at 16 (unbound.dom, or
// interdomain.dom and .port at 16 and 20, or virq at 16); 24 bytes.
const (
	EVTCHNOP_status = 5

	SizeofEvtchnStatus             = 24
	OffsetofEvtchnStatusDom        = 0
	OffsetofEvtchnStatusPort       = 4
	OffsetofEvtchnStatusStatus     = 8
	OffsetofEvtchnStatusVcpu       = 12
	OffsetofEvtchnStatusUDom       = 16
	OffsetofEvtchnStatusUPort      = 20
	OffsetofEvtchnStatusUVirq      = 16
	EVTCHNSTAT_closed              = 0
	EVTCHNSTAT_unbound             = 1
	EVTCHNSTAT_interdomain         = 2
	EVTCHNSTAT_virq                = 4
	evtchnWords                    = evtchn.EVTCHN_2L_NR_CHANNELS / 64
	offsetofVcpu0PendingSel        = evtchn.OffsetofSharedInfoVcpuInfo + evtchn.OffsetofVcpuInfoEvtchnPendingSel
	offsetofVcpu0UpcallPendingWord = evtchn.OffsetofSharedInfoVcpuInfo + evtchn.OffsetofVcpuInfoEvtchnUpcallPending
)

type portState uint8

const (
	portFree portState = iota
	portUnbound
	portInterdomain
	portVIRQ
)

// port is Xen's struct evtchn, reduced to what the 2-level ABI on one vcpu needs.
type port struct {
	state  portState
	remote xen.DomID // unbound: the domain allowed to bind; interdomain: the peer domain
	peer   xen.Port  // interdomain: the peer's port
	virq   evtchn.VIRQ
}

// PortStatus is what EVTCHNOP_status reports about a port, for tests.
type PortStatus struct {
	Status     uint32 // EVTCHNSTAT_*
	Remote     xen.DomID
	RemotePort xen.Port
	VIRQ       evtchn.VIRQ
}

func validPort(p xen.Port) bool { return p != 0 && p < evtchn.EVTCHN_2L_NR_CHANNELS }

// allocPortLocked is get_free_port: the lowest free port above the reserved port 0.
func (d *Domain) allocPortLocked() (xen.Port, error) {
	for p := 1; p < len(d.ports); p++ {
		if d.ports[p].state == portFree {
			return xen.Port(p), nil
		}
	}
	return 0, xen.ENOSPC
}

// allocUnboundLocked is evtchn_alloc_unbound for this domain.
func (d *Domain) allocUnboundLocked(remote xen.DomID) (xen.Port, error) {
	p, err := d.allocPortLocked()
	if err != nil {
		return 0, err
	}
	d.ports[p] = port{state: portUnbound, remote: remote}
	return p, nil
}

// bindInterdomainLocked is evtchn_bind_interdomain: the remote port must be unbound and
// reserved for us. Like Xen, it marks the new local port pending, so that an event the remote
// sent before we bound is not lost.
func (d *Domain) bindInterdomainLocked(remote xen.DomID, rport xen.Port) (xen.Port, error) {
	rd := d.x.domainLocked(d, remote)
	if rd == nil {
		return 0, xen.ESRCH
	}
	if !validPort(rport) {
		return 0, xen.EINVAL
	}
	rp := &rd.ports[rport]
	if rp.state != portUnbound || rp.remote != d.id {
		return 0, xen.EINVAL
	}
	lport, err := d.allocPortLocked()
	if err != nil {
		return 0, err
	}
	d.ports[lport] = port{state: portInterdomain, remote: rd.id, peer: rport}
	*rp = port{state: portInterdomain, remote: d.id, peer: lport}
	d.setPendingLocked(lport)
	return lport, nil
}

// bindVIRQLocked is evtchn_bind_virq for vcpu 0, the only vcpu simulated.
func (d *Domain) bindVIRQLocked(virq evtchn.VIRQ, vcpu uint32) (xen.Port, error) {
	if virq >= evtchn.NR_VIRQS || vcpu != 0 {
		return 0, xen.EINVAL
	}
	for p := range d.ports {
		if d.ports[p].state == portVIRQ && d.ports[p].virq == virq {
			return 0, xen.EEXIST
		}
	}
	p, err := d.allocPortLocked()
	if err != nil {
		return 0, err
	}
	d.ports[p] = port{state: portVIRQ, virq: virq}
	return p, nil
}

// closeLocked is evtchn_close: an interdomain peer falls back to unbound, reserved for us, so
// that we may bind it again (which is how a backend reconnects).
func (d *Domain) closeLocked(p xen.Port) error {
	if !validPort(p) || d.ports[p].state == portFree {
		return xen.EINVAL
	}
	if lp := d.ports[p]; lp.state == portInterdomain {
		if rd := d.x.doms[lp.remote]; rd != nil {
			rd.ports[lp.peer] = port{state: portUnbound, remote: d.id}
		}
	}
	d.ports[p] = port{}
	return nil
}

// sendLocked is evtchn_send: an interdomain port makes its peer pending; on an unbound port the
// event is dropped silently, as in Xen.
func (d *Domain) sendLocked(p xen.Port) error {
	if !validPort(p) {
		return xen.EINVAL
	}
	switch lp := d.ports[p]; lp.state {
	case portInterdomain:
		if rd := d.x.doms[lp.remote]; rd != nil {
			rd.setPendingLocked(lp.peer)
		}
		return nil
	case portUnbound:
		return nil
	}
	return xen.EINVAL
}

// statusLocked is evtchn_status.
func (d *Domain) statusLocked(p xen.Port) (PortStatus, error) {
	if p >= evtchn.EVTCHN_2L_NR_CHANNELS {
		return PortStatus{}, xen.EINVAL
	}
	switch lp := d.ports[p]; lp.state {
	case portUnbound:
		return PortStatus{Status: EVTCHNSTAT_unbound, Remote: lp.remote}, nil
	case portInterdomain:
		return PortStatus{Status: EVTCHNSTAT_interdomain, Remote: lp.remote, RemotePort: lp.peer}, nil
	case portVIRQ:
		return PortStatus{Status: EVTCHNSTAT_virq, VIRQ: lp.virq}, nil
	}
	return PortStatus{Status: EVTCHNSTAT_closed}, nil
}

// PortStatus is EVTCHNOP_status on one of the domain's ports.
func (d *Domain) PortStatus(p xen.Port) (PortStatus, error) {
	d.x.mu.Lock()
	defer d.x.mu.Unlock()
	return d.statusLocked(p)
}

// RaiseVIRQ makes the port bound to virq pending, as Xen's send_guest_vcpu_virq does. It
// reports false if no port is bound to it.
func (d *Domain) RaiseVIRQ(virq evtchn.VIRQ) bool {
	d.x.mu.Lock()
	defer d.x.mu.Unlock()
	for p := range d.ports {
		if d.ports[p].state == portVIRQ && d.ports[p].virq == virq {
			d.setPendingLocked(xen.Port(p))
			return true
		}
	}
	return false
}

// The 2-level bitmaps live in the domain's shared_info page, which the domain writes
// concurrently; every access is a locked operation, as in Xen.

func (d *Domain) pendingWord(w int) *atomic.Uint64 {
	return shmem.Uint64(d.sharedInfo, evtchn.OffsetofSharedInfoEvtchnPending+8*w)
}

func (d *Domain) maskWord(w int) *atomic.Uint64 {
	return shmem.Uint64(d.sharedInfo, evtchn.OffsetofSharedInfoEvtchnMask+8*w)
}

// setPendingLocked is evtchn_2l_set_pending: set the pending bit; on a 0->1 transition of an
// unmasked port set its selector bit, and on the selector's 0->1 mark events pending.
func (d *Domain) setPendingLocked(p xen.Port) {
	w, m := int(p/64), uint64(1)<<(p%64)
	if d.pendingWord(w).Or(m)&m != 0 {
		return
	}
	if d.maskWord(w).Load()&m == 0 {
		d.markWordLocked(w)
	}
}

// markWordLocked sets selector bit w and, on its 0->1 transition, does vcpu_mark_events_pending:
// set evtchn_upcall_pending and, if it was clear, raise the upcall.
func (d *Domain) markWordLocked(w int) {
	if shmem.Uint64(d.sharedInfo, offsetofVcpu0PendingSel).Or(1<<w)&(1<<w) != 0 {
		return
	}
	// upcall_pending is byte 0 of this aligned word; the guest clears it with a 32-bit AND.
	if shmem.Uint32(d.sharedInfo, offsetofVcpu0UpcallPendingWord).Or(1)&1 != 0 {
		return
	}
	d.raiseLocked()
}

// unmaskLocked is evtchn_2l_unmask: clearing the mask of a pending port posts it as if it had
// just become pending, because the edge was suppressed while it was masked.
func (d *Domain) unmaskLocked(p xen.Port) error {
	if !validPort(p) || d.ports[p].state == portFree {
		return xen.EINVAL
	}
	w, m := int(p/64), uint64(1)<<(p%64)
	if d.maskWord(w).And(^m)&m != 0 && d.pendingWord(w).Load()&m != 0 {
		d.markWordLocked(w)
	}
	return nil
}
