// The budget for IP fragments awaiting reassembly.

package netstack

import (
	"encoding/binary"
	"sync"
	"time"
)

// fragBudget admits fragments while the bytes charged in the current and the previous window
// stay within the limit: whatever gVisor still holds was admitted within the last
// ReassembleWindow, so it holds no more than the limit.
//
// A fragmented IPv4 datagram that completes gives its charge back (refund), so legitimate
// fragmented traffic is not throttled by the budget, only what never completes is: an
// attacker's fragments stay charged until their window passes. The datagrams are told apart
// by gVisor's own reassembly key (addresses, protocol and ID), which the reassembled header
// keeps; IPv6's reassembled packet loses its fragment header's ID, so IPv6 fragments are
// never refunded, and only fragTrack IPv4 datagrams are tracked at once (the rest are simply
// not refunded). Over-refunding is impossible: a refund takes back exactly what that
// datagram was charged, in the window it was charged in.
type fragBudget struct {
	mu        sync.Mutex // guards the fields below
	limit     int
	start     time.Time // of the current window
	gen       uint64    // the current window's number
	cur, prev int
	held      [fragTrack]fragHeld
}

// fragTrack is how many IPv4 datagrams being reassembled are tracked for refunds.
const fragTrack = 64

// fragKey is gVisor's IPv4 reassembly key: RFC 791's identification is unique per source,
// destination and protocol.
type fragKey struct {
	src, dst [4]byte
	id       uint16
	proto    uint8
}

// fragHeld is what one datagram's fragments were charged, in the current and the previous
// window as of gen.
type fragHeld struct {
	used      bool
	key       fragKey
	gen       uint64
	cur, prev int
}

// age brings h's charges to window gen.
func (h *fragHeld) age(gen uint64) {
	switch gen - h.gen {
	case 0:
	case 1:
		h.prev, h.cur = h.cur, 0
	default:
		h.prev, h.cur = 0, 0
	}
	h.gen = gen
}

// roll starts a new window if now is past the current one.
func (b *fragBudget) roll(now time.Time) {
	d := now.Sub(b.start)
	if d < ReassembleWindow && d >= 0 {
		return
	}
	b.prev = b.cur
	b.gen++
	if d >= 2*ReassembleWindow || d < 0 {
		b.prev = 0
		b.gen++
	}
	b.cur, b.start = 0, now
}

// admit reports whether a fragment of cost bytes may go up at now; frame is the Ethernet
// frame, whose IPv4 reassembly key (if it is IPv4) is remembered for a refund.
func (b *fragBudget) admit(frame []byte, cost int, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.roll(now)
	if b.prev+b.cur+cost > b.limit {
		return false
	}
	b.cur += cost
	if k, ok := ipv4FragKey(frame[14:]); ok {
		if h := b.find(k, true); h != nil {
			h.age(b.gen)
			h.cur += cost
		}
	}
	return true
}

// refund gives back what the fragments of the IPv4 datagram whose (reassembled) IPv4 header is
// ip were charged, once it completed.
func (b *fragBudget) refund(ip []byte) {
	k, ok := ipv4Key(ip)
	if !ok {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.find(k, false)
	if h == nil {
		return
	}
	h.age(b.gen)
	b.cur -= min(h.cur, b.cur)
	b.prev -= min(h.prev, b.prev)
	*h = fragHeld{}
}

// find returns k's entry, or with add a new one (in a free or forgotten slot; nil if none).
func (b *fragBudget) find(k fragKey, add bool) *fragHeld {
	var free *fragHeld
	for i := range b.held {
		h := &b.held[i]
		switch {
		case h.used && h.key == k:
			return h
		case free == nil && (!h.used || b.gen-h.gen >= 2):
			free = h
		}
	}
	if !add || free == nil {
		return nil
	}
	*free = fragHeld{used: true, key: k, gen: b.gen}
	return free
}

// ipv4FragKey is the reassembly key of an IPv4 fragment's header (false if ip is not one).
func ipv4FragKey(ip []byte) (fragKey, bool) {
	if len(ip) < 20 || ip[0]>>4 != 4 || binary.BigEndian.Uint16(ip[6:])&0x3fff == 0 {
		return fragKey{}, false
	}
	return ipv4Key(ip)
}

// ipv4Key is the reassembly key of an IPv4 header.
func ipv4Key(ip []byte) (fragKey, bool) {
	if len(ip) < 20 || ip[0]>>4 != 4 {
		return fragKey{}, false
	}
	k := fragKey{id: binary.BigEndian.Uint16(ip[4:]), proto: ip[9]}
	copy(k.src[:], ip[12:16])
	copy(k.dst[:], ip[16:20])
	return k, true
}
