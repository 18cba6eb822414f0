package netstack_test

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"

	"github.com/tamaxen/tamaxen/internal/csum"
	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/netstack"
	"github.com/tamaxen/tamaxen/netstack/netcfg"
	"github.com/tamaxen/tamaxen/xen/sim/machine"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
)

// wire is the backend's side of the vif with nobody behind it: it keeps what the guest sends.
type wire struct {
	mu     sync.Mutex
	frames [][]byte
}

func (w *wire) deliver(f netback.Frame) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.frames = append(w.frames, append([]byte(nil), f.Data...))
}

func (w *wire) sent() [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([][]byte(nil), w.frames...)
}

// announcement is what one announcing frame says.
type announcement struct {
	addr netip.Addr
	mac  string
}

// announcements reads the gratuitous ARPs and unsolicited neighbour advertisements among
// frames, checking every field a peer relies on.
func announcements(t *testing.T, frames [][]byte, mac net.HardwareAddr) []announcement {
	t.Helper()
	var out []announcement
	for _, f := range frames {
		eth := header.Ethernet(f)
		require.GreaterOrEqual(t, len(f), header.EthernetMinimumSize)
		switch eth.Type() {
		case header.ARPProtocolNumber:
			a := header.ARP(f[header.EthernetMinimumSize:])
			require.True(t, a.IsValid(), "ARP over Ethernet for IPv4")
			assert.Equal(t, header.EthernetBroadcastAddress, eth.DestinationAddress())
			assert.Equal(t, header.ARPRequest, a.Op())
			assert.Equal(t, []byte(mac), a.HardwareAddressSender())
			assert.Equal(t, make([]byte, 6), a.HardwareAddressTarget())
			assert.Equal(t, a.ProtocolAddressSender(), a.ProtocolAddressTarget(), "sender and target IP are the announced address")
			ip, _ := netip.AddrFromSlice(a.ProtocolAddressSender())
			out = append(out, announcement{ip, net.HardwareAddr(eth.SourceAddress()).String()})
		case header.IPv6ProtocolNumber:
			ip := header.IPv6(f[header.EthernetMinimumSize:])
			require.True(t, ip.IsValid(len(ip)))
			if ip.TransportProtocol() != header.ICMPv6ProtocolNumber {
				continue
			}
			icmp := header.ICMPv6(ip.Payload())
			if icmp.Type() != header.ICMPv6NeighborAdvert {
				continue
			}
			assert.Equal(t, uint16(0xffff), csum.Sum(icmp, csum.PseudoHeader(ip[8:40], uint8(header.ICMPv6ProtocolNumber), len(icmp))), "ICMPv6 checksum")
			assert.Equal(t, uint8(header.NDPHopLimit), ip.HopLimit())
			assert.Equal(t, header.IPv6AllNodesMulticastAddress, ip.DestinationAddress())
			assert.Equal(t, header.EthernetAddressFromMulticastIPv6Address(header.IPv6AllNodesMulticastAddress), eth.DestinationAddress())
			na := header.NDPNeighborAdvert(icmp.MessageBody())
			assert.False(t, na.SolicitedFlag())
			assert.True(t, na.OverrideFlag())
			assert.False(t, na.RouterFlag())
			assert.Equal(t, ip.SourceAddress(), na.TargetAddress())
			it, err := na.Options().Iter(true)
			require.NoError(t, err)
			opt, done, err := it.Next()
			require.NoError(t, err)
			require.False(t, done, "target link-layer address option")
			lla, ok := opt.(header.NDPTargetLinkLayerAddressOption)
			require.True(t, ok, "option %v", opt)
			assert.Equal(t, tcpip.LinkAddress(mac), lla.EthernetAddress())
			target := na.TargetAddress()
			a, _ := netip.AddrFromSlice(target.AsSlice())
			out = append(out, announcement{a, net.HardwareAddr(eth.SourceAddress()).String()})
		}
	}
	return out
}

// fakeClock advances a millisecond each time it is read: a timeline that never depends on
// how fast the host runs.
type fakeClock struct{ n atomic.Int64 }

func (c *fakeClock) since() time.Duration { return time.Duration(c.n.Add(1)) * time.Millisecond }

