// RX: frames from the attachment placed in the frontend's posted buffers by grant copy, as
// rx.c does (xenvif_rx_action, xenvif_rx_skb, xenvif_rx_data_slot, xenvif_rx_extra_slot).

package netback

import (
	"context"

	"github.com/tamaxen/tamaxen/internal/csum"
	"github.com/tamaxen/tamaxen/internal/tso"
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/ring"
	"github.com/tamaxen/tamaxen/xen/sim"
)

// rxBatch is RX_BATCH_SIZE: frames placed before the responses are pushed.
const rxBatch = 64

// maxRxSlots is the most slots a frame takes: 16 data pages for 65535 bytes and one extra.
const maxRxSlots = (netif.XEN_NETIF_MAX_TX_SIZE+xen.PageSize-1)/xen.PageSize + 1

// rxItem is one injected frame waiting for RX buffers; buf is reused from frame to frame.
type rxItem struct {
	buf []byte
	f   Frame // metadata; f.Data is buf
}

// rxQueue is the RX half of a queue, touched only by its goroutine once started.
type rxQueue struct {
	q      *queue
	back   *ring.Back
	hdr    header
	bounce []xen.Page // dom0 pages the frame is copied through, one per data slot
	copy   copier
	ops    []sim.CopyOp
	rsps   [][]byte // rsps[i]: the response slot ops[i] fills
	req    [netif.RxSlotSize]byte
	queued bool // responses produced but not pushed
}

func (r *rxQueue) init(q *queue, back *ring.Back, hdr header) error {
	r.q, r.back, r.hdr = q, back, hdr
	for range maxRxSlots {
		pg, err := q.b.dom0.Domain.Memory().AllocPage()
		if err != nil {
			return err
		}
		r.bounce = append(r.bounce, pg)
	}
	r.copy = newCopier(q.b.dom0.Domain, maxRxSlots)
	r.ops = make([]sim.CopyOp, 0, maxRxSlots)
	r.rsps = make([][]byte, 0, maxRxSlots)
	return nil
}

func (r *rxQueue) release() {
	for _, pg := range r.bounce {
		r.q.b.dom0.Domain.Memory().FreePage(pg)
	}
	r.bounce = nil
}

// slotsNeeded is the count of xenvif_rx_ring_slots_available: a slot per page of data, plus
// one for the GSO extra (and the empty slots of FaultRxManySlots).
func slotsNeeded(it *rxItem, extra bool, pad int) uint32 {
	n := (len(it.buf) + xen.PageSize - 1) / xen.PageSize
	if extra {
		n++
	}
	return uint32(n + pad)
}

// padSlots is how many empty slots fault f adds to a frame.
func padSlots(f Fault) int {
	if f == FaultRxManySlots {
		return RxPadSlots
	}
	return 0
}

// slotsAvailable is xenvif_rx_ring_slots_available: enough requests posted, or else
// req_event set just past the current req_prod (not req_cons + 1: the frontend must be told
// to notify on its next post even if it has already posted some) and a second look.
func (r *rxQueue) slotsAvailable(need uint32) (bool, error) {
	for {
		n, err := r.back.UnconsumedRequests()
		if err != nil || n >= need {
			return err == nil, err
		}
		prod := r.hdr.reqProd()
		r.hdr.setReqEvent(prod + 1)
		if r.hdr.reqProd() == prod {
			n, err := r.back.UnconsumedRequests()
			return err == nil && n >= need, err
		}
	}
}

