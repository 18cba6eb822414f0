package netstack

import (
	"encoding/binary"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/tamaxen/tamaxen/internal/csum"
	"github.com/tamaxen/tamaxen/netfront"
)

var (
	guestMAC = net.HardwareAddr{0, 0x16, 0x3e, 0, 0, 2}
	peerMAC  = net.HardwareAddr{0, 0x16, 0x3e, 0, 0, 1}
	guest4   = [4]byte{10, 0, 0, 2}
	peer4    = [4]byte{10, 0, 0, 1}
	guest6   = [16]byte{0xfd, 15: 2}
	peer6    = [16]byte{0xfd, 15: 1}
)

// rxRig is an endpoint under a gVisor stack with a dual-stack UDP socket on port 7 and a TCP
// listener on port 80, fed frames directly through Deliver. It has no device: what the stack
// sends fails cleanly. Delivery is synchronous up to the sockets' queues and TCP's checksum
// verdict, so every check after Deliver is deterministic.
type rxRig struct {
	e   *Endpoint
	s   *stack.Stack
	udp tcpip.Endpoint
	tcp tcpip.Endpoint
}

// newRxRig builds the rig; transports, if not nil, gives the stack's transport protocols in
// place of the endpoint's own.
func newRxRig(tb testing.TB, transports func(e *Endpoint) []stack.TransportProtocolFactory) *rxRig {
	tb.Helper()
	e := NewEndpoint(guestMAC, 1500)
	e.off = offloads{csum4: true, csum6: true, gso: true}
	if transports == nil {
		transports = (*Endpoint).TransportProtocols
	}
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: transports(e),
	})
	tb.Cleanup(func() { s.Close(); s.Wait() })
	require.Nil(tb, s.CreateNIC(nicID, e))
	for _, a := range []tcpip.ProtocolAddress{
		{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4(guest4), PrefixLen: 24}},
		{Protocol: ipv6.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFrom16(guest6), PrefixLen: 64}},
	} {
		require.Nil(tb, s.AddProtocolAddress(nicID, a, stack.AddressProperties{}))
	}
	s.SetRouteTable([]tcpip.Route{
		{Destination: header4Subnet(), NIC: nicID},
		{Destination: header6Subnet(), NIC: nicID},
	})
	// Static neighbours: the stack must not need ARP or NDP to answer (its answers go nowhere).
	require.Nil(tb, s.AddStaticNeighbor(nicID, ipv4.ProtocolNumber, tcpip.AddrFrom4(peer4), tcpip.LinkAddress(peerMAC)))
	require.Nil(tb, s.AddStaticNeighbor(nicID, ipv6.ProtocolNumber, tcpip.AddrFrom16(peer6), tcpip.LinkAddress(peerMAC)))
	r := &rxRig{e: e, s: s}
	var wq waiter.Queue
	var err tcpip.Error
	r.udp, err = s.NewEndpoint(udp.ProtocolNumber, ipv6.ProtocolNumber, &wq)
	require.Nil(tb, err)
	require.Nil(tb, r.udp.Bind(tcpip.FullAddress{Port: 7}))
	tb.Cleanup(r.udp.Close)
	r.tcp, err = s.NewEndpoint(tcp.ProtocolNumber, ipv6.ProtocolNumber, &wq)
	require.Nil(tb, err)
	require.Nil(tb, r.tcp.Bind(tcpip.FullAddress{Port: 80}))
	require.Nil(tb, r.tcp.Listen(16))
	tb.Cleanup(r.tcp.Close)
	return r
}

func header4Subnet() tcpip.Subnet {
	return tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4(guest4), PrefixLen: 24}.Subnet()
}

func header6Subnet() tcpip.Subnet {
	return tcpip.AddressWithPrefix{Address: tcpip.AddrFrom16(guest6), PrefixLen: 64}.Subnet()
}

// readUDP takes one datagram from the UDP socket's queue, if there is one.
func (r *rxRig) readUDP() ([]byte, bool) {
	var b strings.Builder
	if _, err := r.udp.Read(&b, tcpip.ReadOptions{}); err != nil {
		return nil, false
	}
	return []byte(b.String()), true
}

func (r *rxRig) tcpCounts() (valid, bad uint64) {
	st := r.s.Stats().TCP
	return st.ValidSegmentsReceived.Value(), st.ChecksumErrors.Value()
}

