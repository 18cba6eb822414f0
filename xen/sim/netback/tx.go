// TX: consuming the frontend's requests, as xenvif_tx_build_gops and friends do.

package netback

import (
	"fmt"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/ring"
	"github.com/tamaxen/tamaxen/xen/sim"
)

// Limits of netback.c.
const (
	// XEN_NETBK_LEGACY_SLOTS_MAX: a packet in more slots is dropped with error responses.
	XEN_NETBK_LEGACY_SLOTS_MAX = netif.XEN_NETIF_NR_SLOTS_MIN
	// fatalSkbSlots is the fatal_skb_slots module parameter's default (FATAL_SKB_SLOTS_DEFAULT):
	// a packet in this many slots or more disables the vif.
	fatalSkbSlots = 20
)

// Frame is a whole Ethernet frame with its offload metadata, as it crosses the attachment.
type Frame struct {
	Data          []byte
	CsumBlank     bool  // checksum to be filled in (CHECKSUM_PARTIAL)
	DataValidated bool  // checksum known good (CHECKSUM_UNNECESSARY)
	GSOType       uint8 // XEN_NETIF_GSO_TYPE_*, 0 for none
	GSOSize       uint16
}

// txPacket is one packet's slots as copied out of the ring.
type txPacket struct {
	first  netif.TxRequest
	extras []netif.ExtraInfo
	slots  []netif.TxRequest // after the first
}

// FatalError reports that the frontend broke the TX protocol in a way Linux answers with
// xenvif_fatal_tx_err: the vif is disabled.
type FatalError struct{ Reason string }

func (e *FatalError) Error() string { return "netback: fatal tx error: " + e.Reason }

func fatal(format string, args ...any) error {
	return &FatalError{Reason: fmt.Sprintf(format, args...)}
}

// txQueue is the TX half of a queue: the back ring, the guest's domain, the copy ops.
type txQueue struct {
	back   *ring.Back
	hdr    header      // the same ring page, for the misbehaviour knobs
	dom    *sim.Domain // dom0, doing the copies
	guest  xen.DomID
	slot   [netif.TxSlotSize]byte
	copy   copier
	bounce xen.Page     // dom0's page each slot is copied through
	ops    []sim.CopyOp // cap fatalSkbSlots, reused
}

// unconsumed is the number of requests ready.
func (q *txQueue) unconsumed() (int, error) {
	n, err := q.back.UnconsumedRequests()
	return int(n), err
}

// next copies the next request out of the ring and consumes it (RING_COPY_REQUEST): each
// slot is read once, so the frontend cannot change it between the checks and the copy.
func (q *txQueue) next(dst []byte) error {
	ok, err := q.back.ConsumeRequest(dst)
	if err != nil {
		return err
	}
	if !ok {
		return fatal("ring ran dry inside a packet")
	}
	return nil
}

// readPacket consumes one packet's slots: the first request, its extras
// (xenvif_get_extras) and its continuation slots (xenvif_count_requests). It returns a
// non-nil drop error for a packet Linux drops with error responses, and a FatalError for one
// that disables the vif.
func (q *txQueue) readPacket(p *txPacket) (drop error, err error) {
	p.extras, p.slots = p.extras[:0], p.slots[:0]
	work, err := q.unconsumed()
	if err != nil {
		return nil, err
	}
	if err := q.next(q.slot[:]); err != nil {
		return nil, err
	}
	work--
	p.first.Decode(q.slot[:])
	if p.first.Flags&netif.NETTXF_extra_info != 0 {
		if work, err = q.readExtras(p, work); err != nil {
			return nil, err
		}
	}
	size, drop, err := q.countRequests(p, work)
	if err != nil || drop != nil {
		return drop, err
	}
	return checkFirst(p, size)
}

// readExtras is xenvif_get_extras: every extra slot must be a known type. work is the number
// of requests the frontend has produced and we have not consumed; readExtras returns what is
// left of it.
func (q *txQueue) readExtras(p *txPacket, work int) (int, error) {
	for {
		if work <= 0 {
			return work, fatal("missing extra info")
		}
		if err := q.next(q.slot[:]); err != nil {
			return work, err
		}
		work--
		var e netif.ExtraInfo
		e.Decode(q.slot[:])
		if e.Type == netif.XEN_NETIF_EXTRA_TYPE_NONE || e.Type >= netif.XEN_NETIF_EXTRA_TYPE_MAX {
			return work, fatal("invalid extra type %d", e.Type)
		}
		p.extras = append(p.extras, e)
		if !e.More() {
			return work, nil
		}
	}
}

