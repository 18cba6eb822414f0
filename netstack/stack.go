// Package netstack gives a TamaGo unikernel sockets: gVisor's TCP/IP stack on top of the
// netfront driver, with TSO and checksum offload passed through to the backend.
//
// Open connects the vif, brings up gVisor with IPv4 (static from the guest's command line, see
// package netcfg, or from DHCP), IPv6 (a link-local address from the MAC plus an optional
// static one) and answers ARP, NDP and ICMP echo. Socket has the signature of TamaGo's
// net.SocketFunc, so with GOOS=tamago the standard library's net, net/http and crypto/tls
// work unmodified (see Hook); Listen, ListenPacket and DialContext serve callers that use the
// stack directly, such as hosted mode on Linux.
//
// This is the only package tree that imports gvisor.dev.
package netstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/netfront/pcap"
	"github.com/tamaxen/tamaxen/netstack/dhcp"
	"github.com/tamaxen/tamaxen/netstack/netcfg"
	"github.com/tamaxen/tamaxen/xen/xenbus"
)

// nicID is the stack's only NIC.
const nicID tcpip.NICID = 1

// Config is what Open needs beyond the platform.
type Config struct {
	// Net is the addressing, usually netcfg.Parse of the guest's command line.
	Net netcfg.Config
	// Device configures the netfront device; Receive and Link are the stack's (Link is still
	// called after the stack's own handling).
	Device netfront.Config
	// DHCPTimeout bounds the wait for a lease when Net.DHCP is set; 0 means 30 s.
	DHCPTimeout time.Duration
	// Capture, if set, receives every frame crossing the device.
	Capture *pcap.Writer
	// Logf, if set, receives what the stack has to say (lease, link changes).
	Logf func(format string, args ...any)
	// Memory is how far the Go heap can grow, in bytes, from which the stack's limits derive
	// (LimitsFor); 0 means DefaultMemory. Limits, if set, replaces the derived limits.
	Memory uint64
	Limits *Limits
	// Timeline, if set, receives StageNetfront and StageStack from Open and StageFirstPacket
	// from the first frame received after that.
	Timeline *Timeline
}

// Stack is a running network stack over one netfront device.
type Stack struct {
	// S is gVisor's stack. Its TCP and UDP protocols are wrapped (see checked.go), so
	// gVisor's TCP forwarder, which asserts TCP's own type, cannot be used on it.
	S    *stack.Stack
	dev  *netfront.Device
	ep   *Endpoint
	plat xenbus.Platform
	cfg  Config

	mu    sync.Mutex
	addr  netip.Prefix // IPv4 address in use
	gw    netip.Addr
	dns   []netip.Addr
	lease *dhcp.Lease

	dhcpc atomic.Pointer[dhcp.Client] // receives every frame while a lease is sought

	limits Limits
	adm    admission // accepted TCP connections under limits.Conns
	udpq   udpQueues // the UDP sockets' queues, under limits.UDPQueue
	txq    *txQueues // the outgoing queues, under limits.TxSegments and TxBytes

	up        atomic.Bool    // Open configured the stack: a link coming back announces again
	announced atomic.Uint64  // announcements sent (announce.go)
	wg        sync.WaitGroup // announcements after a reconnection
}

// Open opens the vif with netfront and starts the stack on it. It returns once IPv4 is
// configured (at once when static, after the lease with DHCP).
func Open(ctx context.Context, p xenbus.Platform, cfg Config) (*Stack, error) {
	s := &Stack{plat: p, cfg: cfg, limits: LimitsFor(cfg.Memory)}
	if cfg.Limits != nil {
		s.limits = cfg.Limits.valid()
	}
	s.adm.lingering = make([]lingerer, 0, 2*s.limits.Conns)
	s.udpq.limit = uint64(s.limits.UDPQueue)
	s.ep = NewEndpoint(nil, cfg.Net.MTU)
	s.ep.udp = &s.udpq
	s.ep.frags.limit = s.limits.FragBytes
	if cfg.Capture != nil {
		s.ep.SetCapture(cfg.Capture)
	}
	dcfg := cfg.Device
	userLink := dcfg.Link
	dcfg.Receive = s.receive
	dcfg.Link = func(up bool) {
		s.logf("netstack: link %s", map[bool]string{true: "up", false: "down"}[up])
		s.ep.SetLink(up)
		if up {
			// A new backend (a reconnection, a resume in a new domain) sits behind a bridge
			// whose peers may have forgotten us: say where we are again.
			s.reannounce()
		}
		if userLink != nil {
			userLink(up)
		}
	}
	dev, err := netfront.Open(ctx, p, dcfg)
	if err != nil {
		return nil, err
	}
	s.dev = dev
	cfg.Timeline.Mark(StageNetfront)
	s.ep.Bind(dev)
	if cfg.Net.MTU == 0 {
		s.ep.SetMTU(uint32(dev.MTU()))
	}
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	s.up.Store(true)
	s.announce(ctx)
	cfg.Timeline.Mark(StageStack)
	l := s.limits
	s.logf("netstack: limits for a %d MiB heap: %d connections, backlog %d, TCP buffers %d KiB, fragments %d KiB",
		l.Memory>>20, l.Conns, l.Backlog, l.TCPBuffer>>10, l.FragBytes>>10)
	return s, nil
}