// --- frame builders ------------------------------------------------------------------------

func ethernet(typ uint16, payload []byte) []byte {
	f := make([]byte, 14, 14+len(payload))
	copy(f, guestMAC)
	copy(f[6:], peerMAC)
	binary.BigEndian.PutUint16(f[12:], typ)
	return append(f, payload...)
}

func transportSum(src, dst []byte, proto uint8, seg []byte) uint16 {
	s := csum.Sum(src, 0)
	s = csum.Sum(dst, s)
	s = csum.Sum([]byte{0, proto, byte(len(seg) >> 8), byte(len(seg))}, s)
	return csum.Sum(seg, s)
}

// udpSeg is a UDP datagram from port 1234 to port 7 with a right checksum for src and dst,
// or a wrong one.
func udpSeg(src, dst []byte, data string, bad bool) []byte {
	u := make([]byte, 8+len(data))
	binary.BigEndian.PutUint16(u[0:], 1234)
	binary.BigEndian.PutUint16(u[2:], 7)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[8:], data)
	c := ^transportSum(src, dst, 17, u)
	if c == 0 {
		c = 0xffff
	}
	if bad {
		c ^= 0x5a5a
	}
	binary.BigEndian.PutUint16(u[6:], c)
	return u
}

// synSeg is a TCP SYN from port 4321 to port 80, with a right checksum or a wrong one.
func synSeg(src, dst []byte, bad bool) []byte {
	t := make([]byte, 24)
	binary.BigEndian.PutUint16(t[0:], 4321)
	binary.BigEndian.PutUint16(t[2:], 80)
	binary.BigEndian.PutUint32(t[4:], 1000)
	t[12] = 6 << 4
	t[13] = 0x02
	binary.BigEndian.PutUint16(t[14:], 65535)
	t[20], t[21], t[22], t[23] = 2, 4, 0x05, 0xb4 // MSS 1460
	c := ^transportSum(src, dst, 6, t)
	if bad {
		c ^= 0x5a5a
	}
	binary.BigEndian.PutUint16(t[16:], c)
	return t
}

// ipv4Frames wraps seg (protocol proto) in IPv4 from the peer to the guest, cut into
// fragments of at most fragLen bytes of payload (a multiple of 8; 0: not fragmented).
func ipv4Frames(proto uint8, seg []byte, fragLen int, id uint16) [][]byte {
	if fragLen == 0 {
		fragLen = len(seg)
	}
	var out [][]byte
	for off := 0; off < len(seg); off += fragLen {
		end := min(off+fragLen, len(seg))
		ip := make([]byte, 20, 20+end-off)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+end-off))
		binary.BigEndian.PutUint16(ip[4:], id)
		fo := uint16(off / 8)
		if end < len(seg) {
			fo |= 0x2000 // more fragments
		}
		binary.BigEndian.PutUint16(ip[6:], fo)
		ip[8], ip[9] = 64, proto
		copy(ip[12:], peer4[:])
		copy(ip[16:], guest4[:])
		binary.BigEndian.PutUint16(ip[10:], ^csum.Sum(ip, 0))
		out = append(out, ethernet(0x0800, append(ip, seg[off:end]...)))
	}
	return out
}

// ipv6Frame wraps payload, whose first header is nh, in IPv6 from the peer to the guest.
func ipv6Frame(nh uint8, payload []byte) []byte {
	ip := make([]byte, 40, 40+len(payload))
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(len(payload)))
	ip[6], ip[7] = nh, 64
	copy(ip[8:], peer6[:])
	copy(ip[24:], guest6[:])
	return ethernet(0x86dd, append(ip, payload...))
}

// ipv6Frames carries seg (protocol proto) behind a destination-options header when destOpts,
// cut into fragments of at most fragLen bytes (a multiple of 8; 0: no fragment header).
func ipv6Frames(proto uint8, seg []byte, destOpts bool, fragLen int, id uint32) [][]byte {
	first := proto
	if destOpts {
		seg = append([]byte{proto, 0, 1, 4, 0, 0, 0, 0}, seg...) // PadN to 8 bytes
		first = 60
	}
	if fragLen == 0 {
		return [][]byte{ipv6Frame(first, seg)}
	}
	var out [][]byte
	for off := 0; off < len(seg); off += fragLen {
		end := min(off+fragLen, len(seg))
		fh := make([]byte, 8, 8+end-off)
		fh[0] = first
		fo := uint16(off)
		if end < len(seg) {
			fo |= 1
		}
		binary.BigEndian.PutUint16(fh[2:], fo)
		binary.BigEndian.PutUint32(fh[4:], id)
		out = append(out, ipv6Frame(44, append(fh, seg[off:end]...)))
	}
	return out
}

