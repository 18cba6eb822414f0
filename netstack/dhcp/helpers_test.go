package dhcp

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/internal/csum"
)

var (
	clientMAC = [6]byte{0x00, 0x16, 0x3e, 0x00, 0x00, 0x01}
	otherMAC  = [6]byte{0x00, 0x16, 0x3e, 0x00, 0x00, 0x02}
	serverMAC = [6]byte{0x00, 0x16, 0x3e, 0x00, 0x00, 0xfe}
	serverIP  = netip.MustParseAddr("10.0.0.1")
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func newServer() *Server {
	return &Server{
		MAC:     serverMAC[:],
		Addr:    netip.MustParsePrefix("10.0.0.1/24"),
		Gateway: serverIP,
		DNS:     []netip.Addr{ip("10.0.0.53"), ip("2001:db8::53"), ip("9.9.9.9")},
		Lease:   2 * time.Hour,
	}
}

// fastBackoff shortens the retransmission timeouts for the test.
func fastBackoff(t testing.TB) {
	base, max := backoffBase, backoffMax
	backoffBase, backoffMax = time.Millisecond, 4*time.Millisecond
	t.Cleanup(func() { backoffBase, backoffMax = base, max })
}

// requestFrame wraps m the way a client sends it: broadcast from 0.0.0.0:68 to 255.255.255.255:67.
func requestFrame(m message) []byte {
	m.op = bootRequest
	return appendPacket(nil, &packet{
		dstMAC: broadcastMAC, srcMAC: m.chaddr,
		srcIP: zeroIP, dstIP: broadcastIP,
		srcPort: clientPort, dstPort: serverPort,
		payload: appendMessage(nil, &m),
	})
}

// replyFrame wraps m the way the test server sends it: broadcast from 10.0.0.1:67.
func replyFrame(m message) []byte {
	m.op = bootReply
	return appendPacket(nil, &packet{
		dstMAC: broadcastMAC, srcMAC: serverMAC,
		srcIP: serverIP, dstIP: broadcastIP,
		srcPort: serverPort, dstPort: clientPort,
		payload: appendMessage(nil, &m),
	})
}

// offer is a well-formed OFFER for clientMAC.
func offer(xid uint32) message {
	return message{
		op: bootReply, xid: xid, chaddr: clientMAC, typ: msgOffer,
		yiaddr: ip("10.0.0.2"), serverID: serverIP, maskBits: 24,
		routers: []netip.Addr{serverIP}, dns: []netip.Addr{ip("10.0.0.53")},
		leaseSecs: 3600, hasLease: true,
	}
}

// decode parses a frame the package built; the test fails if it cannot.
func decode(t testing.TB, frame []byte) (packet, message) {
	t.Helper()
	p, err := parsePacket(frame)
	require.NoError(t, err)
	m, err := parseMessage(p.payload)
	require.NoError(t, err)
	return p, m
}

// rewrite decodes a frame, lets edit change the message and encodes it again with the same
// addresses and ports.
func rewrite(t testing.TB, frame []byte, edit func(*message)) []byte {
	t.Helper()
	p, m := decode(t, frame)
	edit(&m)
	p.payload = appendMessage(nil, &m)
	return appendPacket(nil, &p)
}

// fixChecksums recomputes the IPv4 header and UDP checksums of frame in place, where the
// header lengths allow it, so that tests and fuzz targets can reach the layers behind them.
func fixChecksums(frame []byte) {
	if len(frame) < ethHeaderLen+ipv4HeaderLen {
		return
	}
	ip := frame[ethHeaderLen:]
	ihl := int(ip[0]&0x0f) * 4
	if ihl < ipv4HeaderLen || ihl > len(ip) {
		return
	}
	ip[10], ip[11] = 0, 0
	binary.BigEndian.PutUint16(ip[10:], csum.Checksum(ip[:ihl], 0))
	total := int(binary.BigEndian.Uint16(ip[2:]))
	if total < ihl+udpHeaderLen || total > len(ip) {
		return
	}
	udp := ip[ihl:total]
	ulen := int(binary.BigEndian.Uint16(udp[4:]))
	if ulen < udpHeaderLen || ulen > len(udp) {
		return
	}
	udp[6], udp[7] = 0, 0
	sum := csum.Checksum(udp[:ulen], csum.PseudoHeader(ip[12:20], protoUDP, ulen))
	if sum == 0 {
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(udp[6:], sum)
}
