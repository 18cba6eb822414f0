//go:build tamago && amd64

package netstack

import (
	"net"
	"net/netip"
)

// Hook makes the standard library use this stack: net.SocketFunc opens sockets on it, and
// the resolver asks its name servers (the command line's dns=, else DHCP's).
func (s *Stack) Hook() {
	net.SocketFunc = s.Socket
	var ns []string
	for _, a := range s.DNS() {
		ns = append(ns, netip.AddrPortFrom(a, 53).String())
	}
	if len(ns) > 0 {
		net.SetDefaultNS(ns)
	}
}