func (s *Stack) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

// receive is the device's Receive callback.
func (s *Stack) receive(frame []byte, m netfront.RxMeta) {
	s.cfg.Timeline.packet()
	if c := s.dhcpc.Load(); c != nil {
		c.Input(frame)
	}
	s.ep.Deliver(frame, m)
}

func (s *Stack) start(ctx context.Context) error {
	s.S = stack.New(stack.Options{
		NetworkProtocols: []stack.NetworkProtocolFactory{
			ipv4.NewProtocol, arp.NewProtocol,
			ipv6.NewProtocolWithOptions(ipv6.Options{
				AutoGenLinkLocal: true,
				NDPConfigs:       ipv6.NDPConfigurations{HandleRAs: ipv6.HandlingRAsEnabledWhenForwardingDisabled, DiscoverDefaultRouters: true, DiscoverOnLinkPrefixes: true, AutoGenGlobalAddresses: true},
			}),
		},
		TransportProtocols: s.ep.TransportProtocols(),
		HandleLocal:        true,
	})
	sack := tcpip.TCPSACKEnabled(true)
	if err := s.S.SetTransportProtocolOption(tcp.ProtocolNumber, &sack); err != nil {
		return fmt.Errorf("netstack: SACK: %s", err)
	}
	mod := tcpip.TCPModerateReceiveBufferOption(true)
	if err := s.S.SetTransportProtocolOption(tcp.ProtocolNumber, &mod); err != nil {
		return fmt.Errorf("netstack: receive buffer moderation: %s", err)
	}
	if err := s.applyLimits(); err != nil {
		return err
	}
	// Outgoing packets go through a FIFO queue per netfront queue, drained by its own
	// goroutine: gVisor calls WritePackets with TCP endpoint locks held, and netfront's send
	// waits for ring space. Waiting there would hold the lock while another goroutine spins
	// on it (the TCP processor retries TryLock in a loop without yielding), and with no
	// preemption on TamaGo that spin never lets the TX completions that free the ring run: the
	// guest livelocked under load on real Xen. The queue's goroutine waits holding nothing.
	// A full queue drops, which TCP takes for a loss on the wire, so the queue holds what
	// TCP's send buffers can have in flight (txqueue.go).
	s.txq = newTxQueues(s.ep, s.cfg.Net.TxBatch, s.dev.Features().Queues, s.limits)
	if err := s.S.CreateNICWithOptions(nicID, s.ep, stack.NICOptions{Name: "vif" + s.dev.Path()[len("device/vif/"):], QDisc: s.txq}); err != nil {
		s.txq.Close()
		return fmt.Errorf("netstack: NIC: %s", err)
	}

	n := s.cfg.Net
	addr, gw, dns := n.Addr, n.Gateway, n.DNS
	if n.DHCP {
		l, err := s.acquire(ctx)
		if err != nil {
			return err
		}
		addr, gw = l.Addr, l.Gateway
		if len(dns) == 0 {
			dns = l.DNS
		}
	}
	var routes []tcpip.Route
	if addr.IsValid() {
		if err := s.addAddress(addr); err != nil {
			return err
		}
		routes = append(routes, tcpip.Route{Destination: subnet(addr.Masked()), NIC: nicID})
		if gw.IsValid() {
			routes = append(routes, tcpip.Route{Destination: header.IPv4EmptySubnet, Gateway: address(gw), NIC: nicID})
		}
	}
	routes = append(routes, tcpip.Route{Destination: subnet(netip.MustParsePrefix("fe80::/64")), NIC: nicID})
	if n.Addr6.IsValid() {
		if err := s.addAddress(n.Addr6); err != nil {
			return err
		}
		routes = append(routes, tcpip.Route{Destination: subnet(n.Addr6.Masked()), NIC: nicID})
	}
	if n.Gateway6.IsValid() {
		routes = append(routes, tcpip.Route{Destination: header.IPv6EmptySubnet, Gateway: address(n.Gateway6), NIC: nicID})
	}
	s.S.SetRouteTable(routes)
	s.mu.Lock()
	s.addr, s.gw, s.dns = addr, gw, dns
	s.mu.Unlock()
	return nil
}

