// TCP listeners that keep within the stack's connection limits.

package netstack

import (
	"errors"
	"net"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// listener is a net.Listener on a gVisor TCP endpoint listening with the stack's backlog.
// Accept resets, rather than returns, a connection that would take the guest past
// Limits.Conns accepted connections open, or past as many again closed but still holding
// buffers: an abortive close, so it does not linger in TIME-WAIT either.
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
		ok, fast := l.s.admitConn()
		if !ok {
			// Abortive close: a RST, no TIME-WAIT.
			n.SocketOptions().SetLinger(tcpip.LingerOption{Enabled: true, Timeout: 0})
			n.Close()
			continue
		}
		buf := l.s.limits.TCPBuffer
		if fast {
			buf = l.s.limits.FastBuffer
		}
		n.SocketOptions().SetSendBufferSize(int64(buf), true)
		n.SocketOptions().SetReceiveBufferSize(int64(buf), true)
		// Data the peer leaves unacknowledged (a closed window included) ends the connection
		// after the stall limit, so a closed connection cannot hold its buffers for ever.
		ut := tcpip.TCPUserTimeoutOption(l.s.limits.Stall)
		_ = n.SetSockOpt(&ut)
		return &conn{TCPConn: gonet.NewTCPConn(wq, n), s: l.s, ep: n, fast: fast}, nil
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

// conn is an accepted connection, holding a place under Limits.Conns until closed, and one of
// the as many places for closed connections until its endpoint lets go of its buffers.
type conn struct {
	*gonet.TCPConn
	s    *Stack
	ep   tcpip.Endpoint
	fast bool // has Limits.FastBuffer
	once sync.Once
}

// Close implements net.Conn.
func (c *conn) Close() error {
	err := c.TCPConn.Close()
	c.once.Do(func() { c.s.closed(lingerer{c.ep, c.fast}) })
	return err
}

// lingerer is a connection the program closed, whose endpoint may still hold buffers.
type lingerer struct {
	ep   tcpip.Endpoint
	fast bool
}

// admission counts accepted connections: open ones, and closed ones whose endpoints may still
// hold buffers (unsent data in FIN-WAIT, a peer that will not read; the user timeout ends that).
// TIME-WAIT holds none, so it does not count.
type admission struct {
	mu        sync.Mutex // guards the fields below
	open      int        // accepted and not closed by the program
	fast      int        // of the open and lingering ones, those with FastBuffer
	lingering []lingerer // closed by the program, not yet in TIME-WAIT or closed
	refused   uint64     // reset on accept for want of room
}

// admitConn takes a place for an accepted connection, or counts it refused: the program may
// hold Limits.Conns open, and as many again may linger after it closed them. fast says the
// connection may have Limits.FastBuffer, while fewer than FastConns have it.
func (s *Stack) admitConn() (ok, fast bool) {
	a := &s.adm
	a.mu.Lock()
	defer a.mu.Unlock()
	keep := a.lingering[:0]
	for _, c := range a.lingering {
		switch tcp.EndpointState(c.ep.State()) {
		case tcp.StateTimeWait, tcp.StateClose, tcp.StateError:
			if c.fast {
				a.fast--
			}
		default:
			keep = append(keep, c)
		}
	}
	clear(a.lingering[len(keep):])
	a.lingering = keep
	if a.open >= s.limits.Conns || a.open+len(a.lingering) >= 2*s.limits.Conns {
		a.refused++
		return false, false
	}
	a.open++
	if fast = a.fast < s.limits.FastConns; fast {
		a.fast++
	}
	return true, fast
}

// closed moves a connection the program closed from open to lingering.
func (s *Stack) closed(c lingerer) {
	a := &s.adm
	a.mu.Lock()
	defer a.mu.Unlock()
	a.open--
	a.lingering = append(a.lingering, c) // within the capacity admitConn keeps it to
}

// admitted returns the accepted connections open and lingering, and those refused.
func (s *Stack) admitted() (open, lingering int, refused uint64) {
	a := &s.adm
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.open, len(a.lingering), a.refused
}
