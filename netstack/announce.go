// Announcing the guest on its link: gratuitous ARP and unsolicited neighbour advertisements.

package netstack

import (
	"context"
	"net"
	"net/netip"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"

	"github.com/tamaxen/tamaxen/netfront"
)

// announceTimeout bounds how long one announcement waits for ring space: it is a courtesy to
// the peers, never worth holding up the stack for.
const announceTimeout = time.Second

// announce tells the link where the guest is, once per address of the NIC: a gratuitous ARP
// for each IPv4 address, an unsolicited neighbour advertisement for each IPv6 one (link-local
// included), as Linux does when an interface comes up or its netfront resumes
// (netif_notify_peers). Peers that had the address cached, or are waiting to reach it, learn
// the MAC without asking, so the first packet addressed to a new guest goes out at once. A
// frame that cannot be sent is logged and skipped: the peers fall back to asking.
func (s *Stack) announce(ctx context.Context) {
	mac := s.dev.MAC()
	if len(mac) != 6 {
		return // the link is down; the reconnection announces
	}
	ctx, cancel := context.WithTimeout(ctx, announceTimeout)
	defer cancel()
	for _, p := range s.Addrs() {
		a := p.Addr()
		var f []byte
		switch {
		case a.Is4():
			f = gratuitousARP(mac, a)
		case a.Is6() && !a.IsMulticast():
			f = unsolicitedNA(mac, a)
		default:
			continue
		}
		if err := s.dev.Send(ctx, f, netfront.TxMeta{}); err != nil {
			s.logf("netstack: announcing %s: %v", a, err)
			continue
		}
		s.announced.Add(1)
	}
}

// reannounce announces the guest again after the link came back, once the stack is up. It
// runs apart from the caller (netfront's supervisor, which must not wait for ring space);
// Close waits for it.
func (s *Stack) reannounce() {
	if !s.up.Load() {
		return // Open announces once the addresses are in place
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.announce(context.Background())
	}()
}

// Announced returns how many announcements (gratuitous ARPs and unsolicited neighbour
// advertisements) the stack sent.
func (s *Stack) Announced() uint64 { return s.announced.Load() }

// gratuitousARP builds an ARP announcement of ip from mac (RFC 5227 section 3, the form Linux's
// arp_notify sends): a broadcast request whose sender and target protocol addresses are both
// ip, with the target hardware address left zero.
func gratuitousARP(mac net.HardwareAddr, ip netip.Addr) []byte {
	b := make([]byte, header.EthernetMinimumSize+header.ARPSize)
	header.Ethernet(b).Encode(&header.EthernetFields{
		SrcAddr: tcpip.LinkAddress(mac),
		DstAddr: header.EthernetBroadcastAddress,
		Type:    header.ARPProtocolNumber,
	})
	a := header.ARP(b[header.EthernetMinimumSize:])
	a.SetIPv4OverEthernet()
	a.SetOp(header.ARPRequest)
	ip4 := ip.As4()
	copy(a.HardwareAddressSender(), mac)
	copy(a.ProtocolAddressSender(), ip4[:])
	copy(a.ProtocolAddressTarget(), ip4[:])
	return b
}

// unsolicitedNA builds an unsolicited neighbour advertisement of ip from mac (RFC 4861 section
// 7.2.6): to all nodes, hop limit 255, Solicited clear, Override set (the address is ours, not
// an anycast one), with the target link-layer address option.
func unsolicitedNA(mac net.HardwareAddr, ip netip.Addr) []byte {
	opts := header.NDPOptionsSerializer{header.NDPTargetLinkLayerAddressOption(tcpip.LinkAddress(mac))}
	icmpLen := header.ICMPv6NeighborAdvertMinimumSize + opts.Length()
	b := make([]byte, header.EthernetMinimumSize+header.IPv6MinimumSize+icmpLen)
	src, dst := address(ip), header.IPv6AllNodesMulticastAddress
	header.Ethernet(b).Encode(&header.EthernetFields{
		SrcAddr: tcpip.LinkAddress(mac),
		DstAddr: header.EthernetAddressFromMulticastIPv6Address(dst),
		Type:    header.IPv6ProtocolNumber,
	})
	header.IPv6(b[header.EthernetMinimumSize:]).Encode(&header.IPv6Fields{
		PayloadLength:     uint16(icmpLen),
		TransportProtocol: header.ICMPv6ProtocolNumber,
		HopLimit:          header.NDPHopLimit,
		SrcAddr:           src,
		DstAddr:           dst,
	})
	icmp := header.ICMPv6(b[header.EthernetMinimumSize+header.IPv6MinimumSize:])
	icmp.SetType(header.ICMPv6NeighborAdvert)
	na := header.NDPNeighborAdvert(icmp.MessageBody())
	na.SetOverrideFlag(true)
	na.SetTargetAddress(src)
	na.Options().Serialize(opts)
	icmp.SetChecksum(header.ICMPv6Checksum(header.ICMPv6ChecksumParams{Header: icmp, Src: src, Dst: dst}))
	return b
}
