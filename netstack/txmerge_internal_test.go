// Segment merging in the outgoing queue: which segments join, what the joined frame holds.

package netstack

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/tamaxen/tamaxen/internal/csum"
	"github.com/tamaxen/tamaxen/netfront"
)

const testMSS = 1448

// seg describes a TCP segment as gVisor would hand it to the queue.
type seg struct {
	v6       bool
	seq, ack uint32
	win      uint16
	flags    header.TCPFlags
	sport    uint16
	payload  int
	tsval    uint32
	noGSO    bool
	dstMAC   byte
}

// build makes s into a packet with Ethernet, IP and TCP (with a timestamp option) headers;
// its payload bytes are the low bytes of their sequence numbers.
func (s seg) build() *stack.PacketBuffer {
	data := make([]byte, s.payload)
	for i := range data {
		data[i] = byte(s.seq + uint32(i))
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{ReserveHeaderBytes: 128, Payload: buffer.MakeWithData(data)})
	const tcpLen = header.TCPMinimumSize + 12
	th := header.TCP(pkt.TransportHeader().Push(tcpLen))
	th.Encode(&header.TCPFields{SrcPort: s.sport, DstPort: 80, SeqNum: s.seq, AckNum: s.ack,
		DataOffset: tcpLen, Flags: s.flags, WindowSize: s.win})
	header.EncodeTSOption(s.tsval, 7, th[header.TCPMinimumSize:])
	pkt.TransportProtocolNumber = header.TCPProtocolNumber
	gso := stack.GSOTCPv4
	if s.v6 {
		ip := header.IPv6(pkt.NetworkHeader().Push(header.IPv6MinimumSize))
		ip.Encode(&header.IPv6Fields{PayloadLength: uint16(tcpLen + s.payload), TransportProtocol: header.TCPProtocolNumber,
			HopLimit: 64, SrcAddr: tcpip.AddrFrom16([16]byte{0xfd, 15: 2}), DstAddr: tcpip.AddrFrom16([16]byte{0xfd, 15: 1})})
		pkt.NetworkProtocolNumber = header.IPv6ProtocolNumber
		gso = stack.GSOTCPv6
	} else {
		ip := header.IPv4(pkt.NetworkHeader().Push(header.IPv4MinimumSize))
		ip.Encode(&header.IPv4Fields{TotalLength: uint16(header.IPv4MinimumSize + tcpLen + s.payload), TTL: 64,
			Protocol: uint8(header.TCPProtocolNumber), SrcAddr: tcpip.AddrFrom4([4]byte{10, 0, 0, 2}), DstAddr: tcpip.AddrFrom4([4]byte{10, 0, 0, 1})})
		ip.SetChecksum(^ip.CalculateChecksum())
		pkt.NetworkProtocolNumber = header.IPv4ProtocolNumber
	}
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	eth.Encode(&header.EthernetFields{SrcAddr: "\x00\x16\x3e\x00\x00\x02", DstAddr: tcpip.LinkAddress([]byte{0, 0x16, 0x3e, 0, 0, 1 + s.dstMAC}),
		Type: pkt.NetworkProtocolNumber})
	if !s.noGSO {
		pkt.GSOOptions = stack.GSO{Type: gso, NeedsCsum: true, MSS: testMSS}
	}
	return pkt
}

func TestCanMerge(t *testing.T) {
	ack := header.TCPFlagAck
	first := seg{seq: 1000, ack: 5, win: 100, flags: ack, sport: 4000, payload: 4 * testMSS}
	next := first
	next.seq, next.ack, next.win, next.flags, next.tsval = 1000+4*testMSS, 9, 200, ack|header.TCPFlagPsh, 3
	for _, c := range []struct {
		name        string
		first, next func(*seg)
		want        bool
	}{
		{"contiguous", nil, nil, true},
		{"ipv6", func(s *seg) { s.v6 = true }, func(s *seg) { s.v6 = true }, true},
		{"gap in sequence", nil, func(s *seg) { s.seq++ }, false},
		{"overlap (retransmission)", nil, func(s *seg) { s.seq -= testMSS }, false},
		{"other flow", nil, func(s *seg) { s.sport++ }, false},
		{"other next hop", nil, func(s *seg) { s.dstMAC = 1 }, false},
		{"other family", nil, func(s *seg) { s.v6 = true }, false},
		{"first not whole segments", func(s *seg) { s.payload-- }, func(s *seg) { s.seq-- }, false},
		{"FIN", nil, func(s *seg) { s.flags |= header.TCPFlagFin }, false},
		{"first has FIN", func(s *seg) { s.flags |= header.TCPFlagFin }, nil, false},
		{"RST", nil, func(s *seg) { s.flags = header.TCPFlagRst | header.TCPFlagAck }, false},
		{"pure ACK", nil, func(s *seg) { s.payload = 0 }, false},
		{"no TSO", nil, func(s *seg) { s.noGSO = true }, false},
		{"over 64 KiB", func(s *seg) { s.payload = 40 * testMSS }, func(s *seg) { s.seq, s.payload = 1000+40*testMSS, 6*testMSS }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, n := first, next
			if c.first != nil {
				c.first(&f)
			}
			if c.next != nil {
				c.next(&n)
			}
			fp, np := f.build(), n.build()
			defer fp.DecRef()
			defer np.DecRef()
			assert.Equal(t, c.want, mergeable(fp) && canMerge(fp, np, fp.Size(), 1+payloadViews(fp)))
		})
	}
}

