// The TX ring: frames copied into granted pages, one slot per page, and their completions.

package netfront

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/ring"
)

// txQueue is one queue's TX side.
type txQueue struct {
	q *queue

	// mu guards the ring's producer side and consumer side, bufs, inflight and the pages'
	// contents: Send and the completion path both take it.
	mu       sync.Mutex
	ring     *ring.Front
	ch       channel // TX notifications (the queue's only channel unless split)
	bufs     buffers // bufs.pages[id] carries the slot with that id, granted read-only
	inflight []bool  // inflight[id]: a request with this id awaits its response
	seen     uint32  // responses consumed, ever (wraps): whether a wakeup found work

	// space gets a token whenever completions free slots, for senders waiting for room.
	space chan struct{}
	// poll is the waiting senders' poll timer; pollBusy says one of them holds it (the others
	// wait for space tokens, which a sender that got room passes on).
	poll     *time.Timer
	pollBusy atomic.Bool

	// Only the TX goroutine (split event channels) uses these: seen when it last looked, and
	// its pacing when the backend notifies without work.
	lastSeen uint32
	storm    stormGuard
}

// How often a sender waiting for TX space reclaims by itself: often when TX and RX share an
// event channel, rarely (against a lost event) when TX has its own.
const (
	sharedPoll = 2 * time.Millisecond
	splitPoll  = 100 * time.Millisecond
)

// releasePoll gives the poll timer back if this sender held it (since Go 1.23 a stopped
// timer's channel holds no stale tick, so the next holder cannot wake early).
func (t *txQueue) releasePoll(owner bool) {
	if owner {
		t.poll.Stop()
		t.pollBusy.Store(false)
	}
}

// slotsFor returns how many data slots a frame of n bytes takes (one per page).
func slotsFor(n int) int { return (n + xen.PageSize - 1) / xen.PageSize }

// txShape is what a frame takes on the ring: its length, its data slots (one per page) and
// the ring slots it needs (its data slots and, for GSO, the extra-info slot).
type txShape struct {
	n, slots int
	need     uint32
	gso      bool
}

// send queues one frame, given in pieces, waiting for ring space while ctx allows.
func (t *txQueue) send(ctx context.Context, parts [][]byte, m TxMeta) error {
	f, err := t.shape(parts, m)
	if err != nil {
		return err
	}
	polled := false
	for {
		if err := t.q.dev.Err(); err != nil {
			return err
		}
		done, err := t.tryQueue(parts, m, f, polled)
		if done {
			return err
		}
		if polled, err = t.waitSpace(ctx); err != nil {
			return err
		}
	}
}

// shape checks that a frame fits what was negotiated and what every backend accepts, and
// returns what it takes on the ring.
func (t *txQueue) shape(parts [][]byte, m TxMeta) (txShape, error) {
	c := t.q.c
	var f txShape
	for _, p := range parts {
		f.n += len(p)
	}
	switch {
	case f.n < netif.ETH_HLEN:
		return f, ErrTooSmall
	case f.n > netif.XEN_NETIF_MAX_TX_SIZE:
		return f, ErrTooBig
	}
	f.slots = slotsFor(f.n)
	if f.slots > 1 && !c.features.SG {
		return f, ErrTooBig
	}
	if f.slots > netif.XEN_NETIF_NR_SLOTS_MIN || f.slots > len(t.bufs.pages) {
		// One page per slot never needs more than 17 slots for 65535 bytes; keep the check
		// so a change of slot layout cannot exceed what every backend accepts.
		t.q.stats.txDropped.Add(1)
		return f, ErrTooBig
	}
	f.gso = m.GSOType != GSONone
	if f.gso && !c.gsoAllowed(m.GSOType) {
		return f, fmt.Errorf("netfront: GSO type %d not negotiated: %w", m.GSOType, ErrTooBig)
	}
	f.need = uint32(f.slots)
	if f.gso {
		f.need++ // the extra-info slot
	}
	return f, nil
}

