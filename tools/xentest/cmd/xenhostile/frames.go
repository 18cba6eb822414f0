// Frame builders: Ethernet, ARP, IPv4, IPv6 with extension headers and fragments, UDP, TCP,
// ICMP and ICMPv6, byte by byte, so that any field can be made wrong on purpose.

package main

import (
	"encoding/binary"
	"net/netip"

	"github.com/tamaxen/tamaxen/internal/csum"
)

var be = binary.BigEndian

// EtherTypes and IP protocol (next header) numbers.
const (
	etherIPv4 = 0x0800
	etherARP  = 0x0806
	etherVLAN = 0x8100
	etherIPv6 = 0x86dd

	protoHopByHop = 0
	protoICMP     = 1
	protoTCP      = 6
	protoUDP      = 17
	protoRouting  = 43
	protoFragment = 44
	protoESP      = 50
	protoICMPv6   = 58
	protoNoNext   = 59
	protoDstOpts  = 60
)

// TCP flags.
const (
	tcpFIN = 1 << iota
	tcpSYN
	tcpRST
	tcpPSH
	tcpACK
)

// Offsets of the checksum field in each transport header.
const (
	udpCsumOff  = 6
	tcpCsumOff  = 16
	icmpCsumOff = 2
)

type mac [6]byte

var broadcastMAC = mac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// ether is an Ethernet frame (no FCS: the NIC adds it, and a vif has none).
func ether(dst, src mac, etherType uint16, payload []byte) []byte {
	f := make([]byte, 14+len(payload))
	copy(f[0:], dst[:])
	copy(f[6:], src[:])
	be.PutUint16(f[12:], etherType)
	copy(f[14:], payload)
	return f
}

// pseudoSum is the one's complement sum of the pseudo-header of a transport segment of length
// bytes: RFC 768/793 for IPv4, RFC 8200 section 8.1 for IPv6 (the final destination, the
// upper-layer length and next header, whatever extension headers come before it).
func pseudoSum(src, dst netip.Addr, proto uint8, length int) uint16 {
	b := make([]byte, 0, 40)
	b = append(b, src.AsSlice()...)
	b = append(b, dst.AsSlice()...)
	if src.Is4() {
		b = append(b, 0, proto, byte(length>>8), byte(length))
	} else {
		b = append(b, byte(length>>24), byte(length>>16), byte(length>>8), byte(length), 0, 0, 0, proto)
	}
	return csum.Sum(b, 0)
}

// setTransportChecksum fills the checksum field at off of seg, a whole TCP, UDP or ICMPv6
// segment, from the pseudo-header of src and dst.
func setTransportChecksum(src, dst netip.Addr, proto uint8, seg []byte, off int) {
	seg[off], seg[off+1] = 0, 0
	c := csum.Checksum(seg, pseudoSum(src, dst, proto, len(seg)))
	if proto == protoUDP && c == 0 {
		c = 0xffff // zero would say "no checksum" (RFC 768)
	}
	be.PutUint16(seg[off:], c)
}

// spoil makes the 16-bit checksum at off of b wrong. It never writes zero (no checksum at all
// for UDP over IPv4) or the other one's complement zero of a right value, either of which a
// receiver could accept.
func spoil(b []byte, off int) {
	good := be.Uint16(b[off:])
	bad := good ^ 0x5a5a
	if bad == 0 || bad == 0xffff || good == 0 || good == 0xffff {
		bad = good ^ 0x0f0f
	}
	be.PutUint16(b[off:], bad)
}

// udp is a UDP datagram from src to dst with a right checksum.
func udp(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	seg := make([]byte, 8+len(payload))
	be.PutUint16(seg[0:], sport)
	be.PutUint16(seg[2:], dport)
	be.PutUint16(seg[4:], uint16(len(seg)))
	copy(seg[8:], payload)
	setTransportChecksum(src, dst, protoUDP, seg, udpCsumOff)
	return seg
}

// tcpSeg describes a TCP segment; options are padded with end-of-list bytes to a multiple of 4.
type tcpSeg struct {
	sport, dport uint16
	seq, ack     uint32
	flags        uint8
	window       uint16
	options      []byte
	payload      []byte
}

// bytes is the segment from src to dst with a right checksum.
func (t tcpSeg) bytes(src, dst netip.Addr) []byte {
	hlen := 20 + (len(t.options)+3)/4*4
	seg := make([]byte, hlen+len(t.payload))
	be.PutUint16(seg[0:], t.sport)
	be.PutUint16(seg[2:], t.dport)
	be.PutUint32(seg[4:], t.seq)
	be.PutUint32(seg[8:], t.ack)
	seg[12] = byte(hlen/4) << 4
	seg[13] = t.flags
	w := t.window
	if w == 0 && t.flags&tcpRST == 0 {
		w = 64240
	}
	be.PutUint16(seg[14:], w)
	copy(seg[20:], t.options)
	copy(seg[hlen:], t.payload)
	setTransportChecksum(src, dst, protoTCP, seg, tcpCsumOff)
	return seg
}

