package dhcp

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func discover(mac [6]byte, xid uint32) message {
	return message{xid: xid, chaddr: mac, typ: msgDiscover, params: []byte{1, 3, 6}}
}

func request(mac [6]byte, xid uint32, want, server netip.Addr) message {
	return message{xid: xid, chaddr: mac, typ: msgRequest, requested: want, serverID: server}
}

func TestServerHandle(t *testing.T) {
	type step struct {
		frame []byte
		// Expected reply; typ 0 means none.
		typ            msgType
		yiaddr, ciaddr netip.Addr
		dstMAC         [6]byte
		dstIP          netip.Addr
	}
	a2, a3 := ip("10.0.0.2"), ip("10.0.0.3")
	bcastFlag := func(m message) message { m.flags = flagBroadcast; return m }
	renew := func(mac [6]byte, ciaddr netip.Addr) message {
		m := request(mac, 9, netip.Addr{}, netip.Addr{})
		m.ciaddr = ciaddr
		return m
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"DISCOVER gets an OFFER unicast to yiaddr at chaddr", []step{
			{frame: requestFrame(discover(clientMAC, 1)), typ: msgOffer, yiaddr: a2, dstMAC: clientMAC, dstIP: a2},
		}},
		{"broadcast flag gets a broadcast OFFER", []step{
			{frame: requestFrame(bcastFlag(discover(clientMAC, 1))), typ: msgOffer, yiaddr: a2, dstMAC: broadcastMAC, dstIP: broadcastIP},
		}},
		{"same MAC keeps its address, next MAC gets the next", []step{
			{frame: requestFrame(discover(clientMAC, 1)), typ: msgOffer, yiaddr: a2, dstMAC: clientMAC, dstIP: a2},
			{frame: requestFrame(discover(otherMAC, 2)), typ: msgOffer, yiaddr: a3, dstMAC: otherMAC, dstIP: a3},
			{frame: requestFrame(discover(clientMAC, 3)), typ: msgOffer, yiaddr: a2, dstMAC: clientMAC, dstIP: a2},
		}},
		{"REQUEST of the offer gets an ACK", []step{
			{frame: requestFrame(discover(clientMAC, 1)), typ: msgOffer, yiaddr: a2, dstMAC: clientMAC, dstIP: a2},
			{frame: requestFrame(request(clientMAC, 1, a2, serverIP)), typ: msgAck, yiaddr: a2, dstMAC: clientMAC, dstIP: a2},
		}},
		{"REQUEST choosing another server is not answered", []step{
			{frame: requestFrame(discover(clientMAC, 1)), typ: msgOffer, yiaddr: a2, dstMAC: clientMAC, dstIP: a2},
			{frame: requestFrame(request(clientMAC, 1, a2, ip("10.0.0.99")))},
		}},
		{"REQUEST of another address gets a broadcast NAK", []step{
			{frame: requestFrame(discover(clientMAC, 1)), typ: msgOffer, yiaddr: a2, dstMAC: clientMAC, dstIP: a2},
			{frame: requestFrame(request(clientMAC, 1, a3, serverIP)), typ: msgNak, yiaddr: zeroIP, dstMAC: broadcastMAC, dstIP: broadcastIP},
		}},
		{"REQUEST from a client never offered anything gets a NAK", []step{
			{frame: requestFrame(request(clientMAC, 1, a2, serverIP)), typ: msgNak, yiaddr: zeroIP, dstMAC: broadcastMAC, dstIP: broadcastIP},
		}},
		{"REQUEST with neither option 50 nor ciaddr gets a NAK", []step{
			{frame: requestFrame(discover(clientMAC, 1)), typ: msgOffer, yiaddr: a2, dstMAC: clientMAC, dstIP: a2},
			{frame: requestFrame(request(clientMAC, 1, netip.Addr{}, netip.Addr{})), typ: msgNak, yiaddr: zeroIP, dstMAC: broadcastMAC, dstIP: broadcastIP},
		}},
		{"INIT-REBOOT (no server id) gets an ACK", []step{
			{frame: requestFrame(discover(clientMAC, 1)), typ: msgOffer, yiaddr: a2, dstMAC: clientMAC, dstIP: a2},
			{frame: requestFrame(request(clientMAC, 5, a2, netip.Addr{})), typ: msgAck, yiaddr: a2, dstMAC: clientMAC, dstIP: a2},
		}},
		{"RENEWING (ciaddr) gets an ACK unicast to ciaddr", []step{
			{frame: requestFrame(discover(clientMAC, 1)), typ: msgOffer, yiaddr: a2, dstMAC: clientMAC, dstIP: a2},
			{frame: requestFrame(bcastFlag(renew(clientMAC, a2))), typ: msgAck, yiaddr: a2, ciaddr: a2, dstMAC: clientMAC, dstIP: a2},
		}},
		{"RENEWING another address gets a NAK", []step{
			{frame: requestFrame(discover(clientMAC, 1)), typ: msgOffer, yiaddr: a2, dstMAC: clientMAC, dstIP: a2},
			{frame: requestFrame(renew(clientMAC, a3)), typ: msgNak, yiaddr: zeroIP, ciaddr: zeroIP, dstMAC: broadcastMAC, dstIP: broadcastIP},
		}},
		{"unicast to the server is served", []step{{
			frame: func() []byte {
				m := discover(clientMAC, 1)
				m.op = bootRequest
				return appendPacket(nil, &packet{dstMAC: serverMAC, srcMAC: clientMAC, srcIP: zeroIP, dstIP: serverIP,
					srcPort: clientPort, dstPort: serverPort, payload: appendMessage(nil, &m)})
			}(),
			typ: msgOffer, yiaddr: a2, dstMAC: clientMAC, dstIP: a2,
		}}},
		{"ignored: other unicast MAC", []step{{frame: func() []byte {
			m := discover(clientMAC, 1)
			m.op = bootRequest
			return appendPacket(nil, &packet{dstMAC: otherMAC, srcMAC: clientMAC, srcIP: zeroIP, dstIP: broadcastIP,
				srcPort: clientPort, dstPort: serverPort, payload: appendMessage(nil, &m)})
		}()}}},
		{"ignored: other IP destination", []step{{frame: func() []byte {
			m := discover(clientMAC, 1)
			m.op = bootRequest
			return appendPacket(nil, &packet{dstMAC: broadcastMAC, srcMAC: clientMAC, srcIP: zeroIP, dstIP: ip("10.0.0.99"),
				srcPort: clientPort, dstPort: serverPort, payload: appendMessage(nil, &m)})
		}()}}},
		{"ignored: wrong ports", []step{{frame: func() []byte {
			m := discover(clientMAC, 1)
			m.op = bootRequest
			return appendPacket(nil, &packet{dstMAC: broadcastMAC, srcMAC: clientMAC, srcIP: zeroIP, dstIP: broadcastIP,
				srcPort: serverPort, dstPort: serverPort, payload: appendMessage(nil, &m)})
		}()}}},
		{"ignored: a reply", []step{{frame: replyFrame(offer(1))}}},
		{"ignored: relayed", []step{{frame: func() []byte {
			m := discover(clientMAC, 1)
			m.giaddr = ip("10.1.0.1")
			return requestFrame(m)
		}()}}},
		{"ignored: multicast chaddr", []step{{frame: requestFrame(discover([6]byte{1, 0, 0x5e, 0, 0, 1}, 1))}}},
		{"ignored: zero chaddr", []step{{frame: requestFrame(discover([6]byte{}, 1))}}},
		{"ignored: INFORM, RELEASE, DECLINE", []step{
			{frame: requestFrame(message{xid: 1, chaddr: clientMAC, typ: msgInform})},
			{frame: requestFrame(message{xid: 1, chaddr: clientMAC, typ: msgRelease})},
			{frame: requestFrame(message{xid: 1, chaddr: clientMAC, typ: msgDecline})},
		}},
		{"ignored: not DHCP", []step{{frame: []byte("not a frame")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer()
			for i, st := range tt.steps {
				reply, ok := s.Handle(st.frame)
				if st.typ == 0 {
					assert.False(t, ok, "step %d", i)
					assert.Nil(t, reply, "step %d", i)
					continue
				}
				require.True(t, ok, "step %d", i)
				p, m := decode(t, reply)
				_, req := decode(t, st.frame)
				assert.Equal(t, st.typ, m.typ, "step %d", i)
				assert.Equal(t, uint8(bootReply), m.op)
				assert.Equal(t, req.xid, m.xid)
				assert.Equal(t, req.flags, m.flags)
				assert.Equal(t, req.chaddr, m.chaddr)
				assert.Equal(t, st.yiaddr, m.yiaddr)
				if st.ciaddr.IsValid() {
					assert.Equal(t, st.ciaddr, m.ciaddr)
				}
				assert.Equal(t, serverIP, m.serverID)
				assert.Equal(t, serverMAC, p.srcMAC)
				assert.Equal(t, serverIP, p.srcIP)
				assert.Equal(t, st.dstMAC, p.dstMAC)
				assert.Equal(t, st.dstIP, p.dstIP)
				assert.Equal(t, uint16(serverPort), p.srcPort)
				assert.Equal(t, uint16(clientPort), p.dstPort)
				if m.typ == msgNak {
					assert.False(t, m.hasLease)
					assert.Zero(t, m.maskBits)
					continue
				}
				assert.Equal(t, 24, m.maskBits)
				assert.Equal(t, []netip.Addr{serverIP}, m.routers)
				assert.Equal(t, []netip.Addr{ip("10.0.0.53"), ip("9.9.9.9")}, m.dns, "IPv6 server skipped")
				assert.True(t, m.hasLease)
				assert.Equal(t, uint32(7200), m.leaseSecs)
			}
		})
	}
}

