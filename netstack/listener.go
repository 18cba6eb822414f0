// TCP listeners that keep within the stack's connection limits.

package netstack

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// listener is a net.Listener on a gVisor TCP endpoint listening with the stack's backlog.
// Accept resets, rather than returns, a connection that would take the guest past
// Limits.Conns accepted connections, or past 4 × Conns in any connected state: an abortive
// close, so it does not linger in TIME-WAIT either.
type listener struct {
	s      *Stack
	ep     tcpip.Endpoint
	wq     *waiter.Queue
	closed chan struct{}
	once   sync.Once
}

// listenTCP opens a listener on addr for network protocol proto.
func (s *Stack) listenTCP(addr tcpip.FullAddress, proto tcpip.NetworkProtocolNumber) (*listener, error) {
	l := &listener{s: s, wq: new(waiter.Queue), closed: make(chan struct{})}
	ep, err := s.S.NewEndpoint(tcp.ProtocolNumber, proto, l.wq)
	if err != nil {
		return nil, errors.New(err.String())
	}
	if err := ep.Bind(addr); err != nil {
		ep.Close()
		return nil, errors.New(err.String())
	}
	if err := ep.Listen(s.limits.Backlog); err != nil {
		ep.Close()
		return nil, errors.New(err.String())
	}
	l.ep = ep
	return l, nil
}

// Accept implements net.Listener.
func (l *listener) Accept() (net.Conn, error) {
	entry, ready := waiter.NewChannelEntry(waiter.ReadableEvents)
	l.wq.EventRegister(&entry)
	defer l.wq.EventUnregister(&entry)
	for {
		n, wq, err := l.ep.Accept(nil)
		if _, ok := err.(*tcpip.ErrWouldBlock); ok {
			select {
			case <-l.closed:
				return nil, l.opError(net.ErrClosed)
			case <-ready:
			}
			continue
		}
		if err != nil {
			select {
			case <-l.closed:
				return nil, l.opError(net.ErrClosed)
			default:
			}
			return nil, l.opError(errors.New(err.String()))
		}
		if !l.s.admitConn() {
			// Abortive close: a RST, no TIME-WAIT.
			n.SocketOptions().SetLinger(tcpip.LingerOption{Enabled: true, Timeout: 0})
			n.Close()
			continue
		}
		return &conn{TCPConn: gonet.NewTCPConn(wq, n), s: l.s}, nil
	}
}

func (l *listener) opError(err error) error {
	return &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: err}
}

// Close implements net.Listener: a pending Accept returns net.ErrClosed.
func (l *listener) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.ep.Close()
	})
	return nil
}

// Addr implements net.Listener.
func (l *listener) Addr() net.Addr {
	a, err := l.ep.GetLocalAddress()
	if err != nil {
		return &net.TCPAddr{}
	}
	return &net.TCPAddr{IP: net.IP(a.Addr.AsSlice()), Port: int(a.Port)}
}

// conn is an accepted connection, counted against Limits.Conns until closed.
type conn struct {
	*gonet.TCPConn
	s    *Stack
	once sync.Once
}

// Close implements net.Conn.
func (c *conn) Close() error {
	c.once.Do(func() { c.s.conns.Add(-1) })
	return c.TCPConn.Close()
}

// admitConn takes a place for an accepted connection, or counts it refused.
func (s *Stack) admitConn() bool {
	if s.conns.Add(1) > int64(s.limits.Conns) ||
		s.S.Stats().TCP.CurrentConnected.Value() > uint64(4*s.limits.Conns) {
		s.conns.Add(-1)
		s.connsRefused.Add(1)
		return false
	}
	return true
}

// connCounters: accepted connections open now, and those reset for want of room.
type connCounters struct {
	conns        atomic.Int64
	connsRefused atomic.Uint64
}
