// The flow hash both ends of a multi-queue vif spread frames over their queues with.

package netif

// FlowHash hashes an Ethernet frame's flow so that every frame of one flow goes to the same
// queue and keeps its order: FNV-1a over the IPv4 or IPv6 addresses and, for TCP and UDP, the
// ports, finalised so that its low bits spread too. Frames of other EtherTypes, and frames too
// short for their IP header, hash to 0. It does not allocate.
//
// A fragment is hashed by its addresses and protocol only, never its ports, as Linux's flow
// dissector does without FLOW_DISSECTOR_F_PARSE_1ST_FRAG: only the first fragment carries the
// transport header, and the bytes at that place in a later one are payload, so hashing them
// would spread the fragments of one datagram over the queues. An IPv4 fragment has MF set or
// a non-zero offset; an IPv6 fragment carries a fragment header, which (like any extension
// header) ends the hash at the addresses.
func FlowHash(f []byte) uint32 {
	var h fnv32a = 2166136261
	switch {
	case len(f) >= 14+20 && f[12] == 0x08 && f[13] == 0x00:
		ip := f[14:]
		ihl := int(ip[0]&0x0f) * 4
		proto := ip[9]
		h.write(ip[12:20])
		if frag := (uint16(ip[6])<<8 | uint16(ip[7])) & (ipv4MF | ipv4Offset); frag != 0 {
			h.byte(proto)
		} else if (proto == 6 || proto == 17) && ihl >= 20 && len(ip) >= ihl+4 {
			h.write(ip[ihl : ihl+4])
		}
	case len(f) >= 14+40 && f[12] == 0x86 && f[13] == 0xdd:
		ip := f[14:]
		h.write(ip[8:40])
		if (ip[6] == 6 || ip[6] == 17) && len(ip) >= 40+4 {
			h.write(ip[40:44])
		}
	default:
		return 0
	}
	return h.sum()
}

// The IPv4 header's more-fragments flag and fragment offset, in its flags/offset word.
const (
	ipv4MF     = 0x2000
	ipv4Offset = 0x1fff
)

// fnv32a is FNV-1a, inline so that hashing a frame does not allocate.
type fnv32a uint32

func (h *fnv32a) write(b []byte) {
	for _, c := range b {
		h.byte(c)
	}
}

func (h *fnv32a) byte(c byte) { *h = (*h ^ fnv32a(c)) * 16777619 }

// sum returns the hash through MurmurHash3's finaliser (fmix32). The queue is the hash modulo
// a small count, and FNV-1a's low k bits depend only on the low k bits of each byte hashed:
// without the finaliser, flows whose port bytes differ only above bit 1 shared one of 4 queues.
func (h fnv32a) sum() uint32 {
	x := uint32(h)
	x ^= x >> 16
	x *= 0x85ebca6b
	x ^= x >> 13
	x *= 0xc2b2ae35
	x ^= x >> 16
	return x
}
