// Package csum checks and completes the checksums of Ethernet frames carrying IP: the
// Internet checksum itself (Sum, Checksum, PseudoHeader), a per-frame verdict for link
// endpoints that tell their stack which frames need no further checking, and the completion
// of partial (offloaded) checksums. It is the module's one Internet checksum: the DHCP
// client, the simulated netback, the examples that answer raw frames and the tools all use it.
package csum

import (
	"encoding/binary"
	"math/bits"
)

// Sum adds b to the one's complement sum initial, as RFC 1071 defines it (b is taken as
// big-endian 16-bit words, an odd last byte padded with zero), and returns the folded sum.
func Sum(b []byte, initial uint16) uint16 {
	acc := uint64(initial)
	var carry uint64
	for len(b) >= 8 {
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b), carry)
		b = b[8:]
	}
	for len(b) >= 2 {
		acc, carry = bits.Add64(acc, uint64(binary.BigEndian.Uint16(b)), carry)
		b = b[2:]
	}
	if len(b) == 1 {
		acc, carry = bits.Add64(acc, uint64(b[0])<<8, carry)
	}
	acc, carry = bits.Add64(acc, carry, 0) // the end-around carry
	acc += carry
	// Fold 64 bits to 16.
	acc = (acc >> 32) + (acc & 0xffffffff)
	acc = (acc >> 32) + (acc & 0xffffffff)
	acc = (acc >> 16) + (acc & 0xffff)
	acc = (acc >> 16) + (acc & 0xffff)
	acc = (acc >> 16) + (acc & 0xffff)
	return uint16(acc)
}

// Checksum is what a checksum field holds for b: the complement of its sum over initial (the
// pseudo-header's sum, or 0). Over bytes that include a correct checksum field it is 0.
func Checksum(b []byte, initial uint16) uint16 { return ^Sum(b, initial) }

// PseudoHeader returns the sum of a transport segment's pseudo-header (RFC 768, RFC 8200
// section 8.1): addrs is the source then destination address as the IP header holds them
// (ip[12:20] of IPv4, ip[8:40] of IPv6), proto the transport protocol and length the
// segment's length.
func PseudoHeader(addrs []byte, proto uint8, length int) uint16 {
	return combine(combine(Sum(addrs, 0), uint16(proto)), uint16(length))
}

// combine adds two one's complement sums.
func combine(a, b uint16) uint16 {
	s := uint32(a) + uint32(b)
	return uint16(s + s>>16)
}

// IP protocol numbers whose checksums are verified.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
)

// Verdict is what Verify concluded about a received frame's checksums.
type Verdict uint8

const (
	// Unchecked: Verify could not judge the transport checksum (an IPv4 fragment, whose
	// checksum covers the reassembled datagram; an IPv6 extension header chain; a frame too
	// malformed to find it; not IP at all). The stack must verify it itself, after reassembly.
	Unchecked Verdict = iota
	// Good: every checksum the frame carries is right, or the backend vouched for the
	// transport checksum and the IPv4 header checksum (which it never vouches for) is right.
	Good
	// Bad: a checksum is wrong; the frame must be dropped.
	Bad
)

func (v Verdict) String() string {
	switch v {
	case Good:
		return "good"
	case Bad:
		return "bad"
	}
	return "unchecked"
}

// Verify checks a received Ethernet frame's checksums for a stack that skips verifying the
// frames it is told are good. It checks the IPv4 header checksum always (netback's flags speak
// only of the transport checksum), and the TCP, UDP, ICMP and ICMPv6 checksums unless
// validated is set (NETRXF_data_validated, or csum_blank: a local sender left it for offload).
// A frame it cannot judge is Unchecked, never Good: fragments are exactly where a per-frame
// promise breaks, and so would be a routing header (the pseudo-header then names the final
// destination).
func Verify(frame []byte, validated bool) Verdict {
	if len(frame) < 14 {
		return Bad
	}
	p, ok := parse(frame)
	switch {
	case !ok:
		return Unchecked // not IP, or malformed: the stack drops what it cannot parse
	case !p.headerOK:
		return Bad
	case p.fragment || p.routed:
		return Unchecked // only the reassembled datagram can be checked
	}
	switch p.proto {
	case protoICMP:
		if validated {
			return Good
		}
		return verdict(Sum(p.seg, 0) == 0xffff)
	case protoTCP, protoUDP, protoICMPv6:
		if validated || p.v4 && p.proto == protoUDP && len(p.seg) >= 8 && p.seg[6] == 0 && p.seg[7] == 0 {
			return Good // vouched for, or IPv4 UDP sent without a checksum
		}
		return verdict(Sum(p.seg, p.pseudo) == 0xffff)
	}
	return Unchecked
}

func verdict(ok bool) Verdict {
	if ok {
		return Good
	}
	return Bad
}

