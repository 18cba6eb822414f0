// The malformed frames: runts and giants, broken IPv4 and IPv6 headers and lengths, fragments
// that overlap or never complete, IPv6 extension header chains, garbage ARP, ND and ICMP.
// Each generator returns the frames for one guest; nothing here touches a socket.

package main

import (
	"math/rand/v2"
	"net/netip"
)

// gen makes the frames of one kind for target t, from dom0 (s); n scales the counts.
type gen struct {
	r *rand.Rand
	s self
	t *target
	n float64
}

// count is base scaled by -scale, at least 1.
func (g *gen) count(base int) int { return max(1, int(float64(base)*g.n)) }

func (g *gen) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return b
}

// to4 and to6 frame an IPv4 or IPv6 packet from dom0 to the guest.
func (g *gen) to4(p []byte) []byte { return ether(g.t.mac, g.s.mac, etherIPv4, p) }
func (g *gen) to6(p []byte) []byte { return ether(g.t.mac, g.s.mac, etherIPv6, p) }

// udp4 is a well-formed IPv4 UDP packet from dom0 to the guest's UDP port.
func (g *gen) udp4(payload []byte) []byte {
	h := ip4{src: g.s.ip4, dst: g.t.ip4, proto: protoUDP, id: uint16(g.r.Uint32())}
	return h.packet(udp(g.s.ip4, g.t.ip4, uint16(1024+g.r.IntN(60000)), g.t.udpPort(g.r), payload))
}

// udp6 is a well-formed IPv6 UDP packet from dom0 to the guest's UDP port.
func (g *gen) udp6(payload []byte) []byte {
	h := ip6{src: g.s.ip6, dst: g.t.ip6, next: protoUDP}
	return h.packet(udp(g.s.ip6, g.t.ip6, uint16(1024+g.r.IntN(60000)), g.t.udpPort(g.r), payload))
}

func (g *gen) syn(src, dst netip.Addr, dport uint16) []byte {
	return tcpSeg{sport: uint16(1024 + g.r.IntN(60000)), dport: dport, seq: g.r.Uint32(), flags: tcpSYN,
		options: synOptions(g.r.Uint32())}.bytes(src, dst)
}

// runts: frames of 14 to 59 bytes (shorter than Ethernet's minimum; the kernel refuses to
// send less than a header), of every EtherType the guest might look at, garbage or the first
// bytes of a valid packet.
func runts(g *gen) [][]byte {
	var out [][]byte
	types := []uint16{etherIPv4, etherIPv6, etherARP, etherVLAN, 0x88a8, 0x88cc, 0x0000, 0x05dc, 0xffff}
	valid := map[uint16][]byte{
		etherIPv4: g.udp4(g.bytes(32)),
		etherIPv6: g.udp6(g.bytes(32)),
		etherARP:  arp(1, g.s.mac, g.s.ip4, mac{}, g.t.ip4),
		etherVLAN: append([]byte{0, 1, 0x08, 0}, g.udp4(g.bytes(16))...),
	}
	for range g.count(2) {
		for _, et := range types {
			for n := 14; n < 60; n++ {
				var body []byte
				if v, ok := valid[et]; ok && g.r.IntN(2) == 0 {
					body = v[:min(len(v), n-14)]
				} else {
					body = g.bytes(n - 14)
				}
				out = append(out, ether(g.t.mac, g.s.mac, et, body))
			}
		}
	}
	return out
}

// giantMax is the longest frame sent: a 9000-byte MTU's.
const giantMax = 9014

// giants: frames longer than the guest's MTU (the vif's MTU is raised for them): valid UDP
// datagrams of up to 9000 bytes, IPv4 and IPv6 headers claiming more than the frame holds or
// much less, and garbage.
func giants(g *gen) [][]byte {
	var out [][]byte
	for i := range g.count(20) {
		size := 1473 + g.r.IntN(giantMax-14-48-1473) // UDP payload: the frame stays within giantMax
		out = append(out, g.to4(g.udp4(g.bytes(size))))
		out = append(out, g.to6(g.udp6(g.bytes(size))))
		p := g.udp4(g.bytes(size))
		be.PutUint16(p[2:], uint16(65535-i))
		setIPv4Checksum(p)
		out = append(out, g.to4(p))
		p = g.udp4(g.bytes(64))
		out = append(out, g.to4(append(p, g.bytes(size-64)...))) // Ethernet "padding" of KBs
		q := g.udp6(g.bytes(size))
		be.PutUint16(q[4:], 65535)
		out = append(out, g.to6(q))
		out = append(out, ether(g.t.mac, g.s.mac, uint16(g.r.Uint32()), g.bytes(size)))
		out = append(out, ether(g.t.mac, g.s.mac, etherIPv4, g.bytes(size)))
	}
	return out
}