func TestServerEchoesClientID(t *testing.T) {
	m := discover(clientMAC, 1)
	m.clientID = []byte{1, 2, 3}
	reply, ok := newServer().Handle(requestFrame(m))
	require.True(t, ok)
	_, r := decode(t, reply)
	assert.Equal(t, []byte{1, 2, 3}, r.clientID)
}

func TestServerPool(t *testing.T) {
	macs := func(n int) [][6]byte {
		out := make([][6]byte, n)
		for i := range out {
			out[i] = [6]byte{0x02, 0, 0, 0, byte(i >> 8), byte(i)}
		}
		return out
	}
	tests := []struct {
		name    string
		addr    string
		gateway string
		first   string
		clients int
		want    []string // addresses handed out, in order; fewer than clients when exhausted
	}{
		{"after the server by default", "10.0.0.1/24", "", "", 2, []string{"10.0.0.2", "10.0.0.3"}},
		{"from First", "10.0.0.1/24", "", "10.0.0.100", 2, []string{"10.0.0.100", "10.0.0.101"}},
		{"skips server and gateway", "10.0.0.5/24", "10.0.0.6", "10.0.0.4", 3, []string{"10.0.0.4", "10.0.0.7", "10.0.0.8"}},
		{"stops before the broadcast address", "10.0.0.1/24", "", "10.0.0.253", 3, []string{"10.0.0.253", "10.0.0.254"}},
		{"/30 has one address left", "192.168.0.1/30", "", "", 2, []string{"192.168.0.2"}},
		{"skips the network address", "10.0.0.9/24", "", "10.0.0.0", 1, []string{"10.0.0.1"}},
		{"First outside the subnet", "10.0.0.1/24", "", "10.0.1.5", 1, nil},
		{"First not IPv4", "10.0.0.1/24", "", "fd00::5", 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer()
			s.Addr = netip.MustParsePrefix(tt.addr)
			s.Gateway = netip.Addr{}
			if tt.gateway != "" {
				s.Gateway = ip(tt.gateway)
			}
			if tt.first != "" {
				s.First = ip(tt.first)
			}
			var got []string
			for i, mac := range macs(tt.clients) {
				reply, ok := s.Handle(requestFrame(discover(mac, uint32(i))))
				if !ok {
					continue
				}
				_, m := decode(t, reply)
				got = append(got, m.yiaddr.String())
			}
			assert.Equal(t, tt.want, got)
		})
	}

	t.Run("bounded", func(t *testing.T) {
		s := newServer()
		s.Addr = netip.MustParsePrefix("10.0.0.1/16")
		for i, mac := range macs(maxBindings) {
			_, ok := s.Handle(requestFrame(discover(mac, uint32(i))))
			require.True(t, ok, "client %d", i)
		}
		_, ok := s.Handle(requestFrame(discover([6]byte{0x02, 1, 2, 3, 4, 5}, 1)))
		assert.False(t, ok)
		_, ok = s.Handle(requestFrame(discover(macs(1)[0], 1)))
		assert.True(t, ok, "known clients still served")
	})
}

