// Segment merging: consecutive TCP segments of one flow that wait together in an outgoing
// queue leave as one TSO frame.

package netstack

import (
	"bytes"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/tamaxen/tamaxen/netfront"
)

// Why: gVisor's TCP sends what its congestion window allows each time an ACK opens it, so a
// bulk sender's segments are only as large as what one ACK acknowledged (about 26 KB on Xen,
// where Linux sends 62 KB frames: it defers a TSO frame until a larger one fits). Every frame
// costs netfront a request and the backend a copy and a trip through dom0's bridge and TCP,
// and dom0 acknowledges per frame. When the backend is busy, several such segments wait in
// the queue one behind the other; they are contiguous, so they leave as one frame of up to
// 64 KiB, which the backend segments exactly as it would have segmented each one. Nothing
// waits for a merge: only segments already queued together are joined.
//
// The checksum is left to the backend, so only segments that go out with checksum offload and
// TSO are merged: gVisor marks those with GSO options.

// maxMergedFrame bounds a merged frame, headers included: XEN_NETIF_MAX_TX_SIZE, and the
// largest IPv4 total length.
const maxMergedFrame = 0xffff

// maxMergedParts bounds the pieces a merged frame is gathered from (its headers and its
// segments' payload views), so that they fit an array on the queue goroutine's stack.
const maxMergedParts = 64

// mergeable reports whether pkt may start or join a merged frame: a TCP segment carrying
// payload, with TSO options, plain ACK or ACK|PSH flags, and headers the merge understands
// (Ethernet, IPv4 without options or IPv6 without extension headers, TCP).
func mergeable(pkt *stack.PacketBuffer) bool {
	g := pkt.GSOOptions
	if pkt.TransportProtocolNumber != header.TCPProtocolNumber || g.MSS == 0 ||
		(g.Type != stack.GSOTCPv4 && g.Type != stack.GSOTCPv6) || pkt.Data().Size() == 0 {
		return false
	}
	if len(pkt.LinkHeader().Slice()) != header.EthernetMinimumSize {
		return false
	}
	nh := pkt.NetworkHeader().Slice()
	switch pkt.NetworkProtocolNumber {
	case header.IPv4ProtocolNumber:
		if len(nh) != header.IPv4MinimumSize || header.IPv4(nh).HeaderLength() != header.IPv4MinimumSize ||
			header.IPv4(nh).Protocol() != uint8(header.TCPProtocolNumber) {
			return false
		}
	case header.IPv6ProtocolNumber:
		if len(nh) != header.IPv6MinimumSize || header.IPv6(nh).NextHeader() != uint8(header.TCPProtocolNumber) {
			return false
		}
	default:
		return false
	}
	th := header.TCP(pkt.TransportHeader().Slice())
	if len(th) < header.TCPMinimumSize || int(th.DataOffset()) != len(th) {
		return false
	}
	return th.Flags()&^(header.TCPFlagAck|header.TCPFlagPsh) == 0 && th.Flags()&header.TCPFlagAck != 0
}

// canMerge reports whether next continues prev's flow directly, prev being the last segment
// of a frame of size bytes in parts pieces so far: same link and IP addresses, ports, MSS and
// header sizes, next's sequence number right after prev's payload, which must be whole
// segments (so that the backend cuts the frame where TCP cut it), and the frame within
// maxMergedFrame bytes and maxParts pieces once next joins.
func canMerge(prev, next *stack.PacketBuffer, size, parts int) bool {
	if !mergeable(next) || next.NetworkProtocolNumber != prev.NetworkProtocolNumber ||
		next.GSOOptions.Type != prev.GSOOptions.Type || next.GSOOptions.MSS != prev.GSOOptions.MSS {
		return false
	}
	pd := prev.Data().Size()
	if pd%int(prev.GSOOptions.MSS) != 0 || size+next.Data().Size() > maxMergedFrame ||
		parts+payloadViews(next) > maxMergedParts {
		return false
	}
	if !bytes.Equal(prev.LinkHeader().Slice(), next.LinkHeader().Slice()) {
		return false
	}
	pn, nn := prev.NetworkHeader().Slice(), next.NetworkHeader().Slice()
	switch prev.NetworkProtocolNumber {
	case header.IPv4ProtocolNumber:
		a, b := header.IPv4(pn), header.IPv4(nn)
		at, _ := a.TOS()
		bt, _ := b.TOS()
		if a.SourceAddress() != b.SourceAddress() || a.DestinationAddress() != b.DestinationAddress() ||
			at != bt || a.TTL() != b.TTL() {
			return false
		}
	default:
		a, b := header.IPv6(pn), header.IPv6(nn)
		if a.SourceAddress() != b.SourceAddress() || a.DestinationAddress() != b.DestinationAddress() {
			return false
		}
	}
	pt, nt := header.TCP(prev.TransportHeader().Slice()), header.TCP(next.TransportHeader().Slice())
	return pt.SourcePort() == nt.SourcePort() && pt.DestinationPort() == nt.DestinationPort() &&
		len(pt) == len(nt) && pt.SequenceNumber()+uint32(pd) == nt.SequenceNumber()
}

