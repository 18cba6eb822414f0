// Encoders and raw calls for the EVTCHNOP_* hypercalls this package issues.

package evtchn

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tamaxen/tamaxen/xen"
)

// ErrBadPort is returned for a port number outside 1..EVTCHN_2L_NR_CHANNELS-1, whether it came
// from the caller or back from the hypervisor. Port 0 is reserved by Xen and never bound.
var ErrBadPort = errors.New("evtchn: port outside the 2-level ABI")

var le = binary.LittleEndian

func validPort(p xen.Port) bool { return p != 0 && p < EVTCHN_2L_NR_CHANNELS }

// outPort decodes an OUT port written by the hypervisor and checks it before anybody indexes a
// bitmap or the port table with it.
func outPort(arg []byte, off int) (xen.Port, error) {
	p := xen.Port(le.Uint32(arg[off:]))
	if !validPort(p) {
		return 0, fmt.Errorf("%w: hypervisor returned port %d", ErrBadPort, p)
	}
	return p, nil
}

// AllocUnbound allocates a port that the remote domain may later bind to
// (EVTCHNOP_alloc_unbound with dom = DOMID_SELF). Use xen.DOMID_SELF as remote for a loopback.
func AllocUnbound(hv xen.Hypervisor, remote xen.DomID) (xen.Port, error) {
	var a [SizeofEvtchnAllocUnbound]byte
	le.PutUint16(a[OffsetofEvtchnAllocUnboundDom:], uint16(xen.DOMID_SELF))
	le.PutUint16(a[OffsetofEvtchnAllocUnboundRemote:], uint16(remote))
	if err := hv.EventChannelOp(EVTCHNOP_alloc_unbound, a[:]); err != nil {
		return 0, fmt.Errorf("evtchn: alloc_unbound for dom %d: %w", remote, err)
	}
	return outPort(a[:], OffsetofEvtchnAllocUnboundPortOut)
}

// BindInterdomain connects a new local port to remotePort, an unbound port of domain remote
// (EVTCHNOP_bind_interdomain). Xen marks the new local port pending so that nothing sent before
// the bind is lost; the Dispatcher delivers that as the first event.
func BindInterdomain(hv xen.Hypervisor, remote xen.DomID, remotePort xen.Port) (xen.Port, error) {
	var a [SizeofEvtchnBindInterdomain]byte
	le.PutUint16(a[OffsetofEvtchnBindInterdomainRemoteDom:], uint16(remote))
	le.PutUint32(a[OffsetofEvtchnBindInterdomainRemotePort:], uint32(remotePort))
	if err := hv.EventChannelOp(EVTCHNOP_bind_interdomain, a[:]); err != nil {
		return 0, fmt.Errorf("evtchn: bind_interdomain to dom %d port %d: %w", remote, remotePort, err)
	}
	return outPort(a[:], OffsetofEvtchnBindInterdomainLocalPortOut)
}

// BindVIRQ binds a virtual interrupt of the given vcpu to a new port (EVTCHNOP_bind_virq).
func BindVIRQ(hv xen.Hypervisor, virq VIRQ, vcpu uint32) (xen.Port, error) {
	var a [SizeofEvtchnBindVirq]byte
	le.PutUint32(a[OffsetofEvtchnBindVirqVirq:], uint32(virq))
	le.PutUint32(a[OffsetofEvtchnBindVirqVcpu:], vcpu)
	if err := hv.EventChannelOp(EVTCHNOP_bind_virq, a[:]); err != nil {
		return 0, fmt.Errorf("evtchn: bind_virq %d on vcpu %d: %w", virq, vcpu, err)
	}
	return outPort(a[:], OffsetofEvtchnBindVirqPortOut)
}

// Close closes a port (EVTCHNOP_close); an interdomain peer's port becomes unbound again.
func Close(hv xen.Hypervisor, port xen.Port) error {
	return portOp(hv, EVTCHNOP_close, "close", port)
}

// Send notifies the remote end of port (EVTCHNOP_send). It allocates its 4-byte argument;
// Channel.Notify, the datapath's way to send, does not.
func Send(hv xen.Hypervisor, port xen.Port) error {
	return portOp(hv, EVTCHNOP_send, "send", port)
}

// Unmask clears the port's mask bit in Xen (EVTCHNOP_unmask); Xen then raises the upcall if the
// port is pending. The Dispatcher does not need it (see Dispatcher.unmask) but other guests'
// conventions do, and it is cheap to keep.
func Unmask(hv xen.Hypervisor, port xen.Port) error {
	return portOp(hv, EVTCHNOP_unmask, "unmask", port)
}

// putPortArg encodes the one-field structs evtchn_close, evtchn_send and evtchn_unmask.
func putPortArg(a []byte, port xen.Port) { le.PutUint32(a, uint32(port)) }

func portOp(hv xen.Hypervisor, cmd uint32, name string, port xen.Port) error {
	if !validPort(port) {
		return fmt.Errorf("%w: %s port %d", ErrBadPort, name, port)
	}
	var a [4]byte
	putPortArg(a[:], port)
	if err := hv.EventChannelOp(cmd, a[:]); err != nil {
		return fmt.Errorf("evtchn: %s port %d: %w", name, port, err)
	}
	return nil
}