func TestServerConfig(t *testing.T) {
	tests := []struct {
		name string
		edit func(s *Server)
	}{
		{"no MAC", func(s *Server) { s.MAC = nil }},
		{"long MAC", func(s *Server) { s.MAC = make([]byte, 8) }},
		{"no address", func(s *Server) { s.Addr = netip.Prefix{} }},
		{"IPv6 address", func(s *Server) { s.Addr = netip.MustParsePrefix("fd00::1/64") }},
		{"/31", func(s *Server) { s.Addr = netip.MustParsePrefix("10.0.0.1/31") }},
		{"/0", func(s *Server) { s.Addr = netip.MustParsePrefix("10.0.0.1/0") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer()
			tt.edit(s)
			_, ok := s.Handle(requestFrame(discover(clientMAC, 1)))
			assert.False(t, ok)
		})
	}
}

func TestServerLeaseTime(t *testing.T) {
	tests := []struct {
		lease time.Duration
		want  uint32
	}{
		{0, 3600},
		{-time.Second, 3600},
		{90 * time.Minute, 5400},
		{time.Millisecond, 1},
		{1<<32*time.Second - time.Second, 0xffffffff},
		{200 * 365 * 24 * time.Hour, 0xffffffff},
	}
	for _, tt := range tests {
		t.Run(tt.lease.String(), func(t *testing.T) {
			s := newServer()
			s.Lease = tt.lease
			reply, ok := s.Handle(requestFrame(discover(clientMAC, 1)))
			require.True(t, ok)
			_, m := decode(t, reply)
			assert.Equal(t, tt.want, m.leaseSecs)
		})
	}
}

// TestServerConcurrent hands out addresses from many goroutines: each client keeps one
// address and no two clients share one.
func TestServerConcurrent(t *testing.T) {
	s := newServer()
	const clients, rounds = 50, 4
	addrs := make([]netip.Addr, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mac := [6]byte{0x02, 0, 0, 0, 0, byte(i)}
			for r := range rounds {
				reply, ok := s.Handle(requestFrame(discover(mac, uint32(r))))
				if !assert.True(t, ok) {
					return
				}
				p, err := parsePacket(reply)
				if !assert.NoError(t, err) {
					return
				}
				m, err := parseMessage(p.payload)
				if !assert.NoError(t, err) {
					return
				}
				if r > 0 && m.yiaddr != addrs[i] {
					t.Errorf("client %d moved from %v to %v", i, addrs[i], m.yiaddr)
				}
				addrs[i] = m.yiaddr
			}
		}()
	}
	wg.Wait()
	seen := map[netip.Addr]bool{}
	for i, a := range addrs {
		require.False(t, seen[a], fmt.Sprintf("client %d: %v handed out twice", i, a))
		seen[a] = true
	}
}
