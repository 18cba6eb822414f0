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
	// contents: Send and the completion path both take it. It is the queue index's
	// counters.txMu, so the TX counters are plain adds under it (see counters).
	mu       *sync.Mutex
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

// TxFrame is one frame of a batch handed to SendBatch: its pieces, gathered in order, and its
// metadata.
type TxFrame struct {
	Parts [][]byte
	Meta  TxMeta
}

// send queues frames, all of this queue, in order, waiting for ring space while ctx allows.
// Each pass under the lock queues as many as fit and publishes them with one push (and at
// most one notification). It returns how many were queued: on an error, the frames from
// there on were not.
func (t *txQueue) send(ctx context.Context, frames []TxFrame) (int, error) {
	sent, polled := 0, false
	for {
		if err := t.q.dev.Err(); err != nil {
			return sent, err
		}
		n, full, err := t.tryQueue(frames[sent:], polled)
		sent += n
		if err != nil || !full {
			return sent, err
		}
		if polled, err = t.waitSpace(ctx); err != nil {
			if ctx.Err() != nil {
				// Every frame of the batch not queued is dropped, for want of room in time.
				t.q.stats.txDropped.Add(uint64(len(frames) - sent))
				t.q.stats.txTimeouts.Add(uint64(len(frames) - sent))
			}
			return sent, err
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

// tryQueue reclaims completions and queues frames, in order, while the ring and the buffers
// have room, publishing them with one push. It returns how many it queued; full says it
// stopped for lack of room (the rest may fit after completions), and an error that the frame
// after those queued can never be (or the connection is gone). polled says the sender was
// woken by its poll timer, to count the completions the poll found.
func (t *txQueue) tryQueue(frames []TxFrame, polled bool) (queued int, full bool, err error) {
	t.mu.Lock()
	select {
	case <-t.q.c.done:
		// The connection went away (its pages may be gone) since this sender took it.
		t.mu.Unlock()
		return 0, false, t.q.dev.downErr()
	default:
	}
	freed, err := t.reclaimLocked()
	if err != nil {
		t.inFlight(-freed)
		t.mu.Unlock()
		return 0, false, err
	}
	if polled && freed > 0 {
		t.q.stats.txPolled.Add(1)
	}
	taken := 0
	for i := range frames {
		f, ferr := t.shape(frames[i].Parts, frames[i].Meta)
		if ferr != nil {
			err = ferr
			break
		}
		if t.ring.FreeRequests() < f.need || t.bufs.idle() < f.slots {
			full = true
			break
		}
		if err = t.fillLocked(frames[i].Parts, frames[i].Meta, f); err != nil {
			break
		}
		taken += f.slots
		queued++
	}
	// The slots freed and taken, in one update.
	t.inFlight(taken - freed)
	if queued > 0 {
		if perr := t.pushLocked(); err == nil {
			err = perr
		}
	}
	room := t.bufs.idle() > 0
	t.mu.Unlock()
	if room {
		// Pass the wakeup on: another sender may be waiting for this room.
		select {
		case t.space <- struct{}{}:
		default:
		}
	}
	return queued, full, err
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
		return false, ctx.Err() // send counts the frames that did not go
	case <-c.done:
		t.releasePoll(owner)
		return false, t.q.dev.downErr()
	}
	t.releasePoll(owner)
	return polled, nil
}

// fillLocked copies a frame (f.n bytes in parts) into free pages and writes its requests,
// unpublished; the caller checked there is room and publishes with pushLocked.
func (t *txQueue) fillLocked(parts [][]byte, m TxMeta, f txShape) error {
	var req netif.TxRequest
	var at gatherPos
	n := f.n
	for i := 0; i < f.slots; i++ {
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
			if f.gso {
				req.Flags |= netif.NETTXF_extra_info
			}
		}
		if i < f.slots-1 {
			req.Flags |= netif.NETTXF_more_data
		}
		slot, err := t.ring.NextRequest()
		if err != nil {
			return err
		}
		req.Encode(slot)
		if i == 0 && f.gso {
			// The extra-info slot follows the first request directly.
			ex, err := t.ring.NextRequest()
			if err != nil {
				return err
			}
			e := netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_GSO, GSOSize: m.GSOSize, GSOType: m.GSOType}
			e.Encode(ex)
		}
	}
	st := &t.q.stats.tx // under t.mu
	st.packets++
	st.bytes += uint64(n)
	if f.gso {
		st.gso++
	}
	return nil
}

// pushLocked publishes the requests written so far, notifying the backend if it asked
// (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY): once per batch of frames.
func (t *txQueue) pushLocked() error {
	// Completions, and often a reply, will follow: a goroutine pausing for a storm looks now.
	t.storm.kick()
	t.q.rx.storm.kick()
	if t.ring.PushRequestsAndCheckNotify() {
		return t.ch.Notify()
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

// inFlight adds n to the count of TX slots in flight (under t.mu).
func (t *txQueue) inFlight(n int) { t.q.stats.tx.inFlight += int64(n) }

// reclaimLocked consumes TX responses, freeing their slots, and returns how many it freed (for
// the caller to count, with what else it does under the lock, in one update of txInFlight). A
// response is copied out of the ring once, then checked: NULL responses (to extra-info slots)
// carry no id; every other one must name a slot in flight.
func (t *txQueue) reclaimLocked() (freed int, err error) {
	var buf [netif.TxSlotSize]byte
	var rsp netif.TxResponse
	for {
		for {
			ok, err := t.ring.ConsumeResponse(buf[:])
			if err != nil {
				return freed, t.q.dev.violation(t.q, "tx ring: %v", err)
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
				return freed, t.q.dev.violation(t.q, "tx response id %d not in flight", rsp.ID)
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
			return freed, t.q.dev.violation(t.q, "tx ring: %v", err)
		}
		if !more {
			break
		}
	}
	if freed > 0 {
		select {
		case t.space <- struct{}{}:
		default:
		}
	}
	return freed, nil
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
	freed, err := t.reclaimLocked()
	t.inFlight(-freed)
	seen := t.seen
	t.mu.Unlock()
	return seen, err
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