// applyLimits sets the stack's TCP options from the limits: buffer sizes, TIME-WAIT and
// FIN-WAIT-2.
func (s *Stack) applyLimits() error {
	l := s.limits
	// New connections start with TCPBuffer; the maximum is FastBuffer, so that the window
	// scale offered in a handshake allows a fast connection's window. Accept fixes each
	// accepted connection's buffers (listener.go), which ends gVisor's tuning of them.
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: 4096, Default: l.TCPBuffer, Max: l.FastBuffer}
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: 4096, Default: l.TCPBuffer, Max: l.FastBuffer}
	tw := tcpip.TCPTimeWaitTimeoutOption(l.TimeWait)
	fw2 := tcpip.TCPLingerTimeoutOption(l.Stall)
	for _, o := range []tcpip.SettableTransportProtocolOption{&rcv, &snd, &tw, &fw2} {
		if err := s.S.SetTransportProtocolOption(tcp.ProtocolNumber, o); err != nil {
			return fmt.Errorf("netstack: TCP limit %T: %s", o, err)
		}
	}
	return nil
}

// Limits returns the limits the stack keeps to.
func (s *Stack) Limits() Limits { return s.limits }

// acquire asks DHCP for a lease over raw frames, before the stack has an address.
func (s *Stack) acquire(ctx context.Context) (dhcp.Lease, error) {
	timeout := s.cfg.DHCPTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &dhcp.Client{
		MAC:      s.dev.MAC(),
		Hostname: s.cfg.Net.Hostname,
		Send: func(ctx context.Context, frame []byte) error {
			return s.dev.Send(ctx, frame, netfront.TxMeta{})
		},
	}
	s.dhcpc.Store(c)
	defer s.dhcpc.Store(nil)
	l, err := c.Acquire(ctx)
	if err != nil {
		return l, fmt.Errorf("netstack: DHCP: %w", err)
	}
	s.mu.Lock()
	s.lease = &l
	s.mu.Unlock()
	s.logf("netstack: DHCP lease %s gw %s dns %v from %s for %s", l.Addr, l.Gateway, l.DNS, l.Server, l.Duration)
	return l, nil
}

func (s *Stack) addAddress(p netip.Prefix) error {
	proto := ipv4.ProtocolNumber
	if p.Addr().Is6() {
		proto = ipv6.ProtocolNumber
	}
	pa := tcpip.ProtocolAddress{Protocol: proto, AddressWithPrefix: tcpip.AddressWithPrefix{Address: address(p.Addr()), PrefixLen: p.Bits()}}
	if err := s.S.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); err != nil {
		return fmt.Errorf("netstack: address %s: %s", p, err)
	}
	return nil
}

func address(a netip.Addr) tcpip.Address {
	if a.Is4() {
		return tcpip.AddrFrom4(a.As4())
	}
	return tcpip.AddrFrom16(a.As16())
}

func subnet(p netip.Prefix) tcpip.Subnet {
	return tcpip.AddressWithPrefix{Address: address(p.Addr()), PrefixLen: p.Bits()}.Subnet()
}

// Device returns the netfront device under the stack.
func (s *Stack) Device() *netfront.Device { return s.dev }

// Endpoint returns the link endpoint (for its counters and capture).
func (s *Stack) Endpoint() *Endpoint { return s.ep }

// Addr returns the IPv4 address and subnet in use (not valid if IPv4 is unconfigured).
func (s *Stack) Addr() netip.Prefix {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Addrs returns every unicast address of the NIC, IPv6 link-local included.
func (s *Stack) Addrs() []netip.Prefix {
	var out []netip.Prefix
	for _, pa := range s.S.AllAddresses()[nicID] {
		a, ok := netip.AddrFromSlice(pa.AddressWithPrefix.Address.AsSlice())
		if ok && a != netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			out = append(out, netip.PrefixFrom(a, pa.AddressWithPrefix.PrefixLen))
		}
	}
	return out
}

// DNS returns the name servers: the command line's, else the lease's.
func (s *Stack) DNS() []netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]netip.Addr(nil), s.dns...)
}

// Close stops the stack and closes the device.
func (s *Stack) Close() error {
	// The endpoint's waits end first: closing the NIC waits for the outgoing queue's
	// goroutines, which may be waiting in the endpoint for ring space or for the link, and
	// would wait for good behind a backend that stalled or left.
	s.ep.stop()
	if s.S != nil {
		s.S.Close()
		s.S.Wait()
	}
	s.ep.Close()
	if s.dev == nil {
		return nil
	}
	err := s.dev.Close()
	s.wg.Wait() // an announcement still going fails once the device is closed
	if errors.Is(err, netfront.ErrClosed) {
		err = nil
	}
	return err
}

// ErrUnsupported is returned for sockets the stack does not provide (raw sockets).
var ErrUnsupported = errors.New("netstack: socket type not supported")

var _ = net.IPv4len