// tryQueue reclaims completions and queues the frame if the ring and the buffers have room for
// it. done reports that the frame was queued, or can never be (err); polled says the sender
// was woken by its poll timer, to count the completions the poll found.
func (t *txQueue) tryQueue(parts [][]byte, m TxMeta, f txShape, polled bool) (done bool, err error) {
	t.mu.Lock()
	select {
	case <-t.q.c.done:
		// The connection went away (its pages may be gone) since this sender took it.
		t.mu.Unlock()
		return true, t.q.dev.downErr()
	default:
	}
	before := t.bufs.idle()
	if err := t.reclaimLocked(); err != nil {
		t.mu.Unlock()
		return true, err
	}
	if polled && t.bufs.idle() > before {
		t.q.stats.txPolled.Add(1)
	}
	if t.ring.FreeRequests() < f.need || t.bufs.idle() < f.slots {
		t.mu.Unlock()
		return false, nil
	}
	err = t.queueLocked(parts, f.n, m, f.slots, f.gso)
	room := t.bufs.idle() > 0
	t.mu.Unlock()
	if room {
		// Pass the wakeup on: another sender may be waiting for this room.
		select {
		case t.space <- struct{}{}:
		default:
		}
	}
	return true, err
}

// waitSpace waits until completions may have made room: a space token, or the poll timer
// (polled). It fails when ctx ends, counting the frame dropped, or the connection goes away.
//
// With one event channel per queue its events go to the RX goroutine, which may be this very
// sender (a stack answering a received frame): look again shortly rather than wait for a
// wakeup that nobody else would give. With split channels the TX goroutine wakes us; a slow
// poll still guards against a lost event, and counts it.
func (t *txQueue) waitSpace(ctx context.Context) (polled bool, err error) {
	c := t.q.c
	wait := splitPoll
	if !c.features.SplitEventChannels {
		wait = sharedPoll
	}
	var pollC <-chan time.Time
	owner := t.pollBusy.CompareAndSwap(false, true)
	if owner {
		if t.poll == nil {
			t.poll = time.NewTimer(wait) // once per queue; only the holder touches it
		} else {
			t.poll.Reset(wait)
		}
		pollC = t.poll.C
	}
	select {
	case <-t.space:
	case <-pollC:
		polled = true
	case <-ctx.Done():
		t.releasePoll(owner)
		t.q.stats.txDropped.Add(1)
		t.q.stats.txTimeouts.Add(1)
		return false, ctx.Err()
	case <-c.done:
		t.releasePoll(owner)
		return false, t.q.dev.downErr()
	}
	t.releasePoll(owner)
	return polled, nil
}

// queueLocked copies the frame (n bytes in parts) into free pages and publishes its requests.
func (t *txQueue) queueLocked(parts [][]byte, n int, m TxMeta, slots int, gso bool) error {
	var req netif.TxRequest
	var at gatherPos
	for i := 0; i < slots; i++ {
		size := min(xen.PageSize, n-i*xen.PageSize)
		id := t.bufs.take()
		t.inflight[id] = true
		at = gather(t.bufs.data(id)[:size], parts, at)

		req = netif.TxRequest{Gref: uint32(t.bufs.refs[id]), ID: id, Size: uint16(size)}
		if i == 0 {
			// The first slot's size is the size of the whole packet.
			req.Size = uint16(n)
			if m.CsumBlank {
				req.Flags |= netif.NETTXF_csum_blank | netif.NETTXF_data_validated
			} else if m.DataValidated {
				req.Flags |= netif.NETTXF_data_validated
			}
			if gso {
				req.Flags |= netif.NETTXF_extra_info
			}
		}
		if i < slots-1 {
			req.Flags |= netif.NETTXF_more_data
		}
		slot, err := t.ring.NextRequest()
		if err != nil {
			return err
		}
		req.Encode(slot)
		if i == 0 && gso {
			// The extra-info slot follows the first request directly.
			ex, err := t.ring.NextRequest()
			if err != nil {
				return err
			}
			e := netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_GSO, GSOSize: m.GSOSize, GSOType: m.GSOType}
			e.Encode(ex)
		}
	}
	st := t.q.stats
	st.txInFlight.Add(int64(slots))
	st.txPackets.Add(1)
	st.txBytes.Add(uint64(n))
	if gso {
		st.txGSO.Add(1)
	}
	// Completions, and often a reply, will follow: a goroutine pausing for a storm looks now.
	t.storm.kick()
	t.q.rx.storm.kick()
	if t.ring.PushRequestsAndCheckNotify() {
		if err := t.ch.Notify(); err != nil {
			return err
		}
	}
	return nil
}

