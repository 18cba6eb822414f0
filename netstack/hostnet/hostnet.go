// Package hostnet is the host's side of hosted mode. In place of dom0's bridge and Linux
// kernel, a userspace gVisor stack is attached to the simulated netback's vif: it serves DHCP
// to the guest, and forwards ports of the host's own loopback to the guest, so a unikernel
// running as a Linux process over the simulated Xen is reachable with curl, without root.
//
// Frames cross it exactly as they cross a real vif: the guest's TSO frames arrive whole (the
// stack takes segments larger than the MTU), and what the host sends is injected into netback's
// RX path with TSO and checksum offload metadata, as Linux's bridge hands netback GSO skbs.
package hostnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	"github.com/tamaxen/tamaxen/internal/csum"
	"github.com/tamaxen/tamaxen/netstack/dhcp"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
)

const nicID tcpip.NICID = 1

// Config describes the host's side of the virtual network.
type Config struct {
	// Addr is the host's address and the subnet; the zero value means 10.0.0.1/24.
	Addr netip.Prefix
	// Addr6 is the host's IPv6 address; the zero value means fd00::1/64.
	Addr6 netip.Prefix
	// GuestAddr is the address DHCP hands the guest; the zero value means Addr + 1.
	GuestAddr netip.Addr
	// MAC is the host side's MAC; nil means fe:ff:ff:ff:ff:ff, as Linux netback's vif has.
	MAC net.HardwareAddr
	// Logf, if set, receives forwarding errors.
	Logf func(format string, args ...any)
}

// Host is the running host side.
type Host struct {
	S    *stack.Stack
	cfg  Config
	ep   *endpoint
	dhcp *dhcp.Server

	mu        sync.Mutex
	listeners []net.Listener
	wg        sync.WaitGroup
}

// New attaches a host stack to the backend's vif.
func New(be *netback.Backend, cfg Config) (*Host, error) {
	if !cfg.Addr.IsValid() {
		cfg.Addr = netip.MustParsePrefix("10.0.0.1/24")
	}
	if !cfg.Addr6.IsValid() {
		cfg.Addr6 = netip.MustParsePrefix("fd00::1/64")
	}
	if !cfg.GuestAddr.IsValid() {
		cfg.GuestAddr = cfg.Addr.Addr().Next()
	}
	if cfg.MAC == nil {
		cfg.MAC = net.HardwareAddr{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff}
	}
	h := &Host{cfg: cfg}
	h.dhcp = &dhcp.Server{
		MAC: cfg.MAC, Addr: cfg.Addr, Gateway: cfg.Addr.Addr(), DNS: []netip.Addr{cfg.Addr.Addr()},
		Lease: 24 * time.Hour, First: cfg.GuestAddr,
	}
	h.ep = &endpoint{be: be, mac: tcpip.LinkAddress(cfg.MAC), dhcp: h.dhcp}
	h.S = stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
	})
	sack := tcpip.TCPSACKEnabled(true)
	_ = h.S.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
	if err := h.S.CreateNIC(nicID, h.ep); err != nil {
		return nil, fmt.Errorf("hostnet: NIC: %s", err)
	}
	for _, p := range []netip.Prefix{cfg.Addr, cfg.Addr6} {
		proto := ipv4.ProtocolNumber
		if p.Addr().Is6() {
			proto = ipv6.ProtocolNumber
		}
		pa := tcpip.ProtocolAddress{Protocol: proto, AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFromSlice(p.Addr().AsSlice()), PrefixLen: p.Bits()}}
		if err := h.S.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); err != nil {
			return nil, fmt.Errorf("hostnet: address %s: %s", p, err)
		}
	}
	h.S.SetRouteTable([]tcpip.Route{
		{Destination: header.IPv4EmptySubnet, NIC: nicID},
		{Destination: header.IPv6EmptySubnet, NIC: nicID},
	})
	be.SetDeliver(h.ep.deliver)
	return h, nil
}

// GuestAddr is the address the guest gets from DHCP.
func (h *Host) GuestAddr() netip.Addr { return h.cfg.GuestAddr }

// Dial connects from the host stack into the virtual network (tcp or udp, literal address).
func (h *Host) Dial(ctx context.Context, network string, to netip.AddrPort) (net.Conn, error) {
	fa, proto := full(to)
	switch network {
	case "tcp":
		return gonet.DialContextTCP(ctx, h.S, fa, proto)
	case "udp":
		return gonet.DialUDP(h.S, nil, &fa, proto)
	}
	return nil, fmt.Errorf("hostnet: network %q", network)
}

// Listen listens for TCP on the host stack's port, for connections opened by the guest.
func (h *Host) Listen(port uint16) (net.Listener, error) {
	return gonet.ListenTCP(h.S, tcpip.FullAddress{Port: port}, ipv4.ProtocolNumber)
}

