// The server: one subnet, one stable address per client hardware address.

package dhcp

import (
	"math"
	"net"
	"net/netip"
	"sync"
	"time"
)

const (
	// defaultLease is the lease time when Server.Lease is not set.
	defaultLease = time.Hour

	// maxBindings bounds the server's memory: every DISCOVER from a new hardware address
	// takes an address for good, and the hardware address is whatever the sender wrote.
	maxBindings = 4096
)

// Server answers DHCP requests on one subnet. Set its exported fields before the first
// Handle and leave them alone afterwards; Handle may then be called from any goroutine.
type Server struct {
	MAC     net.HardwareAddr // the server's Ethernet address
	Addr    netip.Prefix     // the server's IPv4 address and the subnet it serves, e.g. 10.0.0.1/24
	Gateway netip.Addr       // router for clients (option 3), if valid
	DNS     []netip.Addr     // name servers for clients (option 6); IPv6 entries are skipped
	Lease   time.Duration    // lease time; 0 means one hour, beyond 2³²-1 s means forever
	// First is the first address handed out; later clients get the next free ones, skipping
	// the server's and the gateway's addresses. Zero means the address after Addr's.
	First netip.Addr

	mu       sync.Mutex             // guards the fields below
	bindings map[[6]byte]netip.Addr // the address of each client hardware address
	next     netip.Addr             // next address never handed out, once the pool is in use
}

// Handle takes a received Ethernet frame. For a DHCPDISCOVER it returns the OFFER to send;
// for a DHCPREQUEST addressed to this server (or to no server in particular) the ACK, or a NAK
// when the requested address is not the one this server gave that client. Anything else,
// including requests that chose another server, relayed requests and malformed frames, gives
// ok == false. The reply is a new slice.
func (s *Server) Handle(frame []byte) (reply []byte, ok bool) {
	if !s.valid() {
		return nil, false
	}
	p, err := parsePacket(frame)
	if err != nil || p.srcPort != clientPort || p.dstPort != serverPort {
		return nil, false
	}
	if p.dstMAC != broadcastMAC && p.dstMAC != [6]byte(s.MAC) {
		return nil, false
	}
	if p.dstIP != broadcastIP && p.dstIP != s.Addr.Addr() {
		return nil, false
	}
	m, err := parseMessage(p.payload)
	if err != nil || m.op != bootRequest {
		return nil, false
	}
	// Relayed requests (giaddr set) are another subnet's; a multicast or all-zero chaddr is
	// not a NIC we could answer.
	if !m.giaddr.IsUnspecified() || m.chaddr[0]&1 != 0 || m.chaddr == [6]byte{} {
		return nil, false
	}

	switch m.typ {
	case msgDiscover:
		addr, ok := s.bind(m.chaddr)
		if !ok {
			return nil, false // pool exhausted
		}
		return s.reply(&m, msgOffer, addr), true

	case msgRequest:
		// SELECTING: a server identifier names the server the client chose; if it is
		// another one, the client has declined our offer.
		if m.serverID.IsValid() && m.serverID != s.Addr.Addr() {
			return nil, false
		}
		// SELECTING and INIT-REBOOT put the address in option 50, RENEWING and
		// REBINDING in ciaddr (RFC 2131 section 4.3.2).
		want := m.requested
		if !want.IsValid() {
			want = m.ciaddr
		}
		if addr, ok := s.lookup(m.chaddr); ok && want == addr {
			return s.reply(&m, msgAck, addr), true
		}
		return s.reply(&m, msgNak, netip.Addr{}), true
	}
	return nil, false
}

// valid reports whether the server's configuration lets it serve at all.
func (s *Server) valid() bool {
	return len(s.MAC) == hlenEthernet && s.Addr.Addr().Is4() && s.Addr.Bits() >= 1 && s.Addr.Bits() <= 30
}

// bind returns the address of hardware address mac, taking the next free one from the pool
// for a new client.
func (s *Server) bind(mac [6]byte) (netip.Addr, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.bindings[mac]; ok {
		return a, true
	}
	if len(s.bindings) >= maxBindings {
		return netip.Addr{}, false
	}
	if !s.next.IsValid() {
		s.next = s.First
		if !s.next.IsValid() {
			s.next = s.Addr.Addr().Next()
		}
	}
	subnet := s.Addr.Masked()
	network, broadcast := subnet.Addr(), lastAddr(subnet)
	for a := s.next; a.Is4() && subnet.Contains(a) && a != broadcast; a = a.Next() {
		if a == network || a == s.Addr.Addr() || a == s.Gateway {
			continue
		}
		s.next = a.Next()
		if s.bindings == nil {
			s.bindings = make(map[[6]byte]netip.Addr)
		}
		s.bindings[mac] = a
		return a, true
	}
	s.next = broadcast // exhausted: later calls fail at once
	return netip.Addr{}, false
}

// lookup returns the address already given to hardware address mac.
func (s *Server) lookup(mac [6]byte) (netip.Addr, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.bindings[mac]
	return a, ok
}

// reply builds the OFFER, ACK or NAK answering req, addressed as RFC 2131 section 4.1 says
// for a request that came without a relay: a NAK is broadcast; other replies go to ciaddr if
// the client has one, are broadcast if the client asked for it, and otherwise are unicast to
// yiaddr at chaddr (which our own Client accepts, having no IP layer yet).
func (s *Server) reply(req *message, typ msgType, yiaddr netip.Addr) []byte {
	m := message{
		op:       bootReply,
		xid:      req.xid,
		flags:    req.flags,
		giaddr:   req.giaddr,
		chaddr:   req.chaddr,
		typ:      typ,
		serverID: s.Addr.Addr(),
		clientID: req.clientID, // RFC 6842
	}
	if typ != msgNak {
		m.yiaddr = yiaddr
		if typ == msgAck {
			m.ciaddr = req.ciaddr
		}
		m.leaseSecs, m.hasLease = s.leaseSecs(), true
		m.maskBits = s.Addr.Bits()
		if s.Gateway.Is4() {
			m.routers = []netip.Addr{s.Gateway}
		}
		m.dns = s.DNS // appendMessage skips what is not IPv4
	}

	dstMAC, dstIP := req.chaddr, yiaddr
	switch {
	case typ == msgNak || (req.flags&flagBroadcast != 0 && req.ciaddr.IsUnspecified()):
		dstMAC, dstIP = broadcastMAC, broadcastIP
	case !req.ciaddr.IsUnspecified():
		dstIP = req.ciaddr
	}
	return appendPacket(nil, &packet{
		dstMAC: dstMAC, srcMAC: [6]byte(s.MAC),
		srcIP: s.Addr.Addr(), dstIP: dstIP,
		srcPort: serverPort, dstPort: clientPort,
		payload: appendMessage(nil, &m),
	})
}

func (s *Server) leaseSecs() uint32 {
	d := s.Lease
	if d <= 0 {
		d = defaultLease
	}
	secs := d / time.Second
	switch {
	case secs < 1:
		return 1
	case secs >= math.MaxUint32:
		return math.MaxUint32 // infinite
	}
	return uint32(secs)
}