// Fragment reports whether a frame carries an IPv4 fragment or an IPv6 packet with a fragment
// header (behind whatever extension headers precede it).
func Fragment(frame []byte) bool {
	p, ok := parse(frame)
	return ok && p.fragment
}

// maxExtHeaders bounds the IPv6 extension headers walked: a longer chain is left Unchecked.
const maxExtHeaders = 8

// packet is what parse finds in a frame.
type packet struct {
	v4       bool
	headerOK bool   // the IPv4 header checksum is right (always true for IPv6)
	fragment bool   // an IPv4 fragment, or an IPv6 fragment header
	routed   bool   // an IPv6 routing header
	proto    uint8  // the transport protocol (the last next-header)
	seg      []byte // the transport bytes (of this fragment, for a fragment)
	pseudo   uint16 // the sum of the pseudo-header, length and protocol included
}

// parse finds the transport bytes of an Ethernet frame carrying IPv4 or IPv6, walking IPv6's
// hop-by-hop, routing, destination-options and fragment headers; ok is false when the frame
// is not IP or its lengths do not hold. The transport bytes are found for a fragment too (the
// first one's hold the transport header), but only a whole datagram's can be checked.
func parse(frame []byte) (p packet, ok bool) {
	if len(frame) < 14 {
		return p, false
	}
	ip := frame[14:]
	switch binary.BigEndian.Uint16(frame[12:]) {
	case 0x0800:
		if len(ip) < 20 || ip[0]>>4 != 4 {
			return p, false
		}
		ihl := int(ip[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(ip[2:]))
		if ihl < 20 || total < ihl || total > len(ip) {
			return p, false
		}
		p.v4 = true
		p.headerOK = Sum(ip[:ihl], 0) == 0xffff
		p.fragment = binary.BigEndian.Uint16(ip[6:])&0x3fff != 0
		p.proto, p.seg = ip[9], ip[ihl:total]
		p.pseudo = PseudoHeader(ip[12:20], p.proto, len(p.seg))
	case 0x86dd:
		if len(ip) < 40 || ip[0]>>4 != 6 {
			return p, false
		}
		plen := int(binary.BigEndian.Uint16(ip[4:]))
		if 40+plen > len(ip) {
			return p, false
		}
		p.headerOK = true
		nh, rest := ip[6], ip[40:40+plen]
		for i := 0; ; i++ {
			if i == maxExtHeaders {
				return p, false
			}
			var n int
			switch nh {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(rest) < 8 {
					return p, false
				}
				n = (int(rest[1]) + 1) * 8
				p.routed = p.routed || nh == 43
			case 44: // fragment
				n = 8
				p.fragment = true
			default:
				p.proto, p.seg = nh, rest
				p.pseudo = PseudoHeader(ip[8:40], p.proto, len(p.seg))
			}
			if n == 0 {
				break
			}
			if n > len(rest) {
				return p, false
			}
			nh, rest = rest[0], rest[n:]
		}
	default:
		return p, false
	}
	return p, true
}

// l4 finds the transport bytes of a whole (unfragmented, unrouted) IPv4 or IPv6 datagram,
// with the pseudo-header's sum; ok is false for anything else.
func l4(frame []byte) (proto uint8, seg []byte, pseudo uint16, ok bool) {
	p, ok := parse(frame)
	if !ok || p.fragment || p.routed {
		return 0, nil, 0, false
	}
	return p.proto, p.seg, p.pseudo, true
}

// Complete finishes the partial TCP or UDP checksum of a frame sent with csum_blank, as
// Linux's skb_checksum_help does for CHECKSUM_PARTIAL: the field holds the pseudo-header sum
// and the whole segment is summed over it. It reports false for a frame that has no such
// field (not TCP or UDP over IP, or truncated).
func Complete(frame []byte) bool {
	proto, seg, _, ok := l4(frame)
	field := 0
	switch {
	case !ok:
		return false
	case proto == protoTCP && len(seg) >= 20:
		field = 16
	case proto == protoUDP && len(seg) >= 8:
		field = 6
	default:
		return false
	}
	sum := Checksum(seg, 0)
	if sum == 0 && proto == protoUDP {
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(seg[field:], sum)
	return true
}

// Valid reports whether a frame's TCP or UDP checksum is right against its pseudo-header
// (false when there is none to check).
func Valid(frame []byte) bool {
	proto, seg, pseudo, ok := l4(frame)
	if !ok || proto != protoTCP && proto != protoUDP {
		return false
	}
	return Sum(seg, pseudo) == 0xffff
}

// Pseudo returns the pseudo-header sum (addresses, protocol, length) of an IPv4 or IPv6
// frame's transport segment: what a CHECKSUM_PARTIAL field holds. 0 if the frame has none.
func Pseudo(frame []byte) uint16 {
	_, _, pseudo, ok := l4(frame)
	if !ok {
		return 0
	}
	return pseudo
}
