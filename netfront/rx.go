// The RX ring: one granted page per ring slot, frames gathered from one or more slots.

package netfront

import (
	"context"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/ring"
)

// rxBudget is how many frames one pass delivers before the RX goroutine looks at the rest of
// the world again (NAPI's budget).
const rxBudget = 64

// maxRxSlots is the most data slots a frame may take, as Linux netfront's xennet_get_responses
// allows: XEN_NETIF_NR_SLOTS_MIN (MAX_SKB_FRAGS + 1), plus one for a first slot the size of a
// copy-break header (Linux allows that one only when the first slot is small; allowed always
// here, the frame's length is capped anyway). maxRxExtras is one extra-info slot per type. A
// frame over either is dropped and counted, its slots consumed to the end: a backend must not
// keep a frame open for ever with empty more_data slots or a chain of extras.
const (
	maxRxSlots  = netif.XEN_NETIF_NR_SLOTS_MIN + 1
	maxRxExtras = netif.XEN_NETIF_EXTRA_TYPE_MAX - 1
)

// maxRxFrame bounds a gathered frame: 65535 bytes of packet plus a page of slack for the
// last slot's offset.
const maxRxFrame = netif.XEN_NETIF_MAX_TX_SIZE + 1

// rxQueue is one queue's RX side. Only its goroutine touches it after connect.
//
// Each buffer page has an id (its index in pages). posted records which buffer was posted at
// each ring position: a response must carry the id posted at its own position, and an
// extra-info response, which carries no id, still uses up the buffer posted at its position.
// There may be fewer buffers than ring slots, to fit small guests.
type rxQueue struct {
	q      *queue
	ring   *ring.Front
	ch     channel // RX notifications (the queue's only channel unless split)
	pages  []xen.Page
	grefs  []xen.GrantRef
	free   []uint16 // buffer ids not posted
	posted []uint16 // posted[pos & mask]: the buffer id posted at that ring position
	mask   uint32

	// The frame being gathered, which may span several passes if the backend publishes its
	// slots in more than one push.
	frame   []byte // len 0 between frames; cap maxRxFrame
	meta    RxMeta
	inFrame bool // a slot with more_data was seen
	dropped bool // the frame had an error slot: consume it, deliver nothing
	extras  int  // extra-info slots still expected after the current one
	slots   int  // data slots of the frame so far
	nextras int  // extra-info slots of the frame so far

	seen   uint32     // responses consumed, ever (wraps): whether a wakeup found work
	txSeen uint32     // the TX side's count when run last looked (shared channel)
	storm  stormGuard // paces run when the backend notifies without work
}

// post publishes a request for every free buffer the ring has room for.
func (r *rxQueue) post() error {
	n := 0
	for len(r.free) > 0 && !r.ring.Full() {
		pos := r.ring.ReqProdPvt()
		slot, err := r.ring.NextRequest()
		if err != nil {
			return err
		}
		id := r.free[len(r.free)-1]
		r.free = r.free[:len(r.free)-1]
		r.posted[pos&r.mask] = id
		req := netif.RxRequest{ID: id, Gref: uint32(r.grefs[id])}
		req.Encode(slot)
		n++
	}
	if n == 0 {
		return nil
	}
	r.q.stats.rxPosted.Add(int64(n))
	if r.ring.PushRequestsAndCheckNotify() {
		return r.ch.Notify()
	}
	return nil
}

// poll delivers up to rxBudget frames and reposts the buffers they used. It reports whether
// responses may remain (budget exhausted).
func (r *rxQueue) poll() (more bool, err error) {
	var buf [netif.RxSlotSize]byte
	delivered, consumed := 0, 0
	defer func() {
		if consumed > 0 && err == nil {
			r.q.stats.rxPosted.Add(-int64(consumed))
			err = r.post()
		}
	}()
	for delivered < rxBudget {
		pos := r.ring.RspCons()
		ok, err := r.ring.ConsumeResponse(buf[:])
		if err != nil {
			return false, r.q.dev.violation(r.q, "rx ring: %v", err)
		}
		if !ok {
			more, err := r.ring.FinalCheckForResponses()
			if err != nil {
				return false, r.q.dev.violation(r.q, "rx ring: %v", err)
			}
			if !more {
				return false, nil
			}
			continue
		}
		consumed++
		r.seen++
		done, err := r.slot(buf[:], pos)
		if err != nil {
			return false, err
		}
		if !done {
			continue
		}
		if !r.dropped {
			r.deliver()
			delivered++
		}
		r.reset()
	}
	return true, nil
}

