package netstack

import (
	"math"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/tamaxen/tamaxen/netfront"
)

// spy records, for the last TCP or UDP packet the stack parsed, whether its checksum is right
// by a computation independent of gVisor's (csum over the pseudo-header and the segment).
type spy struct {
	tcpValid, udpValid   bool
	tcpMarked, udpMarked bool // marked verified by the endpoint's checked set
	tcpSeen, udpSeen     int
}

func (s *spy) record(pkt *stack.PacketBuffer, proto uint8) {
	var src, dst []byte
	switch pkt.NetworkProtocolNumber {
	case header.IPv4ProtocolNumber:
		ip := header.IPv4(pkt.NetworkHeader().Slice())
		src, dst = ip.SourceAddressSlice(), ip.DestinationAddressSlice()
	case header.IPv6ProtocolNumber:
		ip := header.IPv6(pkt.NetworkHeader().Slice())
		src, dst = ip.SourceAddressSlice(), ip.DestinationAddressSlice()
	default:
		return
	}
	seg := append(append([]byte(nil), pkt.TransportHeader().Slice()...), pkt.Data().AsRange().ToSlice()...)
	ok := transportSum(src, dst, proto, seg) == 0xffff
	if proto == 17 {
		// IPv4 UDP may go without a checksum.
		ok = ok || pkt.NetworkProtocolNumber == header.IPv4ProtocolNumber && len(seg) >= 8 && seg[6] == 0 && seg[7] == 0
		s.udpValid, s.udpMarked, s.udpSeen = ok, pkt.RXChecksumValidated, s.udpSeen+1
	} else {
		s.tcpValid, s.tcpMarked, s.tcpSeen = ok, pkt.RXChecksumValidated, s.tcpSeen+1
	}
}

type spyTCP struct {
	checkedTCP
	s *spy
}

func (t spyTCP) Parse(pkt *stack.PacketBuffer) bool {
	ok := t.checkedTCP.Parse(pkt)
	if ok {
		t.s.record(pkt, 6)
	}
	return ok
}

type spyUDP struct {
	checkedUDP
	s *spy
}

func (t spyUDP) Parse(pkt *stack.PacketBuffer) bool {
	ok := t.checkedUDP.Parse(pkt)
	if ok {
		t.s.record(pkt, 17)
	}
	return ok
}

// FuzzDeliver feeds frames from a hostile backend, with any offload flags, through the
// endpoint into a gVisor stack with a dual-stack UDP socket and a TCP listener. Nothing may
// panic whatever the frame claims, and its oracle: no TCP segment or UDP datagram with a wrong
// checksum reaches a socket, whether it arrived whole, completed a reassembly, or sat behind
// IPv6 extension headers, unless the backend vouched for the frame that carried it whole (the
// one case where its word is taken, and then the endpoint must have marked it). Each frame is
// delivered alone: fragments complete a reassembly across inputs, so the fragment budget is
// lifted for the fuzzer.
func FuzzDeliver(f *testing.F) {
	sp := &spy{}
	rig := newRxRig(f, func(e *Endpoint) []stack.TransportProtocolFactory {
		return []stack.TransportProtocolFactory{
			func(s *stack.Stack) stack.TransportProtocol {
				return spyTCP{e.TransportProtocols()[0](s).(checkedTCP), sp}
			},
			func(s *stack.Stack) stack.TransportProtocol {
				return spyUDP{e.TransportProtocols()[1](s).(checkedUDP), sp}
			},
		}
	})
	rig.e.frags.limit = math.MaxInt
	p4, g4, p6, g6 := peer4[:], guest4[:], peer6[:], guest6[:]
	arpReq := append([]byte("\xff\xff\xff\xff\xff\xff\x00\x16\x3e\x00\x00\x01\x08\x06"),
		0, 1, 8, 0, 6, 4, 0, 1, 0, 0x16, 0x3e, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2)
	seeds := [][]byte{arpReq, ipv6Frame(17, nil)}
	for _, bad := range []bool{false, true} {
		seeds = append(seeds, ipv4Frames(17, udpSeg(p4, g4, "whole", bad), 0, 1)...)
		seeds = append(seeds, ipv4Frames(17, udpSeg(p4, g4, "in two fragments", bad), 16, 2)...)
		seeds = append(seeds, ipv4Frames(6, synSeg(p4, g4, bad), 0, 3)...)
		seeds = append(seeds, ipv4Frames(6, synSeg(p4, g4, bad), 16, 4)...)
		seeds = append(seeds, ipv6Frames(17, udpSeg(p6, g6, "whole", bad), false, 0, 0)...)
		seeds = append(seeds, ipv6Frames(17, udpSeg(p6, g6, "options, fragments", bad), true, 16, 5)...)
		seeds = append(seeds, ipv6Frames(6, synSeg(p6, g6, bad), true, 0, 0)...)
	}
	for _, seed := range seeds {
		f.Add(seed, false, false, uint8(0), uint16(0))
		f.Add(seed, true, true, uint8(1), uint16(1448))
	}
	f.Fuzz(func(t *testing.T, frame []byte, validated, blank bool, gsoType uint8, gsoSize uint16) {
		tcp0, udp0 := sp.tcpSeen, sp.udpSeen
		valid0, _ := rig.tcpCounts()
		rig.e.Deliver(frame, netfront.RxMeta{DataValidated: validated, CsumBlank: blank, GSOType: gsoType, GSOSize: gsoSize})
		valid, _ := rig.tcpCounts()
		_, gotUDP := rig.readUDP()
		for ok := gotUDP; ok; _, ok = rig.readUDP() {
		}
		vouched := validated || blank
		if valid > valid0 && (sp.tcpSeen == tcp0 || !sp.tcpValid && !(vouched && sp.tcpMarked)) {
			t.Fatalf("a TCP segment with a wrong checksum was accepted (vouched %v): %x", vouched, frame)
		}
		if gotUDP && (sp.udpSeen == udp0 || !sp.udpValid && !(vouched && sp.udpMarked)) {
			t.Fatalf("a UDP datagram with a wrong checksum reached the socket (vouched %v): %x", vouched, frame)
		}
	})
}