// badIPv4 edits a valid packet (UDP to the echo port, or a SYN) so that exactly one thing is
// wrong with it: version, header length, total length, header checksum, source or destination
// address, options, protocol, flags, or the UDP and TCP headers inside.
func badIPv4(g *gen) [][]byte {
	type edit func(p []byte) []byte
	fix := func(f func(p []byte)) edit {
		return func(p []byte) []byte { f(p); setIPv4Checksum(p); return p }
	}
	addr := func(off int, a string) edit {
		return fix(func(p []byte) { copy(p[off:], netip.MustParseAddr(a).AsSlice()) })
	}
	withOptions := func(opts ...byte) edit {
		return func(p []byte) []byte {
			h := ip4{src: g.s.ip4, dst: g.t.ip4, proto: protoUDP, id: uint16(g.r.Uint32()), options: opts}
			return h.packet(p[20:])
		}
	}
	edits := []edit{
		fix(func(p []byte) { p[0] = 0x65 }), // version 6
		fix(func(p []byte) { p[0] = 0x05 }), // version 0
		func(p []byte) []byte { p[0] = 0x40; return p },
		func(p []byte) []byte { p[0] = 0x42; return p },
		fix(func(p []byte) { p[0] = 0x44 }), // IHL 16 bytes
		fix(func(p []byte) { p[0] = 0x4f }), // IHL 60 bytes in a short packet
		fix(func(p []byte) { be.PutUint16(p[2:], uint16(len(p)+100)) }),
		fix(func(p []byte) { be.PutUint16(p[2:], 65535) }),
		fix(func(p []byte) { be.PutUint16(p[2:], 12) }),
		fix(func(p []byte) { be.PutUint16(p[2:], 0) }),
		fix(func(p []byte) { be.PutUint16(p[2:], 24) }), // cuts the UDP header
		func(p []byte) []byte { spoil(p, 10); return p },
		fix(func(p []byte) { p[6] |= 0x80 }),              // the reserved flag
		fix(func(p []byte) { p[6] |= 0x60; p[7] = 0x10 }), // DF and MF with an offset
		fix(func(p []byte) { p[8] = 0 }),                  // TTL 0
		addr(12, "255.255.255.255"), addr(12, "0.0.0.0"), addr(12, "127.0.0.1"),
		addr(12, "224.0.0.1"), addr(12, "10.0.0.255"),
		addr(16, "10.0.0.99"), addr(16, "127.0.0.1"), addr(16, "0.0.0.0"), addr(16, "224.0.0.251"),
		addr(16, "240.0.0.1"),
		fix(func(p []byte) { p[9] = 0 }), fix(func(p []byte) { p[9] = 2 }), // HOPOPT, IGMP garbage
		fix(func(p []byte) { p[9] = 41 }), fix(func(p []byte) { p[9] = 47 }), // 6in4, GRE
		fix(func(p []byte) { p[9] = 253 }), fix(func(p []byte) { p[9] = 255 }),
		withOptions(0, 0, 0, 0),                // end of options
		withOptions(0x44, 40, 5, 0),            // timestamp longer than the header
		withOptions(0x07, 39, 4, 0),            // record route longer than the header
		withOptions(0x83, 7, 4, 10, 0, 0, 99),  // loose source route
		withOptions(0x89, 7, 4, 198, 18, 0, 1), // strict source route
		withOptions(0x44, 0, 0, 0),             // option length 0
		withOptions(0x44, 1, 0, 0),             // option length 1
		withOptions(0xff, 2, 0, 0),             // unknown option
		withOptions(0x94, 4, 0, 0),             // router alert
		withOptions(0x44, 255, 5, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
			17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36),
		fix(func(p []byte) { be.PutUint16(p[24:], 200) }), // UDP length past the datagram
		fix(func(p []byte) { be.PutUint16(p[24:], 4) }),   // UDP length under its header
		fix(func(p []byte) { be.PutUint16(p[22:], 0) }),   // UDP to port 0
	}
	tcpEdits := []func(s []byte){
		func(s []byte) { s[13] = tcpSYN | tcpFIN },
		func(s []byte) { s[13] = 0 },
		func(s []byte) { s[13] = 0xff },
		func(s []byte) { s[12] = 0x20 },                     // data offset 2
		func(s []byte) { s[12] = 0xf0 },                     // data offset 15 in a 40-byte segment
		func(s []byte) { s[20] = 2; s[21] = 0 },             // MSS option of length 0
		func(s []byte) { s[20] = 3; s[21] = 3; s[22] = 99 }, // window scale 99
		func(s []byte) { be.PutUint16(s[2:], 0) },           // port 0
		func(s []byte) { s[13] = tcpSYN | tcpRST },
	}
	var out [][]byte
	for range g.count(6) {
		for _, e := range edits {
			out = append(out, g.to4(e(g.udp4(g.bytes(8+g.r.IntN(64))))))
		}
		for _, e := range tcpEdits {
			seg := g.syn(g.s.ip4, g.t.ip4, g.t.tcpPort(g.r))
			e(seg)
			setTransportChecksum(g.s.ip4, g.t.ip4, protoTCP, seg, tcpCsumOff)
			out = append(out, g.to4(ip4{src: g.s.ip4, dst: g.t.ip4, proto: protoTCP, id: uint16(g.r.Uint32())}.packet(seg)))
		}
		// LAND: a SYN from the guest's own address and port to itself.
		port := g.t.tcpPort(g.r)
		land := tcpSeg{sport: port, dport: port, seq: g.r.Uint32(), flags: tcpSYN}.bytes(g.t.ip4, g.t.ip4)
		out = append(out, g.to4(ip4{src: g.t.ip4, dst: g.t.ip4, proto: protoTCP}.packet(land)))
	}
	return out
}

