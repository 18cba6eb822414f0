// The outgoing queue: where the stack's packets wait for netfront, sized so TCP loses none.

package netstack

import (
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/tamaxen/tamaxen/netfront"
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
	link  txLink // the endpoint
	batch int    // frames per batch, 1 to txBatchFrames
	qs    []txFIFO

	maxSegments, maxBytes int64
	segments, bytes       atomic.Int64  // queued, across the queues
	segDrops, otherDrops  atomic.Uint64 // refused for want of room

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

	batch *txBatch // the goroutine's own
}

// txLink is where the queues send their packets: the endpoint (a fake in tests).
type txLink interface {
	// frame makes pkt into a frame gathered into s; false if it cannot go (counted).
	frame(s *txFrameStore, pkt *stack.PacketBuffer) (f netfront.TxFrame, size int, ok bool)
	// sendFrames sends frames of sizes bytes, in order, as one batch, waiting for ring space;
	// it counts them and returns how many went.
	sendFrames(frames []netfront.TxFrame, sizes []int) int
}

// txBatchFrames is how many frames a queue's goroutine hands netfront at once: one push of the
// ring and at most one notification of the backend for all of them.
const txBatchFrames = 16

// txFrameStore holds the pieces one frame is gathered from.
type txFrameStore struct {
	parts [maxParts][]byte
}

// txBatch is a queue goroutine's batch: its frames, their storage, and the packets they are
// made of (released once netfront has copied them). Allocated once per queue.
type txBatch struct {
	store  [txBatchFrames]txFrameStore
	frames [txBatchFrames]netfront.TxFrame
	sizes  [txBatchFrames]int
	items  [txBatchFrames]txItem
}

// txItem is a packet and what it was charged (0 bytes: a segment).
type txItem struct {
	pkt   *stack.PacketBuffer
	bytes int64
}

var _ stack.QueueingDiscipline = (*txQueues)(nil)

// newTxQueues starts n queues feeding link in batches of up to batch frames (0:
// txBatchFrames), within the limits' TxSegments and TxBytes.
func newTxQueues(link txLink, batch, n int, l Limits) *txQueues {
	if batch <= 0 || batch > txBatchFrames {
		batch = txBatchFrames
	}
	d := &txQueues{link: link, batch: batch, qs: make([]txFIFO, max(n, 1)),
		maxSegments: int64(l.TxSegments), maxBytes: int64(l.TxBytes)}
	// A queue can hold every admitted packet: each costs at least segmentCost of TxBytes.
	size := l.TxSegments + l.TxBytes/segmentCost + 1
	for i := range d.qs {
		q := &d.qs[i]
		q.pkts = make([]txItem, size)
		q.wake = make(chan struct{}, 1)
		q.done = make(chan struct{})
		q.batch = new(txBatch)
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

// drain is a queue's goroutine: it hands the packets to the endpoint in order, in batches of
// what is queued, waiting for ring space there, until Close. What is still queued then is
// dropped.
func (d *txQueues) drain(q *txFIFO) {
	b := q.batch
	for {
		select {
		case <-q.wake:
		case <-q.done:
			for p, ok := q.pop(); ok; p, ok = q.pop() {
				d.release(p)
			}
			return
		}
		for {
			frames, items := d.fill(q, b)
			if items == 0 {
				break
			}
			select {
			case <-q.done:
			default:
				if frames > 0 {
					d.link.sendFrames(b.frames[:frames], b.sizes[:frames])
				}
			}
			for i := range b.items[:items] {
				d.release(b.items[i])
				b.items[i] = txItem{}
			}
		}
	}
}

// fill takes up to d.batch packets from q into b, each made into a frame. It returns how many
// frames it made and how many packets it took (a packet the endpoint refused is taken,
// counted there, and makes no frame).
func (d *txQueues) fill(q *txFIFO, b *txBatch) (frames, items int) {
	// items is bounded too: a packet the endpoint refuses makes no frame.
	for frames < d.batch && items < len(b.items) {
		p, ok := q.pop()
		if !ok {
			break
		}
		b.items[items] = p
		items++
		f, size, ok := d.link.frame(&b.store[frames], p.pkt)
		if !ok {
			continue
		}
		b.frames[frames], b.sizes[frames] = f, size
		frames++
	}
	return frames, items
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
}

// TxQueueStats returns the outgoing queue's counters.
func (s *Stack) TxQueueStats() TxQueueStats {
	d := s.txq
	if d == nil {
		return TxQueueStats{}
	}
	return TxQueueStats{
		Segments: uint64(max(d.segments.Load(), 0)), Bytes: uint64(max(d.bytes.Load(), 0)),
		SegmentDrops: d.segDrops.Load(), OtherDrops: d.otherDrops.Load(),
	}
}