// The guest announces each of its addresses as soon as the stack is up, again after a
// reconnection, and keeps a boot timeline whose stages are in order, on the console line and
// in /metrics; the first frame received once the stack is up is the first packet.
func TestAnnounceAndTimeline(t *testing.T) {
	m, err := machine.New(machine.Config{})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	w := &wire{}
	m.Backend.SetDeliver(w.deliver)
	nc, err := netcfg.Parse("ip=10.0.0.2/24 ip6=fd00::2/64")
	require.NoError(t, err)
	var clock fakeClock
	tl := netstack.NewTimeline(clock.since)
	tl.Mark(netstack.StageRuntime)
	tl.Mark(netstack.StageXenStore)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := netstack.Open(ctx, m.Platform, netstack.Config{Net: nc, Logf: t.Logf, Timeline: tl})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })

	ll := netip.MustParseAddr("fe80::216:3eff:fe00:2") // EUI-64 of the simulated vif's MAC
	want := []announcement{
		{netip.MustParseAddr("10.0.0.2"), m.MAC.String()},
		{ll, m.MAC.String()},
		{netip.MustParseAddr("fd00::2"), m.MAC.String()},
	}
	require.Eventually(t, func() bool { return len(announcements(t, w.sent(), m.MAC)) >= len(want) }, 10*time.Second, time.Millisecond)
	assert.ElementsMatch(t, want, announcements(t, w.sent(), m.MAC))
	assert.EqualValues(t, len(want), s.Announced())

	// The timeline so far: four stages, in order, no first packet yet.
	select {
	case <-tl.StackUp():
	default:
		t.Fatal("stack stage not marked by Open")
	}
	var prev time.Duration
	for _, st := range []netstack.Stage{netstack.StageRuntime, netstack.StageXenStore, netstack.StageNetfront, netstack.StageStack} {
		d, ok := tl.At(st)
		require.True(t, ok, "stage %v", st)
		assert.Greater(t, d, prev, "stage %v after the one before", st)
		prev = d
	}
	_, ok := tl.At(netstack.StageFirstPacket)
	assert.False(t, ok)
	assert.Regexp(t, `^boot timeline ms: runtime=[0-9.]+ xenstore=[0-9.]+ netfront=[0-9.]+ stack=[0-9.]+$`, tl.String())

	// A frame from the network: the first packet.
	arp := make([]byte, header.EthernetMinimumSize+header.ARPSize)
	header.Ethernet(arp).Encode(&header.EthernetFields{SrcAddr: "\x02\x00\x00\x00\x00\x01", DstAddr: header.EthernetBroadcastAddress, Type: header.ARPProtocolNumber})
	a := header.ARP(arp[header.EthernetMinimumSize:])
	a.SetIPv4OverEthernet()
	a.SetOp(header.ARPRequest)
	copy(a.ProtocolAddressSender(), []byte{10, 0, 0, 1})
	copy(a.ProtocolAddressTarget(), []byte{10, 0, 0, 2})
	require.NoError(t, m.Backend.Inject(netback.Frame{Data: arp}))
	select {
	case <-tl.FirstPacket():
	case <-ctx.Done():
		t.Fatal("no first packet")
	}
	d, ok := tl.At(netstack.StageFirstPacket)
	require.True(t, ok)
	assert.Greater(t, d, prev)
	assert.Regexp(t, `^boot timeline ms: runtime=1\.0 xenstore=2\.0 netfront=[0-9.]+ stack=[0-9.]+ first-packet=[0-9.]+$`, tl.String())
	met := readMetrics(t, s)
	for _, st := range []netstack.Stage{netstack.StageRuntime, netstack.StageXenStore, netstack.StageNetfront, netstack.StageStack, netstack.StageFirstPacket} {
		d, _ := tl.At(st)
		assert.InDelta(t, d.Seconds(), met.sum("tamaxen_boot_milestone_seconds", "stage", st.String()), 1e-9, "gauge of %v", st)
	}

	// The backend goes away and comes back: the guest announces itself again.
	n := len(w.sent())
	m.Backend.Disconnect()
	require.Eventually(t, func() bool { return len(announcements(t, w.sent()[n:], m.MAC)) >= len(want) }, 10*time.Second, time.Millisecond)
	assert.ElementsMatch(t, want, announcements(t, w.sent()[n:], m.MAC))
	assert.Equal(t, d, func() time.Duration { d, _ := tl.At(netstack.StageFirstPacket); return d }(), "stages are marked once")
}

// A stack without a timeline writes no boot gauges and counts frames as before.
func TestTimelineOptional(t *testing.T) {
	r := newRig(t, "ip=10.0.0.2/24", nil, netfront.Config{})
	assert.Zero(t, readMetrics(t, r.guest).sum("tamaxen_boot_milestone_seconds"))
	var nilTL *netstack.Timeline
	nilTL.Mark(netstack.StageStack) // a nil timeline ignores marks
	_, ok := nilTL.At(netstack.StageStack)
	assert.False(t, ok)
}