// rxLoop is xenvif_kthread_guest_rx with xenvif_rx_action: place frames while buffers last,
// pushing the responses every rxBatch frames and before waiting.
func (q *queue) rxLoop(ctx context.Context) {
	r := &q.rx
	var it *rxItem
	placed := 0
	for {
		if it == nil {
			select {
			case it = <-q.pending:
			default:
				r.flush()
				select {
				case it = <-q.pending:
				case <-ctx.Done():
					return
				}
			}
		}
		if q.b.currentFault() == FaultStall {
			r.flush()
			select {
			case <-q.rxKick:
				continue
			case <-ctx.Done():
				return
			}
		}
		f := q.b.currentFault()
		extra := it.f.GSOType != 0 || f == FaultRxBadExtra
		ok, err := r.slotsAvailable(slotsNeeded(it, extra, padSlots(f)))
		if err != nil {
			q.b.setFatal(err) // the frontend overran its ring: stop, as the ring is unusable
			return
		}
		if !ok {
			r.flush()
			select {
			case <-q.rxKick:
				continue
			case <-ctx.Done():
				return
			}
		}
		r.skb(it, f)
		q.free <- it
		it = nil
		if placed++; placed%rxBatch == 0 {
			r.flush()
		}
	}
}

// skb is xenvif_rx_skb: the frame's data in page-sized slots, the extras right after the first
// data slot, every slot consuming one posted request.
func (r *rxQueue) skb(it *rxItem, f Fault) {
	data := it.buf
	for i := 0; i*xen.PageSize < len(data); i++ {
		copy(r.bounce[i].Data, data[i*xen.PageSize:min((i+1)*xen.PageSize, len(data))])
	}
	r.ops, r.rsps = r.ops[:0], r.rsps[:0]
	extra := it.f.GSOType != 0 || f == FaultRxBadExtra
	pad := padSlots(f)
	off := 0
	for slot := 0; off < len(data) || extra || pad > 0; slot++ {
		req, rsp, ok := r.nextSlot()
		if !ok {
			return // slotsAvailable checked; only a broken ring gets here
		}
		switch {
		case slot > 0 && extra:
			// xenvif_rx_extra_slot: the GSO extra, in the response slot, with no id.
			e := netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_GSO, GSOType: it.f.GSOType, GSOSize: it.f.GSOSize}
			if f == FaultRxBadExtra {
				e = netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_MAX}
			}
			clear(rsp)
			e.Encode(rsp)
			extra = false
		case slot > 0 && pad > 0:
			// FaultRxManySlots: an empty slot, which ends the frame only if nothing follows.
			pad--
			resp := netif.RxResponse{ID: req.ID}
			if pad > 0 || off < len(data) {
				resp.Flags = netif.NETRXF_more_data
			}
			resp.Encode(rsp)
		default:
			// xenvif_rx_data_slot.
			n := min(len(data)-off, xen.PageSize)
			resp := netif.RxResponse{ID: req.ID, Status: int16(n)}
			if slot == 0 {
				resp.Flags = firstSlotFlags(it.f, extra)
				switch f {
				case FaultRxBadID:
					resp.ID ^= 0x8000
				case FaultRxOverPage:
					resp.Offset = xen.PageSize - 1
				}
			}
			if off+n < len(data) || pad > 0 {
				resp.Flags |= netif.NETRXF_more_data
			}
			resp.Encode(rsp)
			r.ops = append(r.ops, sim.CopyOp{
				Source: sim.CopyPtr{Ref: uint64(r.bounce[off/xen.PageSize].Frame), Domain: xen.DOMID_SELF},
				Dest:   sim.CopyPtr{Ref: uint64(req.Gref), Domain: r.q.b.guest},
				Len:    uint16(n), Flags: sim.GNTCOPY_dest_gref,
			})
			r.rsps = append(r.rsps, rsp)
			off += n
		}
	}
	r.copyFlush()
}

// nextSlot takes the next posted request and the response slot it is answered in.
func (r *rxQueue) nextSlot() (netif.RxRequest, []byte, bool) {
	var req netif.RxRequest
	ok, err := r.back.ConsumeRequest(r.req[:])
	if err != nil || !ok {
		return req, nil, false
	}
	req.Decode(r.req[:])
	rsp, err := r.back.NextResponse()
	if err != nil {
		return req, nil, false
	}
	return req, rsp, true
}