// badIPv6 does for IPv6 what badIPv4 does for IPv4.
func badIPv6(g *gen) [][]byte {
	type edit func(p []byte) []byte
	addr := func(off int, a string) edit {
		return func(p []byte) []byte {
			copy(p[off:], netip.MustParseAddr(a).AsSlice())
			return p
		}
	}
	edits := []edit{
		func(p []byte) []byte { p[0] = 0x40 | p[0]&0x0f; return p }, // version 4
		func(p []byte) []byte { p[0] = 0x00; return p },
		func(p []byte) []byte { be.PutUint16(p[4:], uint16(len(p)+100)); return p },
		func(p []byte) []byte { be.PutUint16(p[4:], 65535); return p },
		func(p []byte) []byte { be.PutUint16(p[4:], 0); return p }, // a jumbogram without its option
		func(p []byte) []byte { be.PutUint16(p[4:], 4); return p }, // cuts the UDP header
		func(p []byte) []byte { p[7] = 0; return p },               // hop limit 0
		func(p []byte) []byte { p[6] = protoNoNext; return p },     // "no next header", then data
		func(p []byte) []byte { p[6] = 253; return p },
		func(p []byte) []byte { p[6] = protoESP; return p },
		func(p []byte) []byte { p[6] = protoHopByHop; return p }, // a UDP header read as hop-by-hop
		func(p []byte) []byte { p[6] = protoFragment; return p },
		func(p []byte) []byte { p[6] = 4; return p }, // IPv4 in IPv6
		addr(8, "ff02::1"), addr(8, "::1"), addr(8, "::"), addr(8, "::ffff:10.0.0.1"),
		addr(24, "fd00::99"), addr(24, "ff02::1"), addr(24, "ff05::1"), addr(24, "::1"),
		addr(24, "fe80::1"), addr(24, "::ffff:10.0.0.3"),
		func(p []byte) []byte { be.PutUint16(p[44:], 300); return p }, // UDP length past the end
		func(p []byte) []byte { be.PutUint16(p[44:], 3); return p },
	}
	var out [][]byte
	for range g.count(6) {
		for _, e := range edits {
			out = append(out, g.to6(e(g.udp6(g.bytes(8+g.r.IntN(64))))))
		}
		out = append(out, g.to6(g.udp6(nil)[:39])) // a header cut short
		port := g.t.tcpPort(g.r)
		land := tcpSeg{sport: port, dport: port, seq: g.r.Uint32(), flags: tcpSYN}.bytes(g.t.ip6, g.t.ip6)
		out = append(out, g.to6(ip6{src: g.t.ip6, dst: g.t.ip6, next: protoTCP}.packet(land)))
	}
	return out
}