// synOptions are the options of a Linux SYN: MSS 1460, SACK permitted, timestamps, window
// scale 7; 20 bytes, so a SYN is 40 bytes long and splits into 8-byte fragment units.
func synOptions(tsval uint32) []byte {
	o := []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7}
	be.PutUint32(o[8:], tsval)
	return o
}

// icmp4 is an ICMP message: type, code, the 4 bytes after the checksum, then body.
func icmp4(typ, code uint8, rest uint32, body []byte) []byte {
	m := make([]byte, 8+len(body))
	m[0], m[1] = typ, code
	be.PutUint32(m[4:], rest)
	copy(m[8:], body)
	be.PutUint16(m[2:], csum.Checksum(m, 0))
	return m
}

// icmp6 is an ICMPv6 message from src to dst (its checksum covers the pseudo-header).
func icmp6(src, dst netip.Addr, typ, code uint8, rest uint32, body []byte) []byte {
	m := make([]byte, 8+len(body))
	m[0], m[1] = typ, code
	be.PutUint32(m[4:], rest)
	copy(m[8:], body)
	setTransportChecksum(src, dst, protoICMPv6, m, icmpCsumOff)
	return m
}

// ip4 is an IPv4 header; packet writes it in front of a payload.
type ip4 struct {
	src, dst netip.Addr
	proto    uint8
	id       uint16
	ttl      uint8 // 0 means 64
	tos      uint8
	df, mf   bool
	fragOff  int    // in bytes; a fragment's offset is a multiple of 8
	options  []byte // padded with end-of-options bytes to a multiple of 4
}

func (h ip4) packet(payload []byte) []byte {
	ihl := 20 + (len(h.options)+3)/4*4
	p := make([]byte, ihl+len(payload))
	p[0] = 0x40 | byte(ihl/4)
	p[1] = h.tos
	be.PutUint16(p[2:], uint16(len(p)))
	be.PutUint16(p[4:], h.id)
	ff := uint16(h.fragOff/8) & 0x1fff
	if h.df {
		ff |= 0x4000
	}
	if h.mf {
		ff |= 0x2000
	}
	be.PutUint16(p[6:], ff)
	p[8] = h.ttl
	if p[8] == 0 {
		p[8] = 64
	}
	p[9] = h.proto
	copy(p[12:], h.src.AsSlice())
	copy(p[16:], h.dst.AsSlice())
	copy(p[20:], h.options)
	setIPv4Checksum(p)
	copy(p[ihl:], payload)
	return p
}

// setIPv4Checksum recomputes the header checksum of the IPv4 packet p after an edit, so that
// a packet made malformed on purpose has exactly one thing wrong with it.
func setIPv4Checksum(p []byte) {
	ihl := int(p[0]&0x0f) * 4
	if ihl < 12 || ihl > len(p) {
		return // no checksum field, or a header longer than the packet: left as it is
	}
	p[10], p[11] = 0, 0
	be.PutUint16(p[10:], csum.Checksum(p[:ihl], 0))
}

// fragments4 cuts the payload of an unfragmented IPv4 packet made from h into fragments of
// the given sizes (each but the last a multiple of 8; the last piece takes what is left).
func fragments4(h ip4, payload []byte, sizes ...int) [][]byte {
	var out [][]byte
	off := 0
	for i := 0; off < len(payload) || i == 0; i++ {
		n := len(payload) - off
		if i < len(sizes) && sizes[i] < n {
			n = sizes[i]
		}
		f := h
		f.fragOff = off
		f.mf = off+n < len(payload)
		out = append(out, f.packet(payload[off:off+n]))
		off += n
	}
	return out
}

// ip6 is an IPv6 header; packet writes it in front of a payload whose first header is next.
type ip6 struct {
	src, dst netip.Addr
	next     uint8
	hopLimit uint8 // 0 means 64
	flow     uint32
}

func (h ip6) packet(payload []byte) []byte {
	p := make([]byte, 40+len(payload))
	be.PutUint32(p[0:], 6<<28|h.flow&0xfffff)
	be.PutUint16(p[4:], uint16(len(payload)))
	p[6] = h.next
	p[7] = h.hopLimit
	if p[7] == 0 {
		p[7] = 64
	}
	copy(p[8:], h.src.AsSlice())
	copy(p[24:], h.dst.AsSlice())
	copy(p[40:], payload)
	return p
}

