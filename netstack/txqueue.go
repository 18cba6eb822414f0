// The outgoing queue: where the stack's packets wait for netfront, sized so TCP loses none.

package netstack

import (
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// segmentCost is what a queued TCP segment adds to the send buffer whose payload it shares:
// its packet buffer (320 bytes), the copy of its header chunk and the views, rounded up.
const segmentCost = 640

// fullSegment is a full-size TCP segment on a 1500-byte MTU (timestamps on), the unit in
// which the send buffers are counted in packets.
const fullSegment = 1448

// txQueues is the NIC's queueing discipline: a FIFO per netfront queue, each drained by its
// own goroutine, which waits for ring space holding no lock (gVisor calls WritePacket with
// TCP endpoint locks held, so nothing here may wait: see Stack.start).
//
// gVisor's TCP takes a packet its queue refuses for one lost on the wire: it retransmits,
// halves its window and, when a whole burst is lost, backs its retransmission timer off, to
// seconds after a few rounds. It has no way to hear "wait" from below (no TCP small queues),
// so the queue must simply hold whatever TCP can have in flight. That is bounded by the send
// buffers (TCP keeps every unacknowledged byte there, and the queued segment shares that
// memory), so segments that carry TCP payload are admitted up to Limits.TxSegments. Everything
// else (ACKs, SYN-ACKs, resets, ICMP, UDP) has memory of its own and is admitted up to
// Limits.TxBytes of it; a backend that stops taking frames costs at most the two.
type txQueues struct {
	write func(*stack.PacketBuffer) tcpip.Error // the endpoint's writePacket
	// writeMerged sends consecutive segments of one flow as one frame (the endpoint's, when
	// it has TSO; nil: every packet goes alone). See txmerge.go.
	writeMerged func([]*stack.PacketBuffer) tcpip.Error
	qs          []txFIFO

	maxSegments, maxBytes int64
	segments, bytes       atomic.Int64  // queued, across the queues
	segDrops, otherDrops  atomic.Uint64 // refused for want of room
	merged                atomic.Uint64 // segments sent as part of the frame ahead of them

	closed atomic.Bool
	wg     sync.WaitGroup
}

// txFIFO is one netfront queue's packets, in order.
type txFIFO struct {
	mu   sync.Mutex // guards pkts, head and n
	pkts []txItem
	head int
	n    int

	wake chan struct{} // a token when a packet is queued (capacity 1: wakeups coalesce)
	done chan struct{} // closed by Close
}

// txItem is a packet and what it was charged (0 bytes: a segment).
type txItem struct {
	pkt   *stack.PacketBuffer
	bytes int64
}

var _ stack.QueueingDiscipline = (*txQueues)(nil)

// newTxQueues starts n queues feeding write (and writeMerged, if not nil, with segments that
// join), within the limits' TxSegments and TxBytes.
func newTxQueues(write func(*stack.PacketBuffer) tcpip.Error, writeMerged func([]*stack.PacketBuffer) tcpip.Error, n int, l Limits) *txQueues {
	d := &txQueues{write: write, writeMerged: writeMerged, qs: make([]txFIFO, max(n, 1)),
		maxSegments: int64(l.TxSegments), maxBytes: int64(l.TxBytes)}
	// A queue can hold every admitted packet: each costs at least segmentCost of TxBytes.
	size := l.TxSegments + l.TxBytes/segmentCost + 1
	for i := range d.qs {
		q := &d.qs[i]
		q.pkts = make([]txItem, size)
		q.wake = make(chan struct{}, 1)
		q.done = make(chan struct{})
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.drain(q)
		}()
	}
	return d
}

// charge is what pkt counts against TxBytes: 0 for a segment carrying TCP payload (which
// counts against TxSegments), else its size and the packet's own cost.
func charge(pkt *stack.PacketBuffer) int64 {
	if pkt.TransportProtocolNumber == header.TCPProtocolNumber && pkt.Data().Size() > 0 {
		return 0
	}
	return int64(pkt.Size() + segmentCost)
}

