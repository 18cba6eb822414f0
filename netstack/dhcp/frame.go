// Ethernet II, IPv4 and UDP framing of DHCP messages, with their checksums.

package dhcp

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/tamaxen/tamaxen/internal/csum"
)

const (
	ethHeaderLen  = 14
	etherTypeIPv4 = 0x0800
	ipv4HeaderLen = 20 // without options, as we send it
	udpHeaderLen  = 8
	protoUDP      = 17
	ipv4TTL       = 64

	serverPort = 67
	clientPort = 68
)

var (
	broadcastMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	broadcastIP  = netip.AddrFrom4([4]byte{255, 255, 255, 255})
	zeroIP       = netip.IPv4Unspecified()
)

// packet is a UDP datagram over IPv4 over Ethernet II, as parsePacket found it.
type packet struct {
	dstMAC, srcMAC   [6]byte
	srcIP, dstIP     netip.Addr
	srcPort, dstPort uint16
	payload          []byte // aliases the frame: decode it before the frame is gone
}

var (
	errNotIPv4     = errors.New("dhcp: not an IPv4 frame")
	errIPHeader    = errors.New("dhcp: bad IPv4 header")
	errIPChecksum  = errors.New("dhcp: bad IPv4 header checksum")
	errFragment    = errors.New("dhcp: IPv4 fragment")
	errNotUDP      = errors.New("dhcp: not UDP")
	errUDPHeader   = errors.New("dhcp: bad UDP header")
	errUDPChecksum = errors.New("dhcp: bad UDP checksum")
)

// parsePacket checks the Ethernet, IPv4 and UDP headers of frame and returns the datagram.
// Ethernet padding after the IPv4 total length is ignored; VLAN-tagged frames are not ours.
func parsePacket(frame []byte) (packet, error) {
	var p packet
	if len(frame) < ethHeaderLen || binary.BigEndian.Uint16(frame[12:]) != etherTypeIPv4 {
		return p, errNotIPv4
	}
	p.dstMAC = [6]byte(frame[0:6])
	p.srcMAC = [6]byte(frame[6:12])

	ip := frame[ethHeaderLen:]
	if len(ip) < ipv4HeaderLen || ip[0]>>4 != 4 {
		return p, errNotIPv4
	}
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:]))
	if ihl < ipv4HeaderLen || total < ihl || total > len(ip) {
		return p, errIPHeader
	}
	ip = ip[:total]
	if csum.Checksum(ip[:ihl], 0) != 0 {
		return p, errIPChecksum
	}
	// More-fragments flag or a fragment offset: DHCP messages are never fragmented in
	// practice, and reassembly is not worth its risks here.
	if binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 {
		return p, errFragment
	}
	if ip[9] != protoUDP {
		return p, errNotUDP
	}
	p.srcIP = addr4(ip[12:])
	p.dstIP = addr4(ip[16:])

	udp := ip[ihl:]
	if len(udp) < udpHeaderLen {
		return p, errUDPHeader
	}
	ulen := int(binary.BigEndian.Uint16(udp[4:]))
	if ulen < udpHeaderLen || ulen > len(udp) {
		return p, errUDPHeader
	}
	udp = udp[:ulen]
	// A zero checksum means the sender did not compute one, which IPv4 allows (RFC 768).
	if binary.BigEndian.Uint16(udp[6:]) != 0 && csum.Checksum(udp, csum.PseudoHeader(ip[12:20], protoUDP, ulen)) != 0 {
		return p, errUDPChecksum
	}
	p.srcPort = binary.BigEndian.Uint16(udp[0:])
	p.dstPort = binary.BigEndian.Uint16(udp[2:])
	p.payload = udp[udpHeaderLen:]
	return p, nil
}

// appendPacket appends the Ethernet frame carrying payload in a UDP datagram to b, with both
// checksums computed.
func appendPacket(b []byte, p *packet) []byte {
	start := len(b)
	total := ipv4HeaderLen + udpHeaderLen + len(p.payload)
	b = append(b, make([]byte, ethHeaderLen+ipv4HeaderLen+udpHeaderLen)...)
	b = append(b, p.payload...)
	f := b[start:]

	copy(f[0:], p.dstMAC[:])
	copy(f[6:], p.srcMAC[:])
	binary.BigEndian.PutUint16(f[12:], etherTypeIPv4)

	ip := f[ethHeaderLen:]
	ip[0] = 0x45 // version 4, 5 words of header
	binary.BigEndian.PutUint16(ip[2:], uint16(total))
	ip[8] = ipv4TTL
	ip[9] = protoUDP
	put4(ip[12:], p.srcIP)
	put4(ip[16:], p.dstIP)
	binary.BigEndian.PutUint16(ip[10:], csum.Checksum(ip[:ipv4HeaderLen], 0))

	udp := ip[ipv4HeaderLen:]
	binary.BigEndian.PutUint16(udp[0:], p.srcPort)
	binary.BigEndian.PutUint16(udp[2:], p.dstPort)
	binary.BigEndian.PutUint16(udp[4:], uint16(udpHeaderLen+len(p.payload)))
	sum := csum.Checksum(udp, csum.PseudoHeader(ip[12:20], protoUDP, len(udp)))
	if sum == 0 {
		sum = 0xffff // zero would mean "no checksum" (RFC 768)
	}
	binary.BigEndian.PutUint16(udp[6:], sum)
	return b
}
