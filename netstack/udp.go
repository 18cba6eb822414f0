// UDP sockets whose receive queues are bounded in datagrams, not only in bytes.

package netstack

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// gVisor charges a UDP socket's receive queue with each datagram's payload only, so empty or
// tiny datagrams queue without limit while the reader falls behind: 50,000 empty ones grew a
// heap by 34 MiB. The stack's sockets are udpSocks, which count what their reader takes, and
// the UDP protocol's Parse (see checked.go) asks udpQueues whether the socket a datagram is
// for has Limits.UDPQueue datagrams waiting already; if so the datagram is dropped before
// gVisor sees it (and counted). What waits is exact: the datagrams gVisor's endpoint took,
// less those it dropped for a full or closed queue, less those read.

// udpSock is a UDP socket of the stack.
type udpSock struct {
	*gonet.UDPConn
	ep    tcpip.Endpoint
	port  uint16
	q     *udpQueues
	reads atomic.Uint64
	once  sync.Once
}

// waiting is how many datagrams the socket's queue holds.
func (u *udpSock) waiting() uint64 {
	st, ok := u.ep.Stats().(*tcpip.TransportEndpointStats)
	if !ok {
		return 0
	}
	in := st.PacketsReceived.Value() - st.ReceiveErrors.ClosedReceiver.Value() - st.ReceiveErrors.ReceiveBufferOverflow.Value()
	if r := u.reads.Load(); in > r {
		return in - r
	}
	return 0
}

// ReadFrom implements net.PacketConn.
func (u *udpSock) ReadFrom(b []byte) (int, net.Addr, error) {
	n, a, err := u.UDPConn.ReadFrom(b)
	if err == nil {
		u.reads.Add(1)
	}
	return n, a, err
}

// Read implements net.Conn (a connected UDP socket).
func (u *udpSock) Read(b []byte) (int, error) {
	n, _, err := u.ReadFrom(b)
	return n, err
}

// Close implements net.PacketConn.
func (u *udpSock) Close() error {
	u.once.Do(func() { u.q.remove(u) })
	return u.UDPConn.Close()
}

// udpQueues finds the stack's UDP sockets by local port.
type udpQueues struct {
	mu    sync.RWMutex // guards socks
	socks map[uint16][]*udpSock
	limit uint64 // Limits.UDPQueue
	drops atomic.Uint64
}

func (q *udpQueues) add(u *udpSock) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.socks == nil {
		q.socks = make(map[uint16][]*udpSock)
	}
	q.socks[u.port] = append(q.socks[u.port], u)
}

func (q *udpQueues) remove(u *udpSock) {
	q.mu.Lock()
	defer q.mu.Unlock()
	l := q.socks[u.port]
	for i, v := range l {
		if v == u {
			l = append(l[:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(q.socks, u.port)
	} else {
		q.socks[u.port] = l
	}
}

// admit reports whether a UDP datagram may go up: not when a socket on its destination port
// has its queue full. pkt's data starts at the UDP header.
func (q *udpQueues) admit(pkt *stack.PacketBuffer) bool {
	if q == nil {
		return true
	}
	h, ok := pkt.Data().PullUp(udpHeaderLen)
	if !ok {
		return true // the protocol drops it as malformed
	}
	port := binary.BigEndian.Uint16(h[2:])
	q.mu.RLock()
	defer q.mu.RUnlock()
	for _, u := range q.socks[port] {
		if u.waiting() >= q.limit {
			q.drops.Add(1)
			return false
		}
	}
	return true
}

const udpHeaderLen = 8

// dialUDP opens a UDP socket bound to laddr and connected to raddr (either may be nil), its
// queue bounded as above.
func (s *Stack) dialUDP(laddr, raddr *tcpip.FullAddress, proto tcpip.NetworkProtocolNumber) (*udpSock, error) {
	var wq waiter.Queue
	ep, err := s.S.NewEndpoint(udp.ProtocolNumber, proto, &wq)
	if err != nil {
		return nil, errors.New(err.String())
	}
	fail := func(op string, a *tcpip.FullAddress, err tcpip.Error) (*udpSock, error) {
		ep.Close()
		return nil, &net.OpError{Op: op, Net: "udp", Addr: &net.UDPAddr{IP: net.IP(a.Addr.AsSlice()), Port: int(a.Port)}, Err: errors.New(err.String())}
	}
	if laddr != nil {
		if err := ep.Bind(*laddr); err != nil {
			return fail("bind", laddr, err)
		}
	}
	if raddr != nil {
		if err := ep.Connect(*raddr); err != nil {
			return fail("connect", raddr, err)
		}
	}
	if laddr == nil && raddr == nil {
		// An unbound, unconnected socket has no port yet; bind one now so the queue has a
		// home (a later implicit bind on send would escape the bound).
		if err := ep.Bind(tcpip.FullAddress{}); err != nil {
			return fail("bind", &tcpip.FullAddress{}, err)
		}
	}
	// gVisor's own bound on the queue's payload bytes, to the same budget.
	ep.SocketOptions().SetReceiveBufferSize(int64(s.limits.UDPQueue*udpCost), true)
	la, terr := ep.GetLocalAddress()
	if terr != nil {
		return fail("bind", &tcpip.FullAddress{}, terr)
	}
	u := &udpSock{UDPConn: gonet.NewUDPConn(&wq, ep), ep: ep, port: la.Port, q: &s.udpq}
	s.udpq.add(u)
	return u, nil
}