// firstSlotFlags are the flags of a frame's first data slot: its checksum state, and whether
// an extra follows. RX flags swap bits 0 and 1 relative to TX: NETRXF_csum_blank is bit 1.
func firstSlotFlags(fr Frame, extra bool) uint16 {
	var flags uint16
	if fr.CsumBlank {
		flags |= netif.NETRXF_csum_blank | netif.NETRXF_data_validated
	} else if fr.DataValidated {
		flags |= netif.NETRXF_data_validated
	}
	if extra {
		flags |= netif.NETRXF_extra_info
	}
	return flags
}

// copyFlush is xenvif_rx_copy_flush: one batch of copies; a failed one turns its slot into an
// error.
func (r *rxQueue) copyFlush() {
	failed := r.copy.run(r.ops) != nil
	for i := range r.ops {
		if failed || r.ops[i].Status != gnttab.GNTST_okay {
			var resp netif.RxResponse
			resp.Decode(r.rsps[i])
			resp.Status = netif.NETIF_RSP_ERROR
			resp.Encode(r.rsps[i])
			failed = true
		}
	}
	st := &r.q.b.qstats[r.q.index]
	if failed {
		st.rxErrors.Add(1)
	} else {
		st.rxPackets.Add(1)
	}
	r.queued = true
}

// flush pushes the responses produced and notifies the frontend if it asked
// (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY in xenvif_rx_copy_flush).
func (r *rxQueue) flush() {
	if !r.queued {
		return
	}
	r.queued = false
	notify := r.back.PushResponsesAndCheckNotify()
	if r.q.b.currentFault() == FaultRspProdOverflow {
		r.hdr.setRspProd(r.back.RspProdPvt() + 0x10000)
		notify = true
	}
	if notify {
		_ = r.q.rxCh.Notify()
	}
}

// Inject hands a frame to the guest, on the queue its flow hashes to (xenvif_select_queue
// without a frontend-configured hash uses the stack's flow hash; any stable per-flow hash
// keeps a flow on one queue). The frame is copied; it waits in the queue's bounded RX queue
// for buffers. It fails, and counts a drop, when the vif is not connected, the frame is too
// large for what the frontend negotiated, or the queue is full.
func (b *Backend) Inject(f Frame) error {
	b.mu.RLock()
	n := len(b.queues)
	b.mu.RUnlock()
	if n <= 1 {
		return b.InjectQueue(0, f)
	}
	return b.InjectQueue(int(netif.FlowHash(f.Data)%uint32(n)), f)
}

// InjectQueue is Inject on a chosen queue.
func (b *Backend) InjectQueue(index int, f Frame) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if index < 0 || index >= len(b.queues) {
		if index >= 0 && index < len(b.qstats) {
			b.qstats[index].rxDropped.Add(1)
		}
		return ErrNotConnected
	}
	drop := func(err error) error { b.qstats[index].rxDropped.Add(1); return err }
	n := len(f.Data)
	if n < netif.ETH_HLEN || n > netif.XEN_NETIF_MAX_TX_SIZE {
		return drop(ErrBadFrame)
	}
	if f.GSOType != 0 {
		if f.GSOSize == 0 || f.GSOType != netif.XEN_NETIF_GSO_TYPE_TCPV4 && f.GSOType != netif.XEN_NETIF_GSO_TYPE_TCPV6 {
			return drop(ErrBadFrame)
		}
		// xenvif_rx_next_skb sends the GSO extra only for a type in vif->gso_mask; for any
		// other the stack segments the frame first (validate_xmit_skb: the vif lacks that
		// TSO feature), and each segment goes to the guest on its own.
		if ok := f.GSOType == netif.XEN_NETIF_GSO_TYPE_TCPV4 && b.fe.gsoV4 ||
			f.GSOType == netif.XEN_NETIF_GSO_TYPE_TCPV6 && b.fe.gsoV6; !ok {
			return b.injectSegments(index, f)
		}
	}
	if n > xen.PageSize && !b.fe.canSG {
		// Without feature-sg xenvif_fix_features takes NETIF_F_SG away and the MTU is capped
		// (xenvif_change_mtu), so the stack never hands netback a frame this large.
		return drop(ErrTooBig)
	}
	return b.enqueueLocked(index, f)
}

