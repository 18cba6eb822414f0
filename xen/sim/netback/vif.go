// Vif: one queue's TX engine (xenvif_tx_action), its attachment and its fatal state.

package netback

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/ring"
	"github.com/tamaxen/tamaxen/xen/sim"
)

// Stats counts what the vif did with the frontend's packets.
type Stats struct {
	TxPackets int // delivered to the attachment
	TxDropped int // answered with NETIF_RSP_ERROR
}

// Vif is the backend of one frontend's TX ring. It is driven by ProcessTx (the model of
// xenvif_tx_action run from the NAPI poll), not safe for concurrent use; Stats and Err may be
// read from anywhere.
type Vif struct {
	q       txQueue
	deliver func(Frame)
	fault   func() Fault          // the misbehaviour to show, nil for none
	broken  atomic.Pointer[error] // set by a fatal error (xenvif_fatal_tx_err): nothing is processed after it
	buf     []byte
	pkt     txPacket

	txPackets, txDropped atomic.Int64
}

// NewTx attaches to a TX ring page the frontend granted (mapped by dom0 with MapGrant) of
// domain guest; deliver receives each accepted frame, whose Data is valid only during the
// call. It takes one page of dom0's memory to copy through; Release gives it back.
func NewTx(dom0 *sim.Domain, guest xen.DomID, ringPage []byte, deliver func(Frame)) (*Vif, error) {
	b, err := ring.NewBack(ringPage, netif.TxSlotSize)
	if err != nil {
		return nil, err
	}
	return newVif(dom0, guest, b, ringPage, deliver)
}

func newVif(dom0 *sim.Domain, guest xen.DomID, b *ring.Back, ringPage []byte, deliver func(Frame)) (*Vif, error) {
	pg, err := dom0.Memory().AllocPage()
	if err != nil {
		return nil, err
	}
	return &Vif{
		q: txQueue{
			back: b, hdr: header{ringPage}, dom: dom0, guest: guest, bounce: pg,
			copy: newCopier(dom0, 1), ops: make([]sim.CopyOp, 0, fatalSkbSlots+1),
		},
		deliver: deliver,
		buf:     make([]byte, netif.XEN_NETIF_MAX_TX_SIZE),
		pkt: txPacket{
			extras: make([]netif.ExtraInfo, 0, netif.XEN_NETIF_EXTRA_TYPE_MAX),
			slots:  make([]netif.TxRequest, 0, fatalSkbSlots+1),
		},
	}, nil
}

// Release gives back the vif's copy page.
func (v *Vif) Release() {
	if v.q.bounce.Data != nil {
		v.q.dom.Memory().FreePage(v.q.bounce)
		v.q.bounce = xen.Page{}
	}
}

// Err is the fatal error that disabled the vif, or nil.
func (v *Vif) Err() error {
	if p := v.broken.Load(); p != nil {
		return *p
	}
	return nil
}

// Stats returns the counters.
func (v *Vif) Stats() Stats {
	return Stats{TxPackets: int(v.txPackets.Load()), TxDropped: int(v.txDropped.Load())}
}

// ProcessTx handles up to budget packets and reports how many it handled and whether the
// frontend asked to be notified of the responses. A FatalError (or a ring overflow, which
// Linux also treats as fatal in xenvif_tx_build_gops) disables the vif for good.
func (v *Vif) ProcessTx(budget int) (n int, notify bool, err error) {
	if err := v.Err(); err != nil {
		return 0, false, err
	}
	for n < budget {
		work, err := v.q.unconsumed()
		if err != nil {
			return n, notify, v.fail(err)
		}
		if work == 0 {
			more, err := v.q.back.FinalCheckForRequests()
			if err != nil {
				return n, notify, v.fail(err)
			}
			if !more {
				return n, notify, nil
			}
			continue
		}
		drop, err := v.q.readPacket(&v.pkt)
		if err != nil {
			return n, notify, v.fail(err)
		}
		n++
		status := int16(netif.NETIF_RSP_OKAY)
		var frame []byte
		if drop == nil {
			frame, drop = v.q.copyPacket(&v.pkt, v.buf)
		}
		if drop != nil {
			// xenvif_tx_err: error responses for every slot, the ring goes on.
			status = netif.NETIF_RSP_ERROR
			v.txDropped.Add(1)
		}
		f := FaultNone
		if v.fault != nil {
			f = v.fault()
		}
		if v.q.respond(&v.pkt, status, f) {
			notify = true
		}
		if drop == nil {
			v.txPackets.Add(1)
			if v.deliver != nil {
				v.deliver(v.frame(frame))
			}
		}
	}
	return n, notify, nil
}

// frame builds the attachment's Frame, with the offloads of NETTXF_* and the GSO extra. Data
// aliases the vif's buffer.
func (v *Vif) frame(data []byte) Frame {
	f := Frame{
		Data:          data,
		CsumBlank:     v.pkt.first.Flags&netif.NETTXF_csum_blank != 0,
		DataValidated: v.pkt.first.Flags&netif.NETTXF_data_validated != 0,
	}
	for _, e := range v.pkt.extras {
		if e.Type == netif.XEN_NETIF_EXTRA_TYPE_GSO {
			f.GSOType, f.GSOSize = e.GSOType, e.GSOSize
		}
	}
	return f
}

func (v *Vif) fail(err error) error {
	var fe *FatalError
	if !errors.As(err, &fe) {
		err = &FatalError{Reason: err.Error()}
	}
	err = fmt.Errorf("%w", err)
	v.broken.CompareAndSwap(nil, &err)
	return v.Err()
}
