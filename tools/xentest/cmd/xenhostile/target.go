// Who is attacked and from where: the guests named on the command line, and dom0's own
// addresses on the bridge, which the crafted frames carry as their source.

package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// target is one guest: its vif in dom0, its MAC and addresses, the ports it serves.
type target struct {
	name     string
	vif      string
	mac      mac
	ip4, ip6 netip.Addr // ip6 is the global address; ll the EUI-64 link-local one
	ll       netip.Addr
	tcp, udp []uint16
	link     *link
}

// parseTarget reads name=echo,vif=vif3.0,mac=00:16:3e:5a:11:04,ip4=10.0.0.3,ip6=fd00::3,tcp=7,udp=7
// (ports may repeat: tcp=80,tcp=443).
func parseTarget(s string) (*target, error) {
	t := &target{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("target %q: %q is not key=value", s, kv)
		}
		var err error
		switch k {
		case "name":
			t.name = v
		case "vif":
			t.vif = v
		case "mac":
			var hw net.HardwareAddr
			if hw, err = net.ParseMAC(v); err == nil && len(hw) == 6 {
				copy(t.mac[:], hw)
			} else if err == nil {
				err = fmt.Errorf("not an Ethernet address")
			}
		case "ip4":
			t.ip4, err = netip.ParseAddr(v)
			if err == nil && !t.ip4.Is4() {
				err = fmt.Errorf("not IPv4")
			}
		case "ip6":
			t.ip6, err = netip.ParseAddr(v)
			if err == nil && !t.ip6.Is6() {
				err = fmt.Errorf("not IPv6")
			}
		case "tcp", "udp":
			var p uint64
			if p, err = strconv.ParseUint(v, 10, 16); err == nil {
				if k == "tcp" {
					t.tcp = append(t.tcp, uint16(p))
				} else {
					t.udp = append(t.udp, uint16(p))
				}
			}
		default:
			err = fmt.Errorf("unknown key")
		}
		if err != nil {
			return nil, fmt.Errorf("target %q: %s=%q: %v", s, k, v, err)
		}
	}
	if t.name == "" || t.mac == (mac{}) || !t.ip4.IsValid() {
		return nil, fmt.Errorf("target %q: needs at least name=, mac= and ip4=", s)
	}
	t.ll = linkLocal(t.mac)
	if !t.ip6.IsValid() {
		t.ip6 = t.ll
	}
	return t, nil
}

// tcpPort and udpPort are a port the guest serves (or 7, echo's, when none was named).
func (t *target) tcpPort(r *rand.Rand) uint16 { return pick(r, t.tcp) }
func (t *target) udpPort(r *rand.Rand) uint16 { return pick(r, t.udp) }

func pick(r *rand.Rand, ports []uint16) uint16 {
	if len(ports) == 0 {
		return 7
	}
	return ports[r.IntN(len(ports))]
}

// self is dom0 on the bridge: the source of the crafted frames that expect an answer.
type self struct {
	mac        mac
	ip4, ip6   netip.Addr
	ll         netip.Addr
	net4, net6 netip.Prefix // the bridge's subnets, where every target must be
	bridgeName string
}

// bridgeSelf reads dom0's MAC, IPv4, global IPv6 and link-local addresses on the bridge.
func bridgeSelf(name string) (self, error) {
	s := self{bridgeName: name}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return s, err
	}
	copy(s.mac[:], ifi.HardwareAddr)
	addrs, err := ifi.Addrs()
	if err != nil {
		return s, err
	}
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ip := p.Addr()
		switch {
		case ip.Is4() && !s.ip4.IsValid():
			s.ip4, s.net4 = ip, p.Masked()
		case ip.Is6() && ip.IsLinkLocalUnicast() && !s.ll.IsValid():
			s.ll = ip
		case ip.Is6() && !ip.IsLinkLocalUnicast() && !s.ip6.IsValid():
			s.ip6, s.net6 = ip, p.Masked()
		}
	}
	if !s.ip4.IsValid() || !s.ip6.IsValid() {
		return s, fmt.Errorf("%s has no IPv4 or no global IPv6 address (%v)", name, addrs)
	}
	if !s.ll.IsValid() {
		s.ll = linkLocal(s.mac)
	}
	return s, nil
}

// Random sources for the floods, none of them dom0's or a guest's, so that no answer lands on
// a real connection and no neighbour entry that the checks need is overwritten.
func randMAC(r *rand.Rand) mac {
	var m mac
	for i := range m {
		m[i] = byte(r.Uint32())
	}
	m[0] = m[0]&0xfc | 0x02 // locally administered unicast
	return m
}

// randIP4 is an on-link 10.0.0.64-253 address half the time (the guest must resolve it),
// else one of 198.18.0.0/15 (RFC 2544), reached through the gateway.
func randIP4(r *rand.Rand) netip.Addr {
	if r.IntN(2) == 0 {
		return netip.AddrFrom4([4]byte{10, 0, 0, byte(64 + r.IntN(190))})
	}
	return netip.AddrFrom4([4]byte{198, 18 + byte(r.IntN(2)), byte(r.IntN(256)), byte(1 + r.IntN(254))})
}

// randIP6 is a random interface in fd00::/64 (on-link: the guest must solicit it) or, one time
// in four, in 2001:db8::/32 (documentation, off-link and unroutable from the guest).
func randIP6(r *rand.Rand) netip.Addr {
	var b [16]byte
	if r.IntN(4) == 0 {
		b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
		be.PutUint32(b[4:], r.Uint32())
	} else {
		b[0], b[1] = 0xfd, 0x00
	}
	be.PutUint64(b[8:], r.Uint64()|0x0200_0000_0000_0000)
	return netip.AddrFrom16(b)
}

// randOnLink6 is a random interface in fd00::/64.
func randOnLink6(r *rand.Rand) netip.Addr {
	b := [16]byte{0xfd, 0x00}
	be.PutUint64(b[8:], r.Uint64()|0x0200_0000_0000_0000)
	return netip.AddrFrom16(b)
}

// onBridge refuses a target that is not a guest on dom0's test bridge: its addresses must be in
// the bridge's subnets (or IPv6 link-local) and its vif a port of the bridge, so that nothing
// this tool sends can leave the test network.
func (s self) onBridge(t *target, master func(ifname string) (string, error)) error {
	if !s.net4.Contains(t.ip4) || t.ip4 == s.ip4 {
		return fmt.Errorf("target %s: %v is not a guest's address in %s's %v", t.name, t.ip4, s.bridgeName, s.net4)
	}
	if !(s.net6.Contains(t.ip6) || t.ip6.IsLinkLocalUnicast()) || t.ip6 == s.ip6 {
		return fmt.Errorf("target %s: %v is not a guest's address in %s's %v", t.name, t.ip6, s.bridgeName, s.net6)
	}
	if t.vif != "" {
		m, err := master(t.vif)
		if err != nil {
			return fmt.Errorf("target %s: %w", t.name, err)
		}
		if m != s.bridgeName {
			return fmt.Errorf("target %s: %s is a port of %q, not of %s", t.name, t.vif, m, s.bridgeName)
		}
	}
	return nil
}
