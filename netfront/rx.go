// The RX ring: one granted page per ring slot, responses consumed and fed to the assembler.

package netfront

import (
	"context"

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
// Each buffer page has an id (see buffers). posted records which buffer was posted at
// each ring position: a response must carry the id posted at its own position, and an
// extra-info response, which carries no id, still uses up the buffer posted at its position.
// There may be fewer buffers than ring slots, to fit small guests.
type rxQueue struct {
	q      *queue
	ring   *ring.Front
	ch     channel  // RX notifications (the queue's only channel unless split)
	bufs   buffers  // granted writable; the ids not in use are those not posted
	posted []uint16 // posted[pos & mask]: the buffer id posted at that ring position
	mask   uint32

	// asm gathers the frame the responses carry, which may span several passes if the backend
	// publishes its slots in more than one push.
	asm rxAssembler

	seen   uint32     // responses consumed, ever (wraps): whether a wakeup found work
	txSeen uint32     // the TX side's count when run last looked (shared channel)
	storm  stormGuard // paces run when the backend notifies without work
}

// post publishes a request for every free buffer the ring has room for.
func (r *rxQueue) post() error {
	n, err := r.repost()
	r.q.stats.rxPosted.Add(int64(n))
	return err
}

// repost is post that returns how many buffers it posted, for the caller to count.
func (r *rxQueue) repost() (int, error) {
	n := 0
	for r.bufs.idle() > 0 && !r.ring.Full() {
		pos := r.ring.ReqProdPvt()
		slot, err := r.ring.NextRequest()
		if err != nil {
			return n, err
		}
		id := r.bufs.take()
		r.posted[pos&r.mask] = id
		req := netif.RxRequest{ID: id, Gref: uint32(r.bufs.refs[id])}
		req.Encode(slot)
		n++
	}
	if n == 0 {
		return 0, nil
	}
	if r.ring.PushRequestsAndCheckNotify() {
		return n, r.ch.Notify()
	}
	return n, nil
}

// poll delivers up to rxBudget frames and reposts the buffers they used. It reports whether
// responses may remain (budget exhausted). Each response is copied out of the ring once, then
// fed to the assembler, which checks it and gathers the frame; the ring loop only feeds it.
//
// The pass counts what it delivers and adds it to the counters once, at its end, with the
// buffers it consumed and reposted (usually as many: no change).
func (r *rxQueue) poll() (more bool, err error) {
	var counts rxCounts
	more, consumed, err := r.pass(&counts)
	if consumed > 0 && err == nil {
		var posted int
		posted, err = r.repost()
		if d := posted - consumed; d != 0 {
			r.q.stats.rxPosted.Add(int64(d))
		}
	}
	r.q.stats.addRx(counts)
	return more, err
}

// pass is poll's loop over the responses: it returns how many it consumed.
func (r *rxQueue) pass(counts *rxCounts) (more bool, consumed int, err error) {
	var buf [netif.RxSlotSize]byte
	delivered := 0
	for delivered < rxBudget {
		pos := r.ring.RspCons()
		ok, err := r.ring.ConsumeResponse(buf[:])
		if err != nil {
			return false, consumed, r.q.dev.violation(r.q, "rx ring: %v", err)
		}
		if !ok {
			more, err := r.ring.FinalCheckForResponses()
			if err != nil {
				return false, consumed, r.q.dev.violation(r.q, "rx ring: %v", err)
			}
			if !more {
				return false, consumed, nil
			}
			continue
		}
		consumed++
		r.seen++
		// Whatever the response says, the buffer posted at its position is free again
		// afterwards: its data, if any, has been copied into the frame.
		id := r.posted[pos&r.mask]
		st, err := r.asm.feed(buf[:], id, r.bufs.data(id))
		r.bufs.give(id)
		r.countDrop(st.drop)
		if err != nil {
			return false, consumed, r.q.dev.violation(r.q, "%v", err)
		}
		if st.frame {
			r.deliver(r.asm.frame, r.asm.meta, counts)
			delivered++
		}
	}
	return true, consumed, nil
}

// countDrop counts a dropped frame among the errors, and among its cause's counter if any.
func (r *rxQueue) countDrop(why rxDrop) {
	st := r.q.stats
	switch why {
	case rxKept:
		return
	case rxDropBadGSO:
		st.rxBadGSO.Add(1)
	case rxDropOverSlots:
		st.rxOverSlots.Add(1)
	}
	st.rxErrors.Add(1)
}

// deliver hands a whole frame to the receiver, counting it in the pass's counts; frame is
// valid only during the call.
func (r *rxQueue) deliver(frame []byte, m RxMeta, counts *rxCounts) {
	if len(frame) < netif.ETH_HLEN {
		r.q.stats.rxDropped.Add(1)
		return
	}
	counts.packets++
	counts.bytes += uint64(len(frame))
	if m.GSOType != GSONone {
		counts.gso++
	}
	if m.CsumBlank {
		counts.csumBlank++
	}
	m.Queue = r.q.index
	if fn := r.q.dev.cfg.Receive; fn != nil {
		fn(frame, m)
	}
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
		if r.q.dev.Err() != nil {
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