// gatherPos is how far gather has read: the part, and the offset within it.
type gatherPos struct{ part, off int }

// gather fills dst from parts, starting at pos, and returns where it stopped. parts is not
// modified.
func gather(dst []byte, parts [][]byte, pos gatherPos) gatherPos {
	for len(dst) > 0 && pos.part < len(parts) {
		c := copy(dst, parts[pos.part][pos.off:])
		dst = dst[c:]
		pos.off += c
		if pos.off == len(parts[pos.part]) {
			pos = gatherPos{part: pos.part + 1}
		}
	}
	return pos
}

// reclaimLocked consumes TX responses, freeing their slots. A response is copied out of the
// ring once, then checked: NULL responses (to extra-info slots) carry no id; every other one
// must name a slot in flight.
func (t *txQueue) reclaimLocked() error {
	var buf [netif.TxSlotSize]byte
	var rsp netif.TxResponse
	freed := 0
	for {
		for {
			ok, err := t.ring.ConsumeResponse(buf[:])
			if err != nil {
				return t.q.dev.violation(t.q, "tx ring: %v", err)
			}
			if !ok {
				break
			}
			t.seen++
			rsp.Decode(buf[:])
			if rsp.Status == netif.NETIF_RSP_NULL {
				continue
			}
			if int(rsp.ID) >= len(t.inflight) || !t.inflight[rsp.ID] {
				return t.q.dev.violation(t.q, "tx response id %d not in flight", rsp.ID)
			}
			t.inflight[rsp.ID] = false
			t.bufs.give(rsp.ID)
			freed++
			if rsp.Status != netif.NETIF_RSP_OKAY {
				t.q.stats.txErrors.Add(1)
			}
		}
		// Ask for an event at the next response, then look once more: a response that
		// arrived in between would otherwise wait for an event that never comes.
		more, err := t.ring.FinalCheckForResponses()
		if err != nil {
			return t.q.dev.violation(t.q, "tx ring: %v", err)
		}
		if !more {
			break
		}
	}
	if freed > 0 {
		t.q.stats.txInFlight.Add(-int64(freed))
		select {
		case t.space <- struct{}{}:
		default:
		}
	}
	return nil
}

// reclaim is the completion path's entry: run on TX events.
func (t *txQueue) reclaim() error {
	_, err := t.reclaimSeen()
	return err
}

// reclaimSeen is reclaim that also returns how many responses were consumed so far, by the
// completion path and senders alike.
func (t *txQueue) reclaimSeen() (uint32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	err := t.reclaimLocked()
	return t.seen, err
}

// run is the TX completion goroutine of a queue with its own TX event channel. A wakeup after
// which no response was consumed since the last one (by this goroutine or a sender) is
// spurious, and a run of them pauses it (see stormGuard).
func (t *txQueue) run(ctx context.Context) {
	t.storm.stats = t.q.stats
	for t.ch.Wait(ctx) == nil {
		seen, err := t.reclaimSeen()
		if err != nil {
			return
		}
		work := seen != t.lastSeen
		t.lastSeen = seen
		if !t.storm.after(ctx, work) {
			return
		}
	}
}