func full(a netip.AddrPort) (tcpip.FullAddress, tcpip.NetworkProtocolNumber) {
	proto := ipv4.ProtocolNumber
	if a.Addr().Is6() && !a.Addr().Is4In6() {
		proto = ipv6.ProtocolNumber
	}
	return tcpip.FullAddress{Addr: tcpip.AddrFromSlice(a.Addr().Unmap().AsSlice()), Port: a.Port()}, proto
}

// Forward listens on the host's own TCP address listen (say 127.0.0.1:8080) and relays every
// connection to the guest's port: the user-mode networking of hosted mode. It returns the
// address actually bound (for a listen port of 0).
func (h *Host) Forward(listen string, to netip.AddrPort) (net.Addr, error) {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.listeners = append(h.listeners, l)
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				h.relay(c, to)
			}()
		}
	}()
	return l.Addr(), nil
}

func (h *Host) relay(c net.Conn, to netip.AddrPort) {
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	g, err := h.Dial(ctx, "tcp", to)
	cancel()
	if err != nil {
		h.logf("hostnet: forward to %s: %v", to, err)
		return
	}
	defer g.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(g, c)
		if cw, ok := g.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		close(done)
	}()
	_, _ = io.Copy(c, g)
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	<-done
}

func (h *Host) logf(format string, args ...any) {
	if h.cfg.Logf != nil {
		h.cfg.Logf(format, args...)
	}
}

// Close stops forwarding and the host stack (the backend is the caller's).
func (h *Host) Close() {
	h.mu.Lock()
	ls := h.listeners
	h.listeners = nil
	h.mu.Unlock()
	for _, l := range ls {
		_ = l.Close()
	}
	h.ep.be.SetDeliver(nil)
	h.S.Close()
	h.wg.Wait()
	h.S.Wait()
}

// Stats are the host side's counters.
type Stats struct {
	// ToGuest counts frames injected into netback, ToGuestGSO those carrying several segments,
	// Dropped those netback refused (its RX queue full, or not connected).
	ToGuest, ToGuestGSO, Dropped uint64
	// FromGuest counts frames the guest sent; FromGuestGSO the TSO ones among them.
	FromGuest, FromGuestGSO uint64
	// BadChecksum counts the guest's frames dropped for a wrong checksum (or a wrong partial
	// sum in a csum_blank frame): always 0 for a correct guest.
	BadChecksum uint64
}

// Stats returns the host side's counters.
func (h *Host) Stats() Stats { return h.ep.stats() }

// endpoint is the host stack's link: frames go to netback.Inject, and come from its Deliver.
type endpoint struct {
	be   *netback.Backend
	mac  tcpip.LinkAddress
	dhcp *dhcp.Server

	mu         sync.RWMutex
	dispatcher stack.NetworkDispatcher

	cnt struct {
		sync.Mutex
		Stats
	}
}

var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 1<<16); return &b }}

func (e *endpoint) stats() Stats {
	e.cnt.Lock()
	defer e.cnt.Unlock()
	return e.cnt.Stats
}

func (e *endpoint) deliver(f netback.Frame) {
	e.cnt.Lock()
	e.cnt.FromGuest++
	if f.GSOType != 0 {
		e.cnt.FromGuestGSO++
	}
	e.cnt.Unlock()
	if reply, ok := e.dhcp.Handle(f.Data); ok {
		e.inject(netback.Frame{Data: reply})
		return
	}
	e.mu.RLock()
	d := e.dispatcher
	e.mu.RUnlock()
	if d == nil || len(f.Data) < header.EthernetMinimumSize {
		return
	}
	// The host checks what the guest sends: a csum_blank frame has its partial checksum
	// completed as netback's skb_checksum_help would, then verified, so a wrong pseudo-header
	// sum from the guest shows up as a dropped frame; other frames are verified where csum can
	// judge them alone. Fragments from the guest are not (this endpoint claims RX checksum
	// offload for the host's stack): the guest is the code under test, not an attacker.
	payload := buffer.MakeWithData(f.Data)
	if f.CsumBlank {
		v, ok := payload.PullUp(0, int(payload.Size()))
		if !ok || !csum.Complete(v.AsSlice()) || !csum.Valid(v.AsSlice()) {
			payload.Release()
			e.badCsum()
			return
		}
	} else if csum.Verify(f.Data, false) == csum.Bad {
		payload.Release()
		e.badCsum()
		return
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: payload})
	defer pkt.DecRef()
	if !e.ParseHeader(pkt) {
		return
	}
	d.DeliverNetworkPacket(pkt.NetworkProtocolNumber, pkt)
}

func (e *endpoint) badCsum() {
	e.cnt.Lock()
	e.cnt.BadChecksum++
	e.cnt.Unlock()
}