// slot handles the response at ring position pos; done reports the end of a frame. Whatever
// the response says, the buffer posted at pos is free again afterwards: its data, if any, has
// been copied into the frame.
func (r *rxQueue) slot(b []byte, pos uint32) (done bool, err error) {
	id := r.posted[pos&r.mask]
	defer func() { r.free = append(r.free, id) }()
	if r.extras > 0 {
		// This slot is an extra-info one, announced by the previous slot.
		var e netif.ExtraInfo
		e.Decode(b)
		r.extras--
		if e.More() {
			r.extras++
		}
		if e.Type == netif.XEN_NETIF_EXTRA_TYPE_NONE || e.Type >= netif.XEN_NETIF_EXTRA_TYPE_MAX {
			return false, r.q.dev.violation(r.q, "rx extra type %d", e.Type)
		}
		if r.nextras++; r.nextras > maxRxExtras {
			r.overSlots()
		}
		if e.Type == netif.XEN_NETIF_EXTRA_TYPE_GSO {
			if e.GSOType != GSOTCPv4 && e.GSOType != GSOTCPv6 || e.GSOSize == 0 {
				// Linux drops such a frame and counts it; it is bad data, not a broken ring.
				if !r.dropped {
					r.q.stats.rxBadGSO.Add(1)
				}
				r.drop()
			}
			r.meta.GSOType, r.meta.GSOSize = e.GSOType, e.GSOSize
		}
		return r.extras == 0 && !r.inFrame, nil
	}

	var rsp netif.RxResponse
	rsp.Decode(b)
	if rsp.ID != id {
		return false, r.q.dev.violation(r.q, "rx response id %d where id %d was posted", rsp.ID, id)
	}
	first := !r.inFrame
	more := rsp.Flags&netif.NETRXF_more_data != 0
	if r.slots++; r.slots > maxRxSlots {
		r.overSlots()
	}
	if rsp.Status < 0 {
		// The backend could not fill this buffer: drop the whole frame.
		r.drop()
	} else if int(rsp.Offset)+int(rsp.Status) > xen.PageSize {
		return false, r.q.dev.violation(r.q, "rx offset %d + size %d beyond the page", rsp.Offset, rsp.Status)
	} else if !r.dropped {
		if len(r.frame)+int(rsp.Status) > cap(r.frame) {
			return false, r.q.dev.violation(r.q, "rx frame longer than %d bytes", cap(r.frame))
		}
		r.frame = append(r.frame, r.pages[id].Data[rsp.Offset:int(rsp.Offset)+int(rsp.Status)]...)
	}
	if first {
		// RX flags swap bits 0 and 1 relative to TX: netif names them per direction.
		r.meta.CsumBlank = rsp.Flags&netif.NETRXF_csum_blank != 0
		r.meta.DataValidated = rsp.Flags&netif.NETRXF_data_validated != 0
		if rsp.Flags&netif.NETRXF_extra_info != 0 {
			r.extras = 1
		}
	} else if rsp.Flags&netif.NETRXF_extra_info != 0 {
		return false, r.q.dev.violation(r.q, "rx extra info on a later slot")
	}
	r.inFrame = more
	return !more && r.extras == 0, nil
}

// drop drops the frame being gathered, counting it once among the errors however many of its
// slots are bad (Linux counts rx_errors once per frame too).
func (r *rxQueue) drop() {
	if !r.dropped {
		r.dropped = true
		r.q.stats.rxErrors.Add(1)
	}
}

// overSlots drops a frame that took more slots than a backend may use, and counts why.
func (r *rxQueue) overSlots() {
	if !r.dropped {
		r.q.stats.rxOverSlots.Add(1)
	}
	r.drop()
}

func (r *rxQueue) deliver() {
	st := r.q.stats
	if len(r.frame) < netif.ETH_HLEN {
		st.rxDropped.Add(1)
		return
	}
	st.rxPackets.Add(1)
	st.rxBytes.Add(uint64(len(r.frame)))
	if r.meta.GSOType != GSONone {
		st.rxGSO.Add(1)
	}
	if r.meta.CsumBlank {
		st.rxCsumBlank.Add(1)
	}
	r.meta.Queue = r.q.index
	if fn := r.q.dev.cfg.Receive; fn != nil {
		fn(r.frame, r.meta)
	}
}

func (r *rxQueue) reset() {
	r.frame = r.frame[:0]
	r.meta = RxMeta{}
	r.inFrame, r.dropped, r.extras, r.slots, r.nextras = false, false, 0, 0, 0
}

// run is the queue's RX goroutine: it waits for events and polls. With a shared event channel
// it also reclaims TX completions. A wakeup that finds no new response on either ring is
// spurious, and a run of them pauses the goroutine (see stormGuard).
func (r *rxQueue) run(ctx context.Context, shared bool) {
	r.storm.stats = r.q.stats
	for {
		if err := r.ch.Wait(ctx); err != nil {
			return
		}
		if r.q.dev.err() != nil {
			return
		}
		before, work := r.seen, false
		if shared {
			seen, err := r.q.tx.reclaimSeen()
			if err != nil {
				return
			}
			// Senders reclaim too: responses they took since the last look were this
			// event's work as much as any found now.
			work = seen != r.txSeen
			r.txSeen = seen
		}
		for {
			more, err := r.poll()
			if err != nil {
				return
			}
			if !more {
				break
			}
			select {
			case <-ctx.Done():
				return
			default:
			}
		}
		if !r.storm.after(ctx, work || r.seen != before) {
			return
		}
	}
}