// maxMergedHeader is the largest header a merged frame carries: Ethernet, IPv6, TCP.
const maxMergedHeader = header.EthernetMinimumSize + header.IPv6MinimumSize + tcpMaxHeader

// mergedHeader writes into dst, and returns, the headers of the frame that joins segs (each
// after the one before, as canMerge checked) with payload bytes in all: the last segment's
// headers (its acknowledgement, window and timestamps are the newest) with the first one's
// sequence number, the frame's IP length, its IPv4 header checksum and the TCP pseudo-header
// sum the backend completes (NETTXF_csum_blank). The segments themselves are not modified:
// gVisor still reads them after handing them over.
func mergedHeader(dst *[maxMergedHeader]byte, first, last *stack.PacketBuffer, payload int) []byte {
	b := append(dst[:0], last.LinkHeader().Slice()...)
	nh := len(b)
	b = append(b, last.NetworkHeader().Slice()...)
	th := len(b)
	b = append(b, last.TransportHeader().Slice()...)
	tcp := header.TCP(b[th:])
	tcp.SetSequenceNumber(header.TCP(first.TransportHeader().Slice()).SequenceNumber())
	tcpLen := uint16(len(tcp) + payload)
	var src, dst4or6 tcpip.Address
	if first.NetworkProtocolNumber == header.IPv4ProtocolNumber {
		ip := header.IPv4(b[nh:th])
		ip.SetTotalLength(uint16(len(ip)) + tcpLen)
		ip.SetChecksum(0)
		ip.SetChecksum(^checksum.Checksum(ip, 0))
		src, dst4or6 = ip.SourceAddress(), ip.DestinationAddress()
	} else {
		ip := header.IPv6(b[nh:th])
		ip.SetPayloadLength(tcpLen)
		src, dst4or6 = ip.SourceAddress(), ip.DestinationAddress()
	}
	tcp.SetChecksum(header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst4or6, tcpLen))
	return b
}

// mergedFrame makes segs (two or more, each joining the one before: canMerge) into one TSO
// frame gathered into s, and returns it with its size; false if its pieces do not fit s (the
// queue counted them: never).
func (e *Endpoint) mergedFrame(s *txFrameStore, segs []*stack.PacketBuffer) (netfront.TxFrame, int, bool) {
	first, last := segs[0], segs[len(segs)-1]
	payload := 0
	for _, p := range segs {
		payload += p.Data().Size()
	}
	parts := append(s.parts[:0], mergedHeader(&s.hdr, first, last, payload))
	for _, p := range segs {
		vl, off := p.AsViewList()
		var ok bool
		if parts, ok = appendViews(parts, vl, off+p.HeaderSize(), len(s.parts)); !ok {
			return netfront.TxFrame{}, 0, false
		}
	}
	m := netfront.TxMeta{CsumBlank: true, GSOSize: first.GSOOptions.MSS, GSOType: netfront.GSOTCPv4}
	if first.GSOOptions.Type == stack.GSOTCPv6 {
		m.GSOType = netfront.GSOTCPv6
	}
	return netfront.TxFrame{Parts: parts, Meta: m}, len(parts[0]) + payload, true
}

// payloadViews is how many views pkt's payload is held in (the pieces writeMerged gathers).
func payloadViews(pkt *stack.PacketBuffer) int {
	vl, skip := pkt.AsViewList()
	skip += pkt.HeaderSize()
	n := 0
	for v := vl.Front(); v != nil; v = v.Next() {
		if l := v.Size(); skip >= l {
			skip -= l
			continue
		}
		skip = 0
		n++
	}
	return n
}

// merges reports whether segments may join into one frame: when the backend takes TSO and
// checksum offload for both families (gVisor then gives the segments GSO options).
func (e *Endpoint) merges() bool { return e.off.gso }