// countRequests is xenvif_count_requests: it consumes the continuation slots. The first
// slot's size is the whole packet's; each following slot's size is subtracted from it, leaving
// the first slot's own size, which it returns.
func (q *txQueue) countRequests(p *txPacket, work int) (size uint16, drop error, err error) {
	more := p.first.Flags&netif.NETTXF_more_data != 0
	size = p.first.Size
	for more {
		slots := len(p.slots) + 1
		if slots >= work+1 {
			return 0, nil, fatal("asked for %d slots but exceeds this limit", slots)
		}
		if slots >= fatalSkbSlots {
			return 0, nil, fatal("malicious frontend using %d slots, threshold %d", slots, fatalSkbSlots)
		}
		if slots >= XEN_NETBK_LEGACY_SLOTS_MAX && drop == nil {
			drop = fmt.Errorf("too many slots (%d)", slots+1)
		}
		if err := q.next(q.slot[:]); err != nil {
			return 0, nil, err
		}
		var r netif.TxRequest
		r.Decode(q.slot[:])
		p.slots = append(p.slots, r)
		if r.Size > size && drop == nil {
			drop = fmt.Errorf("invalid tx request, slot size %d > remaining size %d", r.Size, size)
		}
		if drop == nil {
			size -= r.Size
		}
		if int(r.Offset)+int(r.Size) > xen.PageSize {
			return 0, nil, fatal("cross page boundary, txp->offset: %d, size: %d", r.Offset, r.Size)
		}
		more = r.Flags&netif.NETTXF_more_data != 0
	}
	return size, drop, nil
}

// checkFirst is xenvif_tx_build_gops' checks on the first slot, once its own size is known,
// and xenvif_set_skb_gso's on the GSO extra.
func checkFirst(p *txPacket, size uint16) (drop error, err error) {
	if p.first.Size < netif.ETH_HLEN {
		return fmt.Errorf("bad packet size: %d", p.first.Size), nil
	}
	if int(p.first.Offset)+int(size) > xen.PageSize {
		return nil, fatal("txreq.offset: %d, size: %d, end: %d", p.first.Offset, size, int(p.first.Offset)+int(size))
	}
	for _, e := range p.extras {
		if e.Type != netif.XEN_NETIF_EXTRA_TYPE_GSO {
			continue
		}
		if e.GSOSize == 0 {
			return nil, fatal("GSO size must not be zero")
		}
		if e.GSOType != netif.XEN_NETIF_GSO_TYPE_TCPV4 && e.GSOType != netif.XEN_NETIF_GSO_TYPE_TCPV6 {
			return nil, fatal("bad GSO type %d", e.GSOType)
		}
	}
	return nil, nil
}

// copyPacket grant-copies the packet's data into buf (xenvif_tx_build_gops' copy ops, done at
// once here), returning the frame bytes. A failed copy drops the packet (xenvif_tx_check_gop).
func (q *txQueue) copyPacket(p *txPacket, buf []byte) ([]byte, error) {
	firstSize := int(p.first.Size)
	for _, s := range p.slots {
		firstSize -= int(s.Size)
	}
	total := int(p.first.Size)
	if total > len(buf) {
		return nil, fmt.Errorf("packet of %d bytes", total)
	}
	ops := q.ops[:0]
	off := 0
	add := func(r netif.TxRequest, n int) {
		// The destination is dom0's own frame: buf is a Go buffer, so the copy lands in a
		// bounce page and is appended below.
		ops = append(ops, sim.CopyOp{
			Source: sim.CopyPtr{Ref: uint64(r.Gref), Domain: q.guest, Offset: r.Offset},
			Len:    uint16(n), Flags: sim.GNTCOPY_source_gref,
		})
	}
	add(p.first, firstSize)
	for _, s := range p.slots {
		add(s, int(s.Size))
	}
	if err := q.copyOut(ops, buf); err != nil {
		return nil, err
	}
	for _, op := range ops {
		off += int(op.Len)
	}
	q.ops = ops
	return buf[:off], nil
}

// copyOut runs the copies through a bounce page of dom0 (offset 0 of each page-sized op).
func (q *txQueue) copyOut(ops []sim.CopyOp, buf []byte) error {
	pg := q.bounce
	off := 0
	for i := range ops {
		ops[i].Dest = sim.CopyPtr{Ref: uint64(pg.Frame), Domain: xen.DOMID_SELF}
		one := ops[i : i+1]
		if err := q.copy.run(one); err != nil {
			return err
		}
		if one[0].Status != gnttab.GNTST_okay {
			return fmt.Errorf("grant copy: %w", one[0].Status)
		}
		off += copy(buf[off:], pg.Data[:ops[i].Len])
	}
	return nil
}

// respond writes the responses for a packet as make_tx_response does: the first slot, then
// NETIF_RSP_NULL for each extra slot, then each continuation slot. f is the misbehaviour to
// show the frontend, if any.
func (q *txQueue) respond(p *txPacket, status int16, f Fault) bool {
	put := func(id uint16, st int16) {
		slot, err := q.back.NextResponse()
		if err != nil {
			return
		}
		r := netif.TxResponse{ID: id, Status: st}
		r.Encode(slot)
	}
	first := p.first.ID
	if f == FaultTxBadID {
		first ^= 0x8000 // far outside any id a frontend hands out
	}
	put(first, status)
	for range p.extras {
		put(0, netif.NETIF_RSP_NULL)
	}
	for _, s := range p.slots {
		put(s.ID, status)
	}
	notify := q.back.PushResponsesAndCheckNotify()
	switch f {
	case FaultTxDuplicate:
		// One response too many: the first one again, past the requests the frontend made.
		pvt := q.back.RspProdPvt()
		r := netif.TxResponse{ID: p.first.ID, Status: status}
		r.Encode(q.hdr.slot(pvt, netif.TxSlotSize))
		q.hdr.setRspProd(pvt + 1)
		notify = true
	case FaultRspProdOverflow:
		q.hdr.setRspProd(q.back.RspProdPvt() + 0x10000)
		notify = true
	}
	return notify
}