// inject hands a frame to netback's RX path. A full RX queue pushes back, as Linux's netback
// stops the vif's TX queue when its RX queue is full: the sender waits (up to a bound) instead
// of losing the frame to a retransmission timeout.
func (e *endpoint) inject(f netback.Frame) {
	err := e.be.Inject(f)
	for wait := 0; errors.Is(err, netback.ErrQueueFull) && wait < 200; wait++ {
		time.Sleep(500 * time.Microsecond)
		err = e.be.Inject(f)
	}
	e.cnt.Lock()
	if err != nil {
		e.cnt.Dropped++
	} else {
		e.cnt.ToGuest++
		if f.GSOType != 0 {
			e.cnt.ToGuestGSO++
		}
	}
	e.cnt.Unlock()
}

func (e *endpoint) MTU() uint32                    { return 1500 }
func (e *endpoint) SetMTU(uint32)                  {}
func (e *endpoint) MaxHeaderLength() uint16        { return header.EthernetMinimumSize }
func (e *endpoint) LinkAddress() tcpip.LinkAddress { return e.mac }
func (e *endpoint) SetLinkAddress(tcpip.LinkAddress) {
}

// Capabilities: checksums are left to the "hardware" both ways: TX ones completed by the
// guest's netfront side, RX ones checked in deliver.
func (e *endpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityResolutionRequired | stack.CapabilityTXChecksumOffload | stack.CapabilityRXChecksumOffload
}
func (e *endpoint) GSOMaxSize() uint32                      { return 0xffff - 14 - 40 - 60 }
func (e *endpoint) SupportedGSO() stack.SupportedGSO        { return stack.HostGSOSupported }
func (e *endpoint) IsAttached() bool                        { e.mu.RLock(); defer e.mu.RUnlock(); return e.dispatcher != nil }
func (e *endpoint) Wait()                                   {}
func (e *endpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareEther }
func (e *endpoint) Close()                                  {}
func (e *endpoint) SetOnCloseAction(func())                 {}

func (e *endpoint) Attach(d stack.NetworkDispatcher) {
	e.mu.Lock()
	e.dispatcher = d
	e.mu.Unlock()
}

func (e *endpoint) AddHeader(pkt *stack.PacketBuffer) {
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	eth.Encode(&header.EthernetFields{SrcAddr: e.mac, DstAddr: pkt.EgressRoute.RemoteLinkAddress, Type: pkt.NetworkProtocolNumber})
}

func (e *endpoint) ParseHeader(pkt *stack.PacketBuffer) bool {
	h, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	if ok {
		pkt.NetworkProtocolNumber = header.Ethernet(h).Type()
	}
	return ok
}

func (e *endpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	n := 0
	for _, pkt := range pkts.AsSlice() {
		bp := bufs.Get().(*[]byte)
		b := (*bp)[:0]
		for _, v := range pkt.AsSlices() {
			b = append(b, v...)
		}
		f := netback.Frame{Data: b}
		switch pkt.TransportProtocolNumber {
		case header.TCPProtocolNumber, header.UDPProtocolNumber:
			if err := partialChecksum(pkt, b); err == nil {
				f.CsumBlank = true
			}
		}
		g := pkt.GSOOptions
		if (g.Type == stack.GSOTCPv4 || g.Type == stack.GSOTCPv6) && pkt.Data().Size() > int(g.MSS) {
			f.GSOSize = g.MSS
			f.GSOType = netif.XEN_NETIF_GSO_TYPE_TCPV4
			if g.Type == stack.GSOTCPv6 {
				f.GSOType = netif.XEN_NETIF_GSO_TYPE_TCPV6
			}
		}
		e.inject(f)
		*bp = b
		bufs.Put(bp)
		n++
	}
	return n, nil
}

var errNoChecksum = errors.New("no transport checksum field")

// partialChecksum writes the pseudo-header sum (length included) into the TCP or UDP checksum
// field of frame b, Linux's CHECKSUM_PARTIAL that netback's csum_blank flag stands for.
func partialChecksum(pkt *stack.PacketBuffer, b []byte) error {
	field := header.TCPChecksumOffset
	if pkt.TransportProtocolNumber == header.UDPProtocolNumber {
		field = 6 // UDP checksum offset
	}
	nh := pkt.NetworkHeader().Slice()
	th := len(pkt.LinkHeader().Slice()) + len(nh)
	length := uint16(len(b) - th)
	var src, dst tcpip.Address
	switch pkt.NetworkProtocolNumber {
	case header.IPv4ProtocolNumber:
		ip := header.IPv4(nh)
		src, dst = ip.SourceAddress(), ip.DestinationAddress()
	case header.IPv6ProtocolNumber:
		ip := header.IPv6(nh)
		src, dst = ip.SourceAddress(), ip.DestinationAddress()
	default:
		return errNoChecksum
	}
	if len(b) < th+field+2 {
		return errNoChecksum
	}
	sum := header.PseudoHeaderChecksum(pkt.TransportProtocolNumber, src, dst, length)
	b[th+field], b[th+field+1] = byte(sum>>8), byte(sum)
	return nil
}
