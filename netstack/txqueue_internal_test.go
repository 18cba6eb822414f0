// The outgoing queue's accounting, without a device.

package netstack

import (
	"testing"

	"github.com/stretchr/testify/assert"
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

func (l fakeLink) frame(s *txFrameStore, segs []*stack.PacketBuffer) (netfront.TxFrame, int, bool) {
	parts, size := s.parts[:0], 0
	for _, p := range segs {
		vl, off := p.AsViewList()
		var ok bool
		if parts, ok = appendViews(parts, vl, off+p.HeaderSize(), len(s.parts)); !ok {
			return netfront.TxFrame{}, 0, false
		}
		size += p.Data().Size()
	}
	return netfront.TxFrame{Parts: parts}, size, true
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
	d := newTxQueues(fakeLink{func([]netfront.TxFrame, []int) { <-block }}, false, 0, 2, l)

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
	d := newTxQueues(fakeLink{func([]netfront.TxFrame, []int) { sent <- struct{}{} }}, false, 0, 1, LimitsFor(0))
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
