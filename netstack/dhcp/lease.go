// The lease a client obtained, and the checks a server's reply must pass to become one.

package dhcp

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"
)

// DefaultPrefixLen is the prefix length of a lease whose server sent no subnet mask.
const DefaultPrefixLen = 24

// InfiniteLease is Lease.Duration for a lease that never expires (lease time 0xffffffff).
const InfiniteLease time.Duration = math.MaxInt64

// Lease is an IPv4 configuration handed out by a DHCP server.
type Lease struct {
	Addr     netip.Prefix  // the client's address (yiaddr) and subnet (option 1, else /24)
	Gateway  netip.Addr    // first router of option 3; the zero Addr when none is usable
	DNS      []netip.Addr  // name servers of option 6, unusable entries dropped
	Server   netip.Addr    // server identifier (option 54)
	Duration time.Duration // lease time (option 51); 0 if the server sent none, or InfiniteLease
}

// String formats the lease on one line, for the console.
func (l Lease) String() string {
	s := fmt.Sprintf("%v gw %v dns %v from %v", l.Addr, l.Gateway, l.DNS, l.Server)
	switch l.Duration {
	case 0:
	case InfiniteLease:
		s += " forever"
	default:
		s += " for " + l.Duration.String()
	}
	return s
}

var errBadLease = errors.New("dhcp: reply offers no usable address")

// leaseFrom checks an OFFER or ACK from an untrusted server and turns it into a Lease.
func leaseFrom(m *message) (Lease, error) {
	if !m.serverID.IsValid() || !usable(m.serverID) {
		return Lease{}, errBadLease
	}
	bits := m.maskBits
	if bits == 0 {
		bits = DefaultPrefixLen
	}
	addr := netip.PrefixFrom(m.yiaddr, bits)
	if !usable(m.yiaddr) || !usableHost(addr) {
		return Lease{}, errBadLease
	}
	l := Lease{Addr: addr, Server: m.serverID}
	if len(m.routers) > 0 && usable(m.routers[0]) {
		l.Gateway = m.routers[0]
	}
	for _, a := range m.dns {
		if usable(a) {
			l.DNS = append(l.DNS, a)
		}
	}
	if m.hasLease {
		l.Duration = time.Duration(m.leaseSecs) * time.Second
		if m.leaseSecs == math.MaxUint32 {
			l.Duration = InfiniteLease
		}
	}
	return l, nil
}

// usable reports whether a can be a unicast IPv4 host's address.
func usable(a netip.Addr) bool {
	return a.Is4() && !a.IsUnspecified() && !a.IsLoopback() && !a.IsMulticast() && a != broadcastIP
}

// usableHost reports whether p's address is neither its subnet's network nor broadcast
// address; /31 and /32 have neither (RFC 3021).
func usableHost(p netip.Prefix) bool {
	if p.Bits() > 30 {
		return true
	}
	return p.Addr() != p.Masked().Addr() && p.Addr() != lastAddr(p)
}

// lastAddr returns the broadcast address of p's subnet.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(b)
}