// WritePacket implements stack.QueueingDiscipline: it queues pkt, or refuses it with
// ErrNoBufferSpace (which gVisor counts as the NIC's TxPacketsDroppedNoBufferSpace).
func (d *txQueues) WritePacket(pkt *stack.PacketBuffer) tcpip.Error {
	if d.closed.Load() {
		return &tcpip.ErrClosedForSend{}
	}
	bytes := charge(pkt)
	if bytes == 0 {
		if d.segments.Add(1) > d.maxSegments {
			d.segments.Add(-1)
			d.segDrops.Add(1)
			return &tcpip.ErrNoBufferSpace{}
		}
	} else if d.bytes.Add(bytes) > d.maxBytes {
		d.bytes.Add(-bytes)
		d.otherDrops.Add(1)
		return &tcpip.ErrNoBufferSpace{}
	}
	q := &d.qs[int(pkt.Hash)%len(d.qs)]
	q.mu.Lock()
	// Checked again under the queue's lock: Close may have come since, and the goroutine's
	// last pass, which takes this lock after Close, would never see a packet put in later.
	if d.closed.Load() {
		q.mu.Unlock()
		d.refund(bytes)
		return &tcpip.ErrClosedForSend{}
	}
	q.pkts[(q.head+q.n)%len(q.pkts)] = txItem{pkt.IncRef(), bytes}
	q.n++
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// pop takes the oldest packet; ok is false if there is none.
func (q *txFIFO) pop() (p txItem, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return p, false
	}
	p = q.pkts[q.head]
	q.pkts[q.head] = txItem{}
	q.head = (q.head + 1) % len(q.pkts)
	q.n--
	return p, true
}

// popJoining takes the oldest packet if it can join the frame whose last segment is prev, of
// size bytes in parts pieces so far (canMerge).
func (q *txFIFO) popJoining(prev *stack.PacketBuffer, size, parts int) (p txItem, taken bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 || !canMerge(prev, q.pkts[q.head].pkt, size, parts) {
		return p, false
	}
	p = q.pkts[q.head]
	q.pkts[q.head] = txItem{}
	q.head = (q.head + 1) % len(q.pkts)
	q.n--
	return p, true
}

// drain is a queue's goroutine: it hands the packets to the endpoint in order, waiting for
// ring space there, until Close. What is still queued then is dropped.
func (d *txQueues) drain(q *txFIFO) {
	for {
		select {
		case <-q.wake:
		case <-q.done:
			for p, ok := q.pop(); ok; p, ok = q.pop() {
				d.release(p)
			}
			return
		}
		for p, ok := q.pop(); ok; p, ok = q.pop() {
			// Segments of p's flow queued right behind it join its frame (txmerge.go); they
			// are released with it once netfront has copied the frame.
			var joined [maxMergedParts]txItem
			n := 0
			if d.writeMerged != nil && mergeable(p.pkt) {
				// The frame: one piece of headers, then each segment's payload views.
				prev, size, parts := p.pkt, p.pkt.Size(), 1+payloadViews(p.pkt)
				for ; n < len(joined)-1; n++ {
					next, ok := q.popJoining(prev, size, parts)
					if !ok {
						break
					}
					prev, size, parts = next.pkt, size+next.pkt.Data().Size(), parts+payloadViews(next.pkt)
					joined[n] = next
				}
			}
			select {
			case <-q.done:
			default:
				if n == 0 {
					_ = d.write(p.pkt) // the endpoint counts its failures
					break
				}
				var segs [maxMergedParts]*stack.PacketBuffer
				segs[0] = p.pkt
				for i := range n {
					segs[i+1] = joined[i].pkt
				}
				if d.writeMerged(segs[:n+1]) == nil {
					d.merged.Add(uint64(n))
				}
			}
			d.release(p)
			for _, j := range joined[:n] {
				d.release(j)
			}
		}
	}
}

// release gives back what pkt was charged, once netfront has copied it.
func (d *txQueues) release(p txItem) {
	p.pkt.DecRef()
	d.refund(p.bytes)
}

// refund gives back a charge: a segment when bytes is 0, else bytes.
func (d *txQueues) refund(bytes int64) {
	if bytes == 0 {
		d.segments.Add(-1)
	} else {
		d.bytes.Add(-bytes)
	}
}

// Close implements stack.QueueingDiscipline: the goroutines drop what is queued and end.
func (d *txQueues) Close() {
	if d.closed.Swap(true) {
		return
	}
	for i := range d.qs {
		close(d.qs[i].done)
	}
	d.wg.Wait()
}

// TxQueueStats counts the outgoing queue's packets.
type TxQueueStats struct {
	// Segments: TCP segments carrying payload queued now; Bytes: what the other packets
	// queued now are charged.
	Segments, Bytes uint64
	// SegmentDrops and OtherDrops: packets refused for want of room (TCP sees them as lost).
	SegmentDrops, OtherDrops uint64
	// Merged: TCP segments that left as part of the frame of the segment queued ahead of them
	// (consecutive segments of one flow join into one TSO frame of up to 64 KiB).
	Merged uint64
}

// TxQueueStats returns the outgoing queue's counters.
func (s *Stack) TxQueueStats() TxQueueStats {
	d := s.txq
	if d == nil {
		return TxQueueStats{}
	}
	return TxQueueStats{
		Segments: uint64(max(d.segments.Load(), 0)), Bytes: uint64(max(d.bytes.Load(), 0)),
		SegmentDrops: d.segDrops.Load(), OtherDrops: d.otherDrops.Load(), Merged: d.merged.Load(),
	}
}
