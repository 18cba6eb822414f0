// The outgoing queue's accounting, without a device.

package netstack

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/tamaxen/tamaxen/netfront"
)

// testPacket is a packet of payload bytes for transport proto.
func testPacket(proto tcpip.TransportProtocolNumber, payload int) *stack.PacketBuffer {
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{ReserveHeaderBytes: 128, Payload: buffer.MakeWithData(make([]byte, payload))})
	pkt.TransportProtocolNumber = proto
	pkt.TransportHeader().Push(header.TCPMinimumSize)
	return pkt
}

// fakeLink stands for the endpoint: it gathers each frame's payload views (headers are left
// out) and gives every batch to send.
type fakeLink struct {
	send func(frames []netfront.TxFrame, sizes []int)
}

func (l fakeLink) frame(s *txFrameStore, pkt *stack.PacketBuffer) (netfront.TxFrame, int, bool) {
	vl, off := pkt.AsViewList()
	parts, ok := appendViews(s.parts[:0], vl, off+pkt.HeaderSize(), len(s.parts))
	return netfront.TxFrame{Parts: parts}, pkt.Data().Size(), ok
}

func (l fakeLink) sendFrames(frames []netfront.TxFrame, sizes []int) int {
	l.send(frames, sizes)
	return len(frames)
}

// With the device taking nothing, the queue admits TxSegments TCP segments and TxBytes of the
// rest, refuses the others with ErrNoBufferSpace and counts them by class; closing it drops
// what it held and gives every charge back.
func TestTxQueuesBounded(t *testing.T) {
	block := make(chan struct{})
	l := Limits{TxSegments: 10, TxBytes: 4 * (segmentCost + 1514)}
	d := newTxQueues(fakeLink{func([]netfront.TxFrame, []int) { <-block }}, 0, 2, l)

	var pkts []*stack.PacketBuffer
	write := func(pkt *stack.PacketBuffer) tcpip.Error {
		pkts = append(pkts, pkt)
		return d.WritePacket(pkt)
	}
	refused := 0
	for range 20 {
		if _, ok := write(testPacket(header.TCPProtocolNumber, 1448)).(*tcpip.ErrNoBufferSpace); ok {
			refused++
		}
	}
	// A batch per queue may already be with the (blocked) device, still charged.
	assert.Equal(t, 10, refused, "segments refused")
	for range 10 {
		_ = write(testPacket(header.UDPProtocolNumber, 1514-header.TCPMinimumSize))
	}
	for range 10 {
		_ = write(testPacket(header.TCPProtocolNumber, 0)) // pure ACKs: not segments
	}
	st := TxQueueStats{Segments: uint64(d.segments.Load()), Bytes: uint64(d.bytes.Load()), SegmentDrops: d.segDrops.Load(), OtherDrops: d.otherDrops.Load()}
	assert.EqualValues(t, 10, st.Segments)
	assert.EqualValues(t, 10, st.SegmentDrops)
	assert.LessOrEqual(t, st.Bytes, uint64(l.TxBytes))
	assert.EqualValues(t, 10+10-4, st.OtherDrops, "a full-size packet costs what 4 of TxBytes allow, ACKs nothing past them")

	close(block)
	d.Close()
	assert.Zero(t, d.segments.Load())
	assert.Zero(t, d.bytes.Load())
	late := testPacket(header.UDPProtocolNumber, 10)
	defer late.DecRef()
	assert.IsType(t, &tcpip.ErrClosedForSend{}, d.WritePacket(late))
	for _, pkt := range pkts {
		pkt.DecRef()
	}
}

// Queueing a packet and handing it to the device allocates nothing.
func TestTxQueuesNoAllocs(t *testing.T) {
	sent := make(chan struct{}, 1)
	d := newTxQueues(fakeLink{func([]netfront.TxFrame, []int) { sent <- struct{}{} }}, 0, 1, LimitsFor(0))
	defer d.Close()
	pkt := testPacket(header.TCPProtocolNumber, 1448)
	defer pkt.DecRef()
	allocs := testing.AllocsPerRun(1000, func() {
		if err := d.WritePacket(pkt); err != nil {
			t.Fatal(err)
		}
		<-sent
	})
	assert.Zero(t, allocs)
}

// Packets that wait behind one the device is busy with go to it as one batch, in order, of at
// most txbatch= frames; each is refunded once netfront has copied it.
func TestTxQueueBatches(t *testing.T) {
	for _, c := range []struct {
		name    string
		batch   int
		batches [][]int // frame sizes per batch
	}{
		{"default", 0, [][]int{sizesFrom(100, 16), sizesFrom(116, 4)}},
		{"txbatch=1", 1, func() (b [][]int) {
			for i := range 20 {
				b = append(b, []int{100 + i})
			}
			return b
		}()},
		{"txbatch=8", 8, [][]int{sizesFrom(100, 8), sizesFrom(108, 8), sizesFrom(116, 4)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			entered, busy := make(chan struct{}), make(chan struct{})
			var batches [][]int
			wrote := make(chan struct{}, 30)
			d := newTxQueues(fakeLink{func(frames []netfront.TxFrame, sz []int) {
				if sz[0] == 10 {
					close(entered)
					<-busy // the device is busy with this one while the others queue
					return
				}
				batches = append(batches, append([]int(nil), sz...))
				wrote <- struct{}{}
			}}, c.batch, 1, LimitsFor(0))
			defer d.Close()
			blocker := testPacket(header.UDPProtocolNumber, 10)
			require.Nil(t, d.WritePacket(blocker))
			blocker.DecRef()
			<-entered
			for i := range 20 {
				pkt := testPacket(header.TCPProtocolNumber, 100+i)
				require.Nil(t, d.WritePacket(pkt))
				pkt.DecRef()
			}
			close(busy)
			for i := range c.batches {
				select {
				case <-wrote:
				case <-time.After(time.Minute): // a guard against a hang, not a speed test
					require.Failf(t, "batches missing", "%d of %d batches came", i, len(c.batches))
				}
			}
			d.Close() // the goroutine releases the batch's packets before it ends
			assert.Equal(t, c.batches, batches)
			assert.Zero(t, d.segments.Load(), "every segment refunded")
		})
	}
}

// sizesFrom is n sizes counting up from first.
func sizesFrom(first, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = first + i
	}
	return s
}