// A merged frame carries both payloads in order, the first segment's sequence number, the last
// one's acknowledgement, window, flags and timestamps, IP lengths (and IPv4 checksum) that
// match it, and a pseudo-header sum that completes to a valid TCP checksum; the segments
// themselves are left as they were.
func TestMergedFrame(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		a := seg{v6: v6, seq: 0xfffff000, ack: 5, win: 100, flags: header.TCPFlagAck, sport: 4000, payload: 2 * testMSS, tsval: 1}
		b := seg{v6: v6, seq: a.seq + 2*testMSS, ack: 9, win: 300, flags: header.TCPFlagAck | header.TCPFlagPsh, sport: 4000, payload: 700, tsval: 2}
		fp, np := a.build(), b.build()
		require.True(t, canMerge(fp, np, fp.Size(), 1+payloadViews(fp)), "wraps the sequence space")
		before := append([]byte(nil), fp.ToView().AsSlice()...)
		var hdr [maxMergedHeader]byte
		frame := append([]byte(nil), mergedHeader(&hdr, fp, np, a.payload+b.payload)...)
		frame = append(frame, payloadOf(a)...)
		frame = append(frame, payloadOf(b)...)
		assert.Equal(t, before, fp.ToView().AsSlice(), "the first segment is not modified")
		assert.EqualValues(t, a.seq, header.TCP(fp.TransportHeader().Slice()).SequenceNumber())

		eth := header.EthernetMinimumSize
		var th header.TCP
		if v6 {
			ip := header.IPv6(frame[eth:])
			assert.EqualValues(t, len(frame)-eth-header.IPv6MinimumSize, ip.PayloadLength())
			th = header.TCP(frame[eth+header.IPv6MinimumSize:])
		} else {
			ip := header.IPv4(frame[eth:])
			assert.EqualValues(t, len(frame)-eth, ip.TotalLength())
			assert.True(t, ip.IsChecksumValid(), "IPv4 header checksum")
			th = header.TCP(frame[eth+header.IPv4MinimumSize:])
		}
		assert.Equal(t, a.seq, th.SequenceNumber())
		assert.Equal(t, b.ack, th.AckNumber())
		assert.Equal(t, b.win, th.WindowSize())
		assert.Equal(t, b.flags, th.Flags())
		assert.Equal(t, b.tsval, header.ParseTCPOptions(th.Options()).TSVal)
		require.True(t, csum.Complete(frame), "the backend's completion of the partial checksum")
		assert.Equal(t, csum.Good, csum.Verify(frame, false))
		fp.DecRef()
		np.DecRef()
	}
}

func payloadOf(s seg) []byte {
	b := make([]byte, s.payload)
	for i := range b {
		b[i] = byte(s.seq + uint32(i))
	}
	return b
}

// Segments that wait behind one the device is busy with leave as one frame, and frames as one
// batch; each packet is still refunded once its frame is copied. txmerge=off and txbatch=
// turn either off.
func TestTxQueueMergesWaitingSegments(t *testing.T) {
	const seg3 = 3 * testMSS
	for _, c := range []struct {
		name    string
		merge   bool
		batch   int
		batches [][]int // frame sizes per batch
		merged  uint64
	}{
		{"merged, batched", true, 0, [][]int{{15 * seg3, 10 * seg3, seg3}}, 14 + 9},
		{"merged, one frame a batch", true, 1, [][]int{{15 * seg3}, {10 * seg3}, {seg3}}, 14 + 9},
		{"batched, not merged", false, 0, [][]int{sizesOf(16, seg3), sizesOf(10, seg3)}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			entered, busy := make(chan struct{}), make(chan struct{})
			var batches [][]int
			var payload []byte
			wrote := make(chan struct{}, 30)
			d := newTxQueues(fakeLink{func(frames []netfront.TxFrame, sz []int) {
				if sz[0] == 10 {
					close(entered)
					<-busy // the device is busy with this one while the segments queue
					return
				}
				batches = append(batches, append([]int(nil), sz...))
				for _, f := range frames {
					for _, p := range f.Parts {
						payload = append(payload, p...)
					}
				}
				wrote <- struct{}{}
			}}, c.merge, c.batch, 1, LimitsFor(0))
			defer d.Close()
			blocker := testPacket(header.UDPProtocolNumber, 10)
			require.Nil(t, d.WritePacket(blocker))
			blocker.DecRef()
			<-entered

			// 25 segments of 3 MSS of one flow (64 KiB holds 15 with their headers), then one
			// of another flow.
			var want []byte
			for i := range 26 {
				s := seg{seq: uint32(1000 + i*seg3), ack: 1, flags: header.TCPFlagAck, sport: 4000, payload: seg3}
				if i == 25 {
					s.sport++
				}
				want = append(want, payloadOf(s)...)
				pkt := s.build()
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
			assert.True(t, bytes.Equal(want, payload), "every byte, in order")
			assert.Equal(t, c.merged, d.merged.Load())
			assert.Zero(t, d.segments.Load(), "every segment refunded")
		})
	}
}

func sizesOf(n, size int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = size
	}
	return s
}