// TestDeliverChecksums sends datagrams and SYNs with right and wrong checksums through the
// real endpoint, whole, in fragments and behind IPv6 extension headers: a wrong checksum
// never reaches a socket (nor draws a SYN-ACK), a right one always does. Only a backend's
// word (data_validated) lets an unfragmented packet skip the check.
func TestDeliverChecksums(t *testing.T) {
	data := strings.Repeat("tamaxen!", 8) // 64 bytes: two fragments at 40
	p4, g4, p6, g6 := peer4[:], guest4[:], peer6[:], guest6[:]
	for _, tc := range []struct {
		name      string
		frames    func(bad bool) [][]byte
		tcp       bool
		validated bool
		// trusted: the backend's word is taken, so a wrong checksum is not caught (the
		// positive case still holds).
		trusted bool
	}{
		{name: "udp4", frames: func(bad bool) [][]byte { return ipv4Frames(17, udpSeg(p4, g4, data, bad), 0, 1) }},
		{name: "udp4 fragmented", frames: func(bad bool) [][]byte { return ipv4Frames(17, udpSeg(p4, g4, data, bad), 40, 2) }},
		{name: "udp4 fragmented, vouched", validated: true, frames: func(bad bool) [][]byte { return ipv4Frames(17, udpSeg(p4, g4, data, bad), 40, 3) }},
		{name: "udp4 vouched", validated: true, trusted: true, frames: func(bad bool) [][]byte { return ipv4Frames(17, udpSeg(p4, g4, data, bad), 0, 4) }},
		{name: "tcp4 syn", tcp: true, frames: func(bad bool) [][]byte { return ipv4Frames(6, synSeg(p4, g4, bad), 0, 5) }},
		{name: "tcp4 syn fragmented", tcp: true, frames: func(bad bool) [][]byte { return ipv4Frames(6, synSeg(p4, g4, bad), 16, 6) }},
		{name: "udp6", frames: func(bad bool) [][]byte { return ipv6Frames(17, udpSeg(p6, g6, data, bad), false, 0, 0) }},
		{name: "udp6 fragmented", frames: func(bad bool) [][]byte { return ipv6Frames(17, udpSeg(p6, g6, data, bad), false, 40, 7) }},
		{name: "udp6 fragmented, vouched", validated: true, frames: func(bad bool) [][]byte { return ipv6Frames(17, udpSeg(p6, g6, data, bad), false, 40, 8) }},
		{name: "udp6 atomic fragment", frames: func(bad bool) [][]byte { return ipv6Frames(17, udpSeg(p6, g6, data, bad), false, 1024, 9) }},
		{name: "udp6 behind destination options", frames: func(bad bool) [][]byte { return ipv6Frames(17, udpSeg(p6, g6, data, bad), true, 0, 0) }},
		{name: "udp6 behind destination options, vouched", validated: true, trusted: true, frames: func(bad bool) [][]byte { return ipv6Frames(17, udpSeg(p6, g6, data, bad), true, 0, 0) }},
		{name: "udp6 destination options and fragments", frames: func(bad bool) [][]byte { return ipv6Frames(17, udpSeg(p6, g6, data, bad), true, 40, 10) }},
		{name: "tcp6 syn", tcp: true, frames: func(bad bool) [][]byte { return ipv6Frames(6, synSeg(p6, g6, bad), false, 0, 0) }},
		{name: "tcp6 syn fragmented", tcp: true, frames: func(bad bool) [][]byte { return ipv6Frames(6, synSeg(p6, g6, bad), false, 16, 11) }},
		{name: "tcp6 syn behind destination options", tcp: true, frames: func(bad bool) [][]byte { return ipv6Frames(6, synSeg(p6, g6, bad), true, 0, 0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, bad := range []bool{true, false} {
				r := newRxRig(t, nil)
				valid0, errs0 := r.tcpCounts()
				for _, f := range tc.frames(bad) {
					r.e.Deliver(f, netfront.RxMeta{DataValidated: tc.validated})
				}
				valid, errs := r.tcpCounts()
				got, ok := r.readUDP()
				reached := ok
				if tc.tcp {
					reached = valid > valid0
				}
				if bad && !tc.trusted {
					assert.False(t, reached, "a wrong checksum reached the socket")
					if tc.tcp {
						assert.Greater(t, errs+r.e.Stats().RxBadChecksum, errs0, "and was counted")
					} else {
						assert.Positive(t, r.s.Stats().UDP.ChecksumErrors.Value()+r.e.Stats().RxBadChecksum, "and was counted")
					}
				} else {
					assert.True(t, reached, "bad=%v: the datagram did not reach the socket", bad)
					if !tc.tcp && ok {
						assert.Equal(t, data, string(got))
					}
				}
			}
		})
	}
}

// partialUDP is a UDP datagram from a local sender that left its checksum to offload
// (CHECKSUM_PARTIAL): the pseudo-header sum in the checksum field.
func partialUDP(src, dst []byte, data string) []byte {
	u := udpSeg(src, dst, data, false)
	binary.BigEndian.PutUint16(u[6:], 0)
	s := csum.Sum(src, 0)
	s = csum.Sum(dst, s)
	binary.BigEndian.PutUint16(u[6:], csum.Sum([]byte{0, 17, byte(len(u) >> 8), byte(len(u))}, s))
	return u
}

// TestDeliverCsumBlank: a datagram with a partial checksum (csum_blank) reaches its socket,
// whole or behind IPv6 destination options, whether it finds a slot in the checked set or the
// stack verifies it (every slot busy), in which case Deliver completes it first.
func TestDeliverCsumBlank(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame func() []byte
	}{
		{"udp4", func() []byte { return ipv4Frames(17, partialUDP(peer4[:], guest4[:], "partial"), 0, 12)[0] }},
		{"udp6", func() []byte { return ipv6Frames(17, partialUDP(peer6[:], guest6[:], "partial"), false, 0, 0)[0] }},
		{"udp6 behind destination options", func() []byte {
			return ipv6Frames(17, partialUDP(peer6[:], guest6[:], "partial"), true, 0, 0)[0]
		}},
	} {
		for _, busy := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, slots busy %v", tc.name, busy), func(t *testing.T) {
				r := newRxRig(t, nil)
				if busy {
					for i := range checkedSlots {
						p := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData([]byte{0})})
						require.GreaterOrEqual(t, r.e.checked.add(p), 0)
						t.Cleanup(func() { r.e.checked.remove(i); p.DecRef() })
					}
				}
				r.e.Deliver(tc.frame(), netfront.RxMeta{CsumBlank: true, DataValidated: true})
				got, ok := r.readUDP()
				require.True(t, ok, "dropped: %d UDP checksum errors", r.s.Stats().UDP.ChecksumErrors.Value())
				assert.Equal(t, "partial", string(got))
			})
		}
	}
}

// TestCheckedTransportKeepsMethods: the stack finds some of a transport protocol's methods by
// type assertion (TCP's QueuePacket and SendBufferSize); a wrapper lacking one silently
// changes how the stack treats it. Every exported method of the wrapped protocols must be
// on the wrappers too, apart from gVisor's checkpointing ones, which this stack never uses.
func TestCheckedTransportKeepsMethods(t *testing.T) {
	s := stack.New(stack.Options{})
	defer s.Close()
	e := NewEndpoint(guestMAC, 0)
	fs := e.TransportProtocols()
	for i, inner := range []stack.TransportProtocol{tcp.NewProtocol(s), udp.NewProtocol(s)} {
		wrapper := reflect.TypeOf(fs[i](s))
		it := reflect.TypeOf(inner)
		for m := range it.NumMethod() {
			name := it.Method(m).Name
			if strings.HasPrefix(name, "State") {
				continue
			}
			_, ok := wrapper.MethodByName(name)
			assert.True(t, ok, "%v lacks %s of %v", wrapper, name, it)
		}
	}
}
