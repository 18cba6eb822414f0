// Per-packet checksum trust: which received packets the stack may skip verifying.

package netstack

import (
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// gVisor takes RX checksum offload per NIC: a link endpoint that claims it has every packet
// marked as verified, and a packet reassembled from fragments inherits the mark. So the
// endpoint does not claim it. Instead, Deliver records the packets whose checksums it
// verified, or the backend vouched for, while they go up the stack, and the TCP and UDP
// protocols are wrapped so that their Parse marks just those packets as verified. Everything
// else (fragments, once reassembled; IPv6 extension header chains; what csum.Verify could not
// judge) is verified by gVisor itself. No transport checksum is checked twice (IPv4 header and
// ICMP checksums are: they are small), and nothing is trusted that nobody checked.
//
// One consequence: gVisor's TCP forwarder (tcp.NewForwarder) asserts that the stack's TCP is
// its own type, so it cannot be used on Stack.S.
//
// The set is a handful of slots holding packet pointers, one per packet in flight between
// Deliver and the transport's Parse, which runs synchronously within Deliver for a packet
// that is not a fragment. netfront delivers from one goroutine per queue, so as many slots
// as queues are ever in use. A packet that finds no free slot is simply not marked: gVisor
// verifies it, at the cost of one more pass over its bytes (and Deliver completes a partial
// checksum first so that check can pass). A pointer in a slot is never stale: Deliver holds
// its reference until the slot is cleared, so no other packet can have that address meanwhile.
const checkedSlots = 16

type checkedSet struct {
	slots [checkedSlots]atomic.Pointer[stack.PacketBuffer]
}

// add records pkt as checked, returning its slot, or -1 when every slot is busy.
func (c *checkedSet) add(pkt *stack.PacketBuffer) int {
	for i := range c.slots {
		if c.slots[i].CompareAndSwap(nil, pkt) {
			return i
		}
	}
	return -1
}

// remove clears a slot returned by add.
func (c *checkedSet) remove(i int) {
	if i >= 0 {
		c.slots[i].Store(nil)
	}
}

// has reports whether pkt is being delivered as checked.
func (c *checkedSet) has(pkt *stack.PacketBuffer) bool {
	for i := range c.slots {
		if c.slots[i].Load() == pkt {
			return true
		}
	}
	return false
}

// checkedTransport is a transport protocol whose Parse marks the packets in set as verified.
// It never clears the mark: gVisor's own loopback path sets it for packets that never left
// the stack.
type checkedTransport struct {
	stack.TransportProtocol
	set   *checkedSet
	frags *fragBudget
}

// Parse implements stack.TransportProtocol. A packet that is not in the set may be an IPv4
// datagram just reassembled (gVisor parses it here synchronously), whose fragments' charge
// comes back to the fragment budget.
func (t checkedTransport) Parse(pkt *stack.PacketBuffer) bool {
	if t.set.has(pkt) {
		pkt.RXChecksumValidated = true
	} else if pkt.NetworkProtocolNumber == header.IPv4ProtocolNumber {
		t.frags.refund(pkt.NetworkHeader().Slice())
	}
	return t.TransportProtocol.Parse(pkt)
}

// checkedUDP is UDP's wrapper: it also drops a datagram for a socket whose queue is full (see
// udp.go) before gVisor queues it.
type checkedUDP struct {
	checkedTransport
	queues *udpQueues
}

// Parse implements stack.TransportProtocol.
func (t checkedUDP) Parse(pkt *stack.PacketBuffer) bool {
	if !t.queues.admit(pkt) {
		return false // no transport header: the stack drops it as malformed
	}
	return t.checkedTransport.Parse(pkt)
}

// checkedTCP is TCP's wrapper. The stack finds two of TCP's methods by type assertion, so
// the wrapper must have them too (TestCheckedTransportKeepsMethods guards this on upgrades).
type checkedTCP struct{ checkedTransport }

// queued is the method by which the stack hands TCP segments to TCP's own goroutines.
type queued interface {
	QueuePacket(ep stack.TransportEndpoint, id stack.TransportEndpointID, pkt *stack.PacketBuffer)
}

// QueuePacket implements the stack's queued transport protocol.
func (t checkedTCP) QueuePacket(ep stack.TransportEndpoint, id stack.TransportEndpointID, pkt *stack.PacketBuffer) {
	t.TransportProtocol.(queued).QueuePacket(ep, id, pkt)
}

// SendBufferSize implements stack.SendBufSizeProto.
func (t checkedTCP) SendBufferSize() tcpip.TCPSendBufferSizeRangeOption {
	return t.TransportProtocol.(stack.SendBufSizeProto).SendBufferSize()
}

// TransportProtocols returns the transport protocols for a stack over this endpoint: TCP and
// UDP wrapped to honour the endpoint's per-packet checksum verdicts, ICMPv4 and ICMPv6 (which
// gVisor always verifies itself).
func (e *Endpoint) TransportProtocols() []stack.TransportProtocolFactory {
	return []stack.TransportProtocolFactory{
		func(s *stack.Stack) stack.TransportProtocol {
			return checkedTCP{checkedTransport{tcp.NewProtocol(s), &e.checked, &e.frags}}
		},
		func(s *stack.Stack) stack.TransportProtocol {
			return checkedUDP{checkedTransport{udp.NewProtocol(s), &e.checked, &e.frags}, e.udp}
		},
		icmp.NewProtocol4, icmp.NewProtocol6,
	}
}
