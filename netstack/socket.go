// Sockets: TamaGo's net.SocketFunc, and direct use of the stack.

package netstack

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
)

// Socket opens a socket on the stack. Its signature is TamaGo's net.SocketFunc: with
// GOOS=tamago the net package calls it for every Listen, Dial and ListenPacket, and expects a
// net.Listener (stream socket with a local address only), a net.Conn (stream socket with a
// remote address) or a net.PacketConn (datagram socket).
//
// family (syscall.AF_INET or AF_INET6) picks the protocol. An AF_INET6 socket bound to the
// unspecified address is dual-stack: it also accepts IPv4, as Go's ":80" listeners expect.
//
// TamaGo's net package asks for AF_INET whenever "tcp" or "udp" listens on the unspecified
// address (it believes the platform has no IPv4-mapped IPv6 addresses). A "tcp" listener is
// made dual-stack here all the same, so net.Listen("tcp", ":80") and net/http accept IPv6.
// A "udp" socket cannot be: net converts every datagram's source to the socket's family, and
// an IPv6 source has no AF_INET form, so it stays IPv4-only; "udp6" (dual-stack here too) and
// the stack's own ListenPacket serve both families.
func (s *Stack) Socket(ctx context.Context, network string, family, sotype int, laddr, raddr net.Addr) (any, error) {
	proto := ipv4.ProtocolNumber
	if family == syscall.AF_INET6 || network == "tcp" && sotype == syscall.SOCK_STREAM && raddr == nil && wildcard(laddr) {
		proto = ipv6.ProtocolNumber
	}
	switch sotype {
	case syscall.SOCK_STREAM:
		if raddr == nil {
			l, err := s.listenTCP(fullAddress(laddr, proto), proto)
			if err != nil {
				return nil, err
			}
			return l, nil
		}
		var local tcpip.FullAddress
		if laddr != nil {
			local = fullAddress(laddr, proto)
		}
		c, err := gonet.DialTCPWithBind(ctx, s.S, local, fullAddress(raddr, proto), proto)
		if err != nil {
			return nil, err
		}
		return c, nil
	case syscall.SOCK_DGRAM:
		var local, remote *tcpip.FullAddress
		if laddr != nil {
			a := fullAddress(laddr, proto)
			local = &a
		}
		if raddr != nil {
			a := fullAddress(raddr, proto)
			remote = &a
		}
		c, err := s.dialUDP(local, remote, proto)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, fmt.Errorf("%w: %s type %d", ErrUnsupported, network, sotype)
}

// wildcard reports whether a is nil or carries the unspecified address.
func wildcard(a net.Addr) bool {
	var ip net.IP
	switch a := a.(type) {
	case nil:
		return true
	case *net.TCPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	default:
		return false
	}
	return ip == nil || ip.IsUnspecified()
}

// fullAddress converts a net address for a socket of protocol proto. IPv4 addresses on an
// IPv6 socket become v4-mapped ones, as the kernel's dual-stack sockets have them.
func fullAddress(a net.Addr, proto tcpip.NetworkProtocolNumber) tcpip.FullAddress {
	var ip net.IP
	var port int
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, port = a.IP, a.Port
	case *net.UDPAddr:
		ip, port = a.IP, a.Port
	}
	f := tcpip.FullAddress{NIC: 0, Port: uint16(port)}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok || addr.IsUnspecified() {
		return f // any address
	}
	if proto == ipv4.ProtocolNumber {
		addr = addr.Unmap()
		if addr.Is4() {
			f.Addr = tcpip.AddrFrom4(addr.As4())
		}
		return f
	}
	if addr.Is6() && addr.Zone() != "" {
		f.NIC = nicID
	}
	f.Addr = tcpip.AddrFrom16(addr.As16())
	return f
}

// Listen listens on the stack: network "tcp", "tcp4" or "tcp6", address like ":80".
func (s *Stack) Listen(network, address string) (net.Listener, error) {
	a, err := net.ResolveTCPAddr(network, address)
	if err != nil {
		return nil, err
	}
	c, err := s.Socket(context.Background(), network, familyOf(network, a.IP), syscall.SOCK_STREAM, a, nil)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: a, Err: err}
	}
	return c.(net.Listener), nil
}

// ListenPacket opens a UDP socket on the stack: network "udp", "udp4" or "udp6".
func (s *Stack) ListenPacket(network, address string) (net.PacketConn, error) {
	a, err := net.ResolveUDPAddr(network, address)
	if err != nil {
		return nil, err
	}
	c, err := s.Socket(context.Background(), network, familyOf(network, a.IP), syscall.SOCK_DGRAM, a, nil)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: a, Err: err}
	}
	return c.(net.PacketConn), nil
}

// DialContext connects through the stack: TCP or UDP to a literal address ("10.0.0.1:80").
func (s *Stack) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var raddr net.Addr
	var ip net.IP
	sotype := syscall.SOCK_STREAM
	switch network {
	case "tcp", "tcp4", "tcp6":
		a, err := net.ResolveTCPAddr(network, address)
		if err != nil {
			return nil, err
		}
		raddr, ip = a, a.IP
	case "udp", "udp4", "udp6":
		a, err := net.ResolveUDPAddr(network, address)
		if err != nil {
			return nil, err
		}
		raddr, ip, sotype = a, a.IP, syscall.SOCK_DGRAM
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, network)
	}
	c, err := s.Socket(ctx, network, familyOf(network, ip), sotype, nil, raddr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: raddr, Err: err}
	}
	return c.(net.Conn), nil
}

// familyOf picks the socket family as Go's net package does: IPv6 for tcp6/udp6, for IPv6
// addresses and for the wildcard of a dual-stack "tcp"/"udp" socket.
func familyOf(network string, ip net.IP) int {
	switch network[len(network)-1] {
	case '4':
		return syscall.AF_INET
	case '6':
		return syscall.AF_INET6
	}
	if ip == nil || ip.IsUnspecified() {
		return syscall.AF_INET6
	}
	if ip.To4() != nil {
		return syscall.AF_INET
	}
	return syscall.AF_INET6
}