// ext6 is one IPv6 extension header in a chain; its next-header byte is filled by chain6.
type ext6 struct {
	kind uint8  // protoHopByHop, protoDstOpts, protoRouting, protoFragment, or anything
	body []byte // what follows the next-header and length bytes (all that follows next header, if raw)
	raw  bool   // body is taken as is: no length byte is written and no padding added
}

// opts6 is a hop-by-hop or destination options header holding options (TLV encoded by the
// caller), padded with a PadN option to a multiple of 8 bytes.
func opts6(kind uint8, options []byte) ext6 {
	body := append([]byte(nil), options...)
	if pad := (8 - (2+len(body))%8) % 8; pad == 1 {
		body = append(body, 0) // Pad1
	} else if pad > 1 {
		body = append(body, 1, byte(pad-2))
		body = append(body, make([]byte, pad-2)...)
	}
	return ext6{kind: kind, body: body}
}

// frag6 is a fragment header: offset in bytes (a multiple of 8), more fragments, id.
func frag6(off int, more bool, id uint32) ext6 {
	b := make([]byte, 7) // reserved, offset and M flag, identification
	v := uint16(off/8) << 3
	if more {
		v |= 1
	}
	be.PutUint16(b[1:], v)
	be.PutUint32(b[3:], id)
	return ext6{kind: protoFragment, body: b, raw: true}
}

// routing6 is a routing header of type typ with segments left and data after the 4 fixed bytes.
func routing6(typ, segLeft uint8, data []byte) ext6 {
	body := append([]byte{typ, segLeft, 0, 0, 0, 0}, data...)
	for (2+len(body))%8 != 0 {
		body = append(body, 0)
	}
	return ext6{kind: protoRouting, body: body}
}

// chain6 lays out extension headers in front of upper (whose protocol is last) and returns
// the first next-header value and the bytes.
func chain6(last uint8, upper []byte, exts ...ext6) (uint8, []byte) {
	next := last
	out := upper
	for i := len(exts) - 1; i >= 0; i-- {
		e := exts[i]
		var h []byte
		if e.raw {
			h = append([]byte{next}, e.body...)
		} else {
			n := 2 + len(e.body)
			h = append([]byte{next, byte((n+7)/8 - 1)}, e.body...)
		}
		out = append(h, out...)
		next = e.kind
	}
	return next, out
}

// fragments6 cuts the fragmentable part of an IPv6 packet (its first header is next) into
// fragments of the given sizes behind the unfragmentable extension headers, as fragments4
// does for IPv4.
func fragments6(h ip6, unfrag []ext6, next uint8, part []byte, id uint32, sizes ...int) [][]byte {
	var out [][]byte
	off := 0
	for i := 0; off < len(part) || i == 0; i++ {
		n := len(part) - off
		if i < len(sizes) && sizes[i] < n {
			n = sizes[i]
		}
		exts := append(append([]ext6(nil), unfrag...), frag6(off, off+n < len(part), id))
		first, b := chain6(next, part[off:off+n], exts...)
		f := h
		f.next = first
		out = append(out, f.packet(b))
		off += n
	}
	return out
}

// arp is an ARP packet for IPv4 over Ethernet.
func arp(op uint16, sha mac, spa netip.Addr, tha mac, tpa netip.Addr) []byte {
	p := make([]byte, 28)
	be.PutUint16(p[0:], 1) // Ethernet
	be.PutUint16(p[2:], etherIPv4)
	p[4], p[5] = 6, 4
	be.PutUint16(p[6:], op)
	copy(p[8:], sha[:])
	copy(p[14:], spa.AsSlice())
	copy(p[18:], tha[:])
	copy(p[24:], tpa.AsSlice())
	return p
}

// ndOption is a neighbour discovery option: type, then data padded to whole 8-byte units.
func ndOption(typ uint8, data []byte) []byte {
	n := (2 + len(data) + 7) / 8 * 8
	o := make([]byte, n)
	o[0], o[1] = typ, byte(n/8)
	copy(o[2:], data)
	return o
}

// solicitedNode is the solicited-node multicast address of a (RFC 4291 section 2.7.1).
func solicitedNode(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 11: 1, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}

// multicastMAC is the Ethernet address an IPv6 multicast address maps to (RFC 2464).
func multicastMAC(a netip.Addr) mac {
	b := a.As16()
	return mac{0x33, 0x33, b[12], b[13], b[14], b[15]}
}

// linkLocal is the EUI-64 link-local address of m (RFC 4291 appendix A).
func linkLocal(m mac) netip.Addr {
	return netip.AddrFrom16([16]byte{0xfe, 0x80, 8: m[0] ^ 2, 9: m[1], 10: m[2], 11: 0xff, 12: 0xfe, 13: m[3], 14: m[4], 15: m[5]})
}
