package netstack

import (
	"net"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	"github.com/tamaxen/tamaxen/netfront"
)

// FuzzDeliver feeds frames from a hostile backend, with any offload flags, through the
// endpoint into a configured gVisor stack with a listener: nothing may panic, whatever the
// frame claims (checksums vouched for or not, GSO metadata on anything).
func FuzzDeliver(f *testing.F) {
	mac := net.HardwareAddr{0, 0x16, 0x3e, 0, 0, 2}
	e := NewEndpoint(mac, 1500)
	e.off = offloads{csum4: true, csum6: true, gso: true}
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
	})
	defer s.Close()
	if err := s.CreateNIC(nicID, e); err != nil {
		f.Fatal(err)
	}
	pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4([4]byte{10, 0, 0, 2}), PrefixLen: 24}}
	if err := s.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); err != nil {
		f.Fatal(err)
	}
	// The stack's answers go nowhere: the endpoint has no device, so writes fail cleanly.
	e.dev = nil
	dst := string(mac)
	for _, seed := range [][]byte{
		// ARP request for 10.0.0.2.
		append([]byte("\xff\xff\xff\xff\xff\xff\x00\x16\x3e\x00\x00\x01\x08\x06"),
			0, 1, 8, 0, 6, 4, 0, 1, 0, 0x16, 0x3e, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2),
		// IPv4/TCP SYN to port 80 (checksums wrong: only trusted if vouched for).
		append([]byte(dst+"\x00\x16\x3e\x00\x00\x01\x08\x00"),
			0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
			0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0),
		// IPv6 header alone.
		append([]byte(dst+"\x00\x16\x3e\x00\x00\x01\x86\xdd"), 0x60, 0, 0, 0, 0, 8, 17, 64),
	} {
		f.Add(seed, false, false, uint8(0), uint16(0))
		f.Add(seed, true, true, uint8(1), uint16(1448))
	}
	f.Fuzz(func(t *testing.T, frame []byte, validated, blank bool, gsoType uint8, gsoSize uint16) {
		e.Deliver(frame, netfront.RxMeta{DataValidated: validated, CsumBlank: blank, GSOType: gsoType, GSOSize: gsoSize})
	})
}