// injectSegments splits a TSO frame the frontend cannot take whole into MSS-sized frames.
// Checksums stay partial when the frontend offloads them, else they are completed.
func (b *Backend) injectSegments(index int, f Frame) error {
	partial := f.CsumBlank && b.csumOffloaded(f.Data)
	var err error
	_, serr := tso.Segment(f.Data, int(f.GSOSize), partial, nil, func(seg []byte) {
		if e := b.enqueueLocked(index, Frame{Data: seg, CsumBlank: partial, DataValidated: partial || f.DataValidated}); e != nil && err == nil {
			err = e
		}
	})
	if serr != nil {
		// Not a TCP frame the stack could segment: it never gets this far in Linux.
		b.qstats[index].rxDropped.Add(1)
		return ErrNotNegotiated
	}
	return err
}

// csumOffloaded reports whether the frontend takes partial checksums for this frame's family.
func (b *Backend) csumOffloaded(data []byte) bool {
	v6 := len(data) >= 14 && data[12] == 0x86 && data[13] == 0xdd
	return v6 && b.fe.ipv6Csum || !v6 && b.fe.ipCsum
}

// enqueueLocked copies a frame into a free RX item of the queue; b.mu is held (read).
func (b *Backend) enqueueLocked(index int, f Frame) error {
	q := b.queues[index]
	complete := false
	if f.CsumBlank && !b.csumOffloaded(f.Data) {
		// Without the frontend's checksum offload the stack completes the checksum
		// (skb_checksum_help) and the frame arrives as CHECKSUM_NONE.
		f.CsumBlank, f.DataValidated = false, false
		complete = true
	}
	var it *rxItem
	select {
	case it = <-q.free:
	default:
		b.qstats[index].rxDropped.Add(1)
		return ErrQueueFull
	}
	it.buf = append(it.buf[:0], f.Data...)
	if complete {
		csum.Complete(it.buf)
	}
	it.f = f
	it.f.Data = it.buf
	q.pending <- it // never blocks: pending has room for every item
	return nil
}

// Link connects two vifs as a bridge would: what either guest sends, the other receives.
func Link(a, b *Backend) {
	a.SetDeliver(func(f Frame) { _ = b.Inject(f) })
	b.SetDeliver(func(f Frame) { _ = a.Inject(f) })
}

// QueueStats are one queue index's counters, across reconnections.
type QueueStats struct {
	TxPackets uint64 // delivered to the attachment
	RxPackets uint64 // placed in the guest's buffers
	RxDropped uint64 // refused by Inject
	RxErrors  uint64 // a copy into the guest failed (error responses)
}

// BackendStats are the backend's counters.
type BackendStats struct {
	Queues    []QueueStats
	TxDropped int // TX packets answered with NETIF_RSP_ERROR on the current queues
}

// Stats returns the counters.
func (b *Backend) Stats() BackendStats {
	var s BackendStats
	for i := range b.qstats {
		c := &b.qstats[i]
		s.Queues = append(s.Queues, QueueStats{TxPackets: c.txPackets.Load(), RxPackets: c.rxPackets.Load(),
			RxDropped: c.rxDropped.Load(), RxErrors: c.rxErrors.Load()})
	}
	b.mu.RLock()
	for _, q := range b.queues {
		s.TxDropped += q.vif.Stats().TxDropped
	}
	b.mu.RUnlock()
	return s
}

// Queues is the number of queues connected now.
func (b *Backend) Queues() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.queues)
}