// fragments: thousands of datagrams of which only some fragments come (first, middle or last
// only, from many sources, as a reassembly-memory attack), overlapping fragments, fragments
// reaching past 64 KiB, datagrams cut in many tiny pieces with holes, and IPv6 first
// fragments without the upper-layer header.
func fragments(g *gen) [][]byte {
	var out [][]byte
	dport := g.t.udpPort(g.r)
	// Never completed, IPv4: 1480 bytes of a 4000-byte datagram each.
	for i := range g.count(1200) {
		src := randIP4(g.r)
		h := ip4{src: src, dst: g.t.ip4, proto: protoUDP, id: uint16(g.r.Uint32())}
		dg := udp(src, g.t.ip4, uint16(g.r.Uint32()), dport, g.bytes(4000))
		pieces := fragments4(h, dg, 1480, 1480)
		out = append(out, g.to4(pieces[i%len(pieces)]))
	}
	// Never completed, IPv6: 1232 bytes of a 4000-byte datagram each.
	for i := range g.count(600) {
		src := randIP6(g.r)
		h := ip6{src: src, dst: g.t.ip6}
		dg := udp(src, g.t.ip6, uint16(g.r.Uint32()), dport, g.bytes(4000))
		pieces := fragments6(h, nil, protoUDP, dg, g.r.Uint32(), 1232, 1232, 1232)
		out = append(out, g.to6(pieces[i%len(pieces)]))
	}
	// Overlaps: A covers 0-63, B 32-95, C the end; and a fragment inside another (teardrop).
	for range g.count(50) {
		h := ip4{src: g.s.ip4, dst: g.t.ip4, proto: protoUDP, id: uint16(g.r.Uint32())}
		dg := udp(g.s.ip4, g.t.ip4, uint16(g.r.Uint32()), dport, g.bytes(128))
		a, b, c := h, h, h
		a.mf, b.mf, b.fragOff, c.fragOff = true, true, 32, 96
		out = append(out, g.to4(a.packet(dg[:64])), g.to4(b.packet(dg[32:96])), g.to4(c.packet(dg[96:])))
		h.id++
		a.id, b.id = h.id, h.id
		b.fragOff, b.mf = 8, false
		out = append(out, g.to4(a.packet(dg[:64])), g.to4(b.packet(dg[8:16])))

		h6 := ip6{src: g.s.ip6, dst: g.t.ip6}
		dg6 := udp(g.s.ip6, g.t.ip6, uint16(g.r.Uint32()), dport, g.bytes(128))
		id := g.r.Uint32()
		for _, p := range [][3]int{{0, 64, 1}, {32, 96, 1}, {96, len(dg6), 0}} {
			first, b := chain6(protoUDP, dg6[p[0]:p[1]], frag6(p[0], p[2] == 1, id))
			f := h6
			f.next = first
			out = append(out, g.to6(f.packet(b)))
		}
	}
	// Past 64 KiB: the last fragment at offset 65528.
	for range g.count(30) {
		h := ip4{src: g.s.ip4, dst: g.t.ip4, proto: protoICMP, id: uint16(g.r.Uint32()), fragOff: 65528}
		out = append(out, g.to4(h.packet(g.bytes(100))))
		first, b := chain6(protoUDP, g.bytes(100), frag6(65528, false, g.r.Uint32()))
		out = append(out, g.to6(ip6{src: g.s.ip6, dst: g.t.ip6, next: first}.packet(b)))
	}
	// Tiny pieces with a hole after each: 8 bytes at every other 8-byte unit.
	for range g.count(2) {
		h := ip4{src: g.s.ip4, dst: g.t.ip4, proto: protoUDP, id: uint16(g.r.Uint32()), mf: true}
		id6 := g.r.Uint32()
		for k := range 150 {
			h.fragOff = 16 * k
			out = append(out, g.to4(h.packet(g.bytes(8))))
			first, b := chain6(protoUDP, g.bytes(8), frag6(16*k, true, id6))
			out = append(out, g.to6(ip6{src: g.s.ip6, dst: g.t.ip6, next: first}.packet(b)))
		}
	}
	// IPv6 first fragments that stop inside the header chain (RFC 7112), a fragment header
	// inside a fragment, and a fragment whose length is not a multiple of 8.
	for range g.count(30) {
		dst := opts6(protoDstOpts, g.bytes(30))
		first, b := chain6(protoDstOpts, dst.body[:8], frag6(0, true, g.r.Uint32()))
		out = append(out, g.to6(ip6{src: g.s.ip6, dst: g.t.ip6, next: first}.packet(b)))
		first, b = chain6(protoUDP, udp(g.s.ip6, g.t.ip6, 9, dport, g.bytes(16)), frag6(0, false, 1), frag6(0, false, 2))
		out = append(out, g.to6(ip6{src: g.s.ip6, dst: g.t.ip6, next: first}.packet(b)))
		first, b = chain6(protoUDP, g.bytes(13), frag6(0, true, g.r.Uint32()))
		out = append(out, g.to6(ip6{src: g.s.ip6, dst: g.t.ip6, next: first}.packet(b)))
		h := ip4{src: g.s.ip4, dst: g.t.ip4, proto: protoUDP, id: uint16(g.r.Uint32()), mf: true}
		out = append(out, g.to4(h.packet(g.bytes(13))))
	}
	g.r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// extChains: IPv6 extension header chains, long, misordered, malformed and unknown: 40
// destination options headers in a row, hop-by-hop after another header, routing headers of
// the deprecated type 0 and unknown types with segments left, options the receiver must
// discard (with and without an ICMP error), option lengths past the header, header lengths
// past the packet, a 2 KiB header of Pad1, a jumbo payload option in a small packet, ESP.
func extChains(g *gen) [][]byte {
	dport := g.t.udpPort(g.r)
	up := func() []byte { return udp(g.s.ip6, g.t.ip6, uint16(g.r.Uint32()), dport, g.bytes(16)) }
	long := make([]ext6, 40)
	for i := range long {
		long[i] = opts6(protoDstOpts, nil)
	}
	pad1 := make([]byte, 2046) // Pad1 options up to the largest header, 2048 bytes
	chains := [][]ext6{
		long,
		{opts6(protoDstOpts, nil), opts6(protoHopByHop, nil)},
		{opts6(protoHopByHop, nil), opts6(protoHopByHop, nil)},
		{routing6(0, 1, make([]byte, 16))},
		{routing6(0, 0, make([]byte, 16))},
		{routing6(253, 1, g.bytes(20))},
		{routing6(2, 1, make([]byte, 16))},
		{opts6(protoDstOpts, []byte{0x3e, 2, 0, 0})},        // unknown option, skip
		{opts6(protoDstOpts, []byte{0x7e, 2, 0, 0})},        // discard
		{opts6(protoDstOpts, []byte{0xbe, 2, 0, 0})},        // discard and send parameter problem
		{opts6(protoDstOpts, []byte{0xfe, 2, 0, 0})},        // the same, unless to multicast
		{opts6(protoDstOpts, []byte{0x01, 200})},            // PadN past the header
		{opts6(protoHopByHop, []byte{0xc2, 4, 0, 1, 0, 0})}, // jumbo payload in a small packet
		{opts6(protoHopByHop, []byte{0x05, 2, 0, 0})},       // router alert
		{{kind: protoDstOpts, body: pad1}},
		{{kind: protoDstOpts, body: []byte{0xff, 0x01, 4, 0, 0, 0, 0}, raw: true}}, // says 2048 bytes, has 8
	}
	var out [][]byte
	for range g.count(10) {
		for _, c := range chains {
			first, b := chain6(protoUDP, up(), c...)
			out = append(out, g.to6(ip6{src: g.s.ip6, dst: g.t.ip6, next: first}.packet(b)))
		}
		// Chains that end in no header, an unknown one, ESP, and one cut in the middle.
		for _, last := range []uint8{protoNoNext, 253, protoESP, 51} {
			first, b := chain6(last, g.bytes(24), opts6(protoHopByHop, nil), opts6(protoDstOpts, nil))
			out = append(out, g.to6(ip6{src: g.s.ip6, dst: g.t.ip6, next: first}.packet(b)))
		}
		first, b := chain6(protoUDP, up(), long[:10]...)
		out = append(out, g.to6(ip6{src: g.s.ip6, dst: g.t.ip6, next: first}.packet(b[:44])))
		// A long chain in front of a SYN to a served port.
		first, b = chain6(protoTCP, g.syn(g.s.ip6, g.t.ip6, g.t.tcpPort(g.r)), long[:20]...)
		out = append(out, g.to6(ip6{src: g.s.ip6, dst: g.t.ip6, next: first}.packet(b)))
	}
	return out
}

// garbage: ARP, neighbour discovery and ICMP that is malformed, out of place or aimed at state:
// ARP with wrong sizes, types and opcodes, requests from broadcast or multicast senders and for
// random neighbours; NS/NA/RA/redirects with a hop limit other than 255, bad codes, options of
// length 0 or past the end, router advertisements with random prefixes; ICMP and ICMPv6 of
// unknown types, errors quoting nothing or garbage, MTUs under the minimum, echo requests to
// broadcast and multicast. Nothing claims dom0's addresses, so the checks still reach the guest.
func garbage(g *gen) [][]byte {
	var out [][]byte
	t := g.t
	dst6 := t.ip6
	for range g.count(10) {
		other4 := netip.AddrFrom4([4]byte{10, 0, 0, byte(64 + g.r.IntN(190))})
		sha := randMAC(g.r)
		a := func(f func(p []byte)) {
			p := arp(1, sha, other4, mac{}, t.ip4)
			f(p)
			out = append(out, ether(t.mac, sha, etherARP, p))
		}
		a(func(p []byte) { p[4] = 0 })
		a(func(p []byte) { p[4] = 255 })
		a(func(p []byte) { p[5] = 16 })
		a(func(p []byte) { p[5] = 0 })
		a(func(p []byte) { be.PutUint16(p[0:], 99) })
		a(func(p []byte) { be.PutUint16(p[2:], etherIPv6) })
		a(func(p []byte) { be.PutUint16(p[6:], 0) })
		a(func(p []byte) { be.PutUint16(p[6:], 3) })
		a(func(p []byte) { be.PutUint16(p[6:], 0xffff) })
		a(func(p []byte) { copy(p[8:], broadcastMAC[:]) })
		a(func(p []byte) { copy(p[8:], []byte{1, 0, 0x5e, 0, 0, 1}) })
		a(func(p []byte) { copy(p[14:], []byte{255, 255, 255, 255}) })
		a(func(p []byte) { copy(p[14:], []byte{0, 0, 0, 0}) })
		a(func(p []byte) { copy(p[24:], []byte{10, 0, 0, 99}) })
		out = append(out, ether(broadcastMAC, sha, etherARP, arp(2, sha, other4, broadcastMAC, other4)))
		out = append(out, ether(t.mac, sha, etherARP, arp(1, sha, other4, mac{}, t.ip4)[:20]))
		out = append(out, ether(broadcastMAC, sha, etherARP, arp(1, sha, other4, mac{}, t.ip4)))

		// Neighbour discovery from a random neighbour.
		src6 := randOnLink6(g.r)
		nd := func(hop uint8, dst netip.Addr, typ, code uint8, rest uint32, body []byte) {
			m := icmp6(src6, dst, typ, code, rest, body)
			out = append(out, ether(t.mac, sha, etherIPv6, ip6{src: src6, dst: dst, next: protoICMPv6, hopLimit: hop}.packet(m)))
		}
		target := t.ip6.As16()
		srcLL := ndOption(1, sha[:])
		ns := append(target[:], srcLL...)
		sol := solicitedNode(t.ip6)
		nd(64, t.ip6, 135, 0, 0, ns)                                         // hop limit not 255
		nd(255, t.ip6, 135, 1, 0, ns)                                        // code 1
		nd(255, t.ip6, 135, 0, 0, append(target[:], 1, 0, 0, 0, 0, 0, 0, 0)) // option length 0
		nd(255, t.ip6, 135, 0, 0, append(target[:], 1, 9, 0, 0))             // option past the end
		nd(255, sol, 135, 0, 0, append(netip.MustParseAddr("ff02::1").AsSlice(), srcLL...))
		nd(255, t.ip6, 135, 0, 0, target[:4]) // cut short
		ot := randIP6(g.r).As16()
		nd(255, netip.MustParseAddr("ff02::1"), 136, 0, 0xa0000000, append(ot[:], ndOption(2, sha[:])...))
		nd(255, t.ip6, 136, 0, 0xe0000000, append(target[:], ndOption(2, sha[:])...)[:10])
		// Router advertisements: one with options of length 0, then valid ones with random
		// prefixes (autonomous, 30 s) from random routers that are not default routers.
		ra := func(hop uint8, opts []byte) {
			lls := linkLocal(sha)
			body := append([]byte{0, 0, 0, 0, 0, 0, 0, 0}, opts...)
			m := icmp6(lls, netip.MustParseAddr("ff02::1"), 134, 0, 64<<24, body)
			out = append(out, ether(multicastMAC(netip.MustParseAddr("ff02::1")), sha, etherIPv6,
				ip6{src: lls, dst: netip.MustParseAddr("ff02::1"), next: protoICMPv6, hopLimit: hop}.packet(m)))
		}
		ra(255, []byte{3, 0, 64, 0xc0})
		ra(64, ndOption(5, []byte{0, 0, 0, 0, 5, 0xdc}))
		ra(255, ndOption(5, []byte{0, 0, 0, 0, 0, 0})) // MTU 0
		pfx := make([]byte, 30)
		pfx[0], pfx[1] = 64, 0xc0
		be.PutUint32(pfx[2:], 30)
		be.PutUint32(pfx[6:], 20)
		pfx[14], pfx[15] = 0x20, 0x01
		be.PutUint32(pfx[16:], 0x0db80000|g.r.Uint32()&0xffff)
		ra(255, ndOption(3, pfx))
		pfx[0] = 200 // prefix length 200
		ra(255, ndOption(3, pfx))
		// Redirect: the guest's route to a random neighbour via another random one.
		red := append(randIP6(g.r).AsSlice(), ot[:]...)
		nd(255, t.ip6, 137, 0, 0, red)
		nd(64, t.ip6, 137, 0, 0, red)

		// ICMPv4.
		i4 := func(dst netip.Addr, m []byte) {
			out = append(out, g.to4(ip4{src: g.s.ip4, dst: dst, proto: protoICMP, id: uint16(g.r.Uint32())}.packet(m)))
		}
		quoted := ip4{src: t.ip4, dst: randIP4(g.r), proto: protoTCP}.packet(g.bytes(8))
		i4(t.ip4, icmp4(uint8(40+g.r.IntN(200)), uint8(g.r.Uint32()), g.r.Uint32(), g.bytes(20)))
		i4(t.ip4, icmp4(3, 4, 0, quoted))                              // fragmentation needed, MTU 0
		i4(t.ip4, icmp4(3, 4, 68, quoted))                             // MTU 68
		i4(t.ip4, icmp4(3, 3, 0, nil))                                 // quoting nothing
		i4(t.ip4, icmp4(3, 3, 0, append([]byte{0x4f}, g.bytes(9)...))) // quoting a cut header
		i4(t.ip4, icmp4(5, 1, be.Uint32(netip.MustParseAddr("10.0.0.99").AsSlice()), quoted))
		i4(t.ip4, icmp4(11, 0, 0, quoted))
		i4(t.ip4, icmp4(12, 0, 0xff000000, quoted))
		i4(t.ip4, icmp4(13, 0, g.r.Uint32(), g.bytes(12))) // timestamp request
		i4(t.ip4, icmp4(17, 0, g.r.Uint32(), g.bytes(4)))  // address mask request
		m := icmp4(8, 0, g.r.Uint32(), g.bytes(56))
		spoil(m, icmpCsumOff)
		i4(t.ip4, m)
		i4(netip.MustParseAddr("10.0.0.255"), icmp4(8, 0, g.r.Uint32(), g.bytes(56)))
		i4(netip.MustParseAddr("255.255.255.255"), icmp4(8, 0, g.r.Uint32(), g.bytes(56)))
		i4(t.ip4, icmp4(8, 0, g.r.Uint32(), g.bytes(1400)))
		i4(t.ip4, []byte{8, 0, 0xf7})

		// ICMPv6 from dom0.
		i6 := func(dst netip.Addr, m []byte) {
			out = append(out, g.to6(ip6{src: g.s.ip6, dst: dst, next: protoICMPv6}.packet(m)))
		}
		q6 := ip6{src: dst6, dst: randIP6(g.r), next: protoTCP}.packet(g.bytes(8))
		i6(dst6, icmp6(g.s.ip6, dst6, uint8(g.r.IntN(100)+160), uint8(g.r.Uint32()), g.r.Uint32(), g.bytes(16)))
		i6(dst6, icmp6(g.s.ip6, dst6, 2, 0, 0, q6))   // packet too big, MTU 0
		i6(dst6, icmp6(g.s.ip6, dst6, 2, 0, 100, q6)) // MTU 100
		i6(dst6, icmp6(g.s.ip6, dst6, 1, 4, 0, nil))
		i6(dst6, icmp6(g.s.ip6, dst6, 4, 0, 0xffff, q6)) // parameter problem past the packet
		i6(dst6, icmp6(g.s.ip6, dst6, 3, 1, 0, q6[:20]))
		i6(dst6, icmp6(g.s.ip6, dst6, 130, 0, 0, g.bytes(16)))  // MLD query
		i6(dst6, icmp6(g.s.ip6, dst6, 143, 0, 0x0000ffff, nil)) // MLDv2 report of 65535 records
		m6 := icmp6(g.s.ip6, dst6, 128, 0, g.r.Uint32(), g.bytes(56))
		spoil(m6, icmpCsumOff)
		i6(dst6, m6)
		all := netip.MustParseAddr("ff02::1")
		out = append(out, ether(multicastMAC(all), g.s.mac, etherIPv6,
			ip6{src: g.s.ip6, dst: all, next: protoICMPv6}.packet(icmp6(g.s.ip6, all, 128, 0, g.r.Uint32(), g.bytes(1200)))))
		i6(dst6, []byte{128, 0})
	}
	return out
}

// badChecksums: TCP SYNs and UDP datagrams with wrong checksums, whole and in fragments,
// IPv4 and IPv6, behind a destination options header, plus ICMP: the bulk the guest must
// count (the echo check of each case is in oracle.go).
func badChecksums(g *gen) [][]byte {
	var out [][]byte
	for range g.count(40) {
		for _, v6 := range []bool{false, true} {
			src, dst := g.s.ip4, g.t.ip4
			if v6 {
				src, dst = g.s.ip6, g.t.ip6
			}
			u := udp(src, dst, uint16(g.r.Uint32()), g.t.udpPort(g.r), g.bytes(40))
			spoil(u, udpCsumOff)
			s := g.syn(src, dst, g.t.tcpPort(g.r))
			spoil(s, tcpCsumOff)
			for _, seg := range []struct {
				proto uint8
				b     []byte
			}{{protoUDP, u}, {protoTCP, s}} {
				if !v6 {
					h := ip4{src: src, dst: dst, proto: seg.proto, id: uint16(g.r.Uint32())}
					out = append(out, g.to4(h.packet(seg.b)))
					for _, f := range fragments4(h, seg.b, 24) {
						out = append(out, g.to4(f))
					}
					continue
				}
				out = append(out, g.to6(ip6{src: src, dst: dst, next: seg.proto}.packet(seg.b)))
				first, b := chain6(seg.proto, seg.b, opts6(protoDstOpts, nil))
				out = append(out, g.to6(ip6{src: src, dst: dst, next: first}.packet(b)))
				for _, f := range fragments6(ip6{src: src, dst: dst}, nil, seg.proto, seg.b, g.r.Uint32(), 24) {
					out = append(out, g.to6(f))
				}
			}
		}
	}
	return out
}
