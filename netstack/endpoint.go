// The link endpoint: gVisor's view of a netfront device.

package netstack

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/tamaxen/tamaxen/internal/csum"
	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/netfront/pcap"
)

// maxGSOSize bounds what the stack may hand over as one TCP segment: a frame, headers
// included, must fit XEN_NETIF_MAX_TX_SIZE (65535 bytes) as in Linux netfront, which caps
// TSO at that size less MAX_TCP_HEADER.
const maxGSOSize = 0xffff - header.EthernetMinimumSize - header.IPv6MinimumSize - tcpMaxHeader

// tcpMaxHeader is the largest TCP header, options included.
const tcpMaxHeader = 60

// maxParts is how many pieces of a packet are gathered without allocating: gVisor's packets
// are a reserved header view plus a few payload views.
const maxParts = 16

// offloads is what the endpoint may ask of the backend, from the negotiated features.
type offloads struct {
	csum4, csum6 bool // TX checksum completion for IPv4 and IPv6 (NETTXF_csum_blank)
	gso          bool // TSO for TCP over IPv4 and IPv6 (host GSO in gVisor's terms)
}

func offloadsOf(f netfront.Features) offloads {
	o := offloads{csum4: f.CsumOffload, csum6: f.CsumOffload && f.IPv6CsumOffload}
	// gVisor's host GSO is per NIC, not per family: offer it only when every TCP segment can
	// go out as one frame, whatever its family.
	o.gso = f.SG && f.GSOTCPv4 && f.GSOTCPv6 && o.csum4 && o.csum6
	return o
}

// EndpointStats counts what the endpoint did beyond netfront's own counters.
type EndpointStats struct {
	// TxCsumOffload: frames sent with their checksum left to the backend (csum_blank).
	// TxCsumSoftware: checksums computed here because the backend cannot for that family.
	TxCsumOffload, TxCsumSoftware uint64
	// TxGSO: frames sent as one TCP segment of several MSS; TxGSOBytes their bytes.
	TxGSO, TxGSOBytes uint64
	// TxErrors: frames the device refused (ring gone, device broken, closed).
	TxErrors uint64
	// RxValidated: received frames whose checksum the backend vouched for, so the stack
	// skipped verifying it. RxGSO: received frames carrying several segments.
	RxValidated, RxGSO uint64
	// RxDropped: frames not delivered (no stack attached, runt, another host's MAC).
	// RxBadChecksum: frames dropped here for a wrong IPv4 header or transport checksum.
	// RxUnchecked: IP frames whose transport checksum could not be judged per frame
	// (fragments, IPv6 routing headers, malformed ones), left for the stack to verify, after
	// reassembly for fragments; its own counters (TCP and UDP checksum errors) count those
	// that fail.
	// RxFragDropped: IP fragments dropped over the reassembly budget (Limits.FragBytes).
	RxDropped, RxBadChecksum, RxUnchecked, RxFragDropped uint64
	// Causes within the counters above: TxUnsupported are the TxErrors packets the endpoint
	// could not prepare for the device (a checksum or segmentation it cannot express), the
	// rest the device refused; RxOtherHost are the RxDropped frames for another host's
	// unicast address, the rest were malformed or arrived with no stack attached.
	TxUnsupported, RxOtherHost uint64
}

// Endpoint is a stack.LinkEndpoint over a netfront device: Ethernet framing, with checksum
// offload and TSO passed through to the backend when it negotiated them. Its Deliver method is
// the device's Receive callback, called by netfront without any ring lock held.
//
// WritePackets waits for ring space, and for the link while the backend is away, so the NIC
// must put a queueing discipline in front of it (Open uses txQueues): gVisor calls a link
// endpoint with TCP locks held.
type Endpoint struct {
	tx   batchSender     // the device frames go to (a fake in tests)
	ctx  context.Context // ends on Close: unblocks senders waiting for ring space
	stop context.CancelFunc

	mac tcpip.LinkAddress
	mtu atomic.Uint32
	off offloads

	mu         sync.RWMutex
	dispatcher stack.NetworkDispatcher
	onClose    func()

	capture atomic.Pointer[pcap.Writer]

	linkMu sync.Mutex
	linkUp chan struct{} // closed while the device's link is up (SetLink)

	txCsumOffload, txCsumSoftware, txGSO, txGSOBytes, txErrors atomic.Uint64
	rxValidated, rxGSO, rxDropped, rxBadCsum                   atomic.Uint64
	txUnsupported, rxOtherHost                                 atomic.Uint64
	rxUnchecked                                                atomic.Uint64
	txGSOSizes                                                 gsoSizes // TSO frames by size (metrics.go)

	directMu sync.Mutex   // guards direct
	direct   txFrameStore // WritePackets' frame, when the endpoint is used without the queues

	checked       checkedSet // packets going up whose checksums need no more checking
	frags         fragBudget // IP fragments admitted for reassembly (Limits.FragBytes)
	udp           *udpQueues // the stack's UDP sockets, whose queues Parse keeps bounded (nil: none)
	rxFragDropped atomic.Uint64
}

var (
	_ stack.LinkEndpoint = (*Endpoint)(nil)
	_ stack.GSOEndpoint  = (*Endpoint)(nil)
)

// NewEndpoint returns an endpoint for mac; Bind attaches the device once it is open (the
// device needs Deliver as its Receive callback first). mtu 0 means 1500.
func NewEndpoint(mac net.HardwareAddr, mtu int) *Endpoint {
	e := &Endpoint{mac: tcpip.LinkAddress(mac), linkUp: make(chan struct{})}
	e.frags.limit = LimitsFor(0).FragBytes // the stack sets its own (Open)
	close(e.linkUp)
	e.ctx, e.stop = context.WithCancel(context.Background())
	if mtu <= 0 {
		mtu = 1500
	}
	e.mtu.Store(uint32(mtu))
	return e
}

// Bind attaches the opened device and takes its offloads. Call it before adding the
// endpoint to a stack.
func (e *Endpoint) Bind(dev *netfront.Device) {
	e.tx = dev
	e.off = offloadsOf(dev.Features())
	e.mac = tcpip.LinkAddress(dev.MAC())
}

// SetCapture starts (w != nil) or stops writing every frame to a pcap capture.
func (e *Endpoint) SetCapture(w *pcap.Writer) { e.capture.Store(w) }

// Stats returns the endpoint's counters.
func (e *Endpoint) Stats() EndpointStats {
	return EndpointStats{
		TxCsumOffload: e.txCsumOffload.Load(), TxCsumSoftware: e.txCsumSoftware.Load(),
		TxGSO: e.txGSO.Load(), TxGSOBytes: e.txGSOBytes.Load(), TxErrors: e.txErrors.Load(),
		RxValidated: e.rxValidated.Load(), RxGSO: e.rxGSO.Load(), RxDropped: e.rxDropped.Load(),
		RxBadChecksum: e.rxBadCsum.Load(), RxUnchecked: e.rxUnchecked.Load(), RxFragDropped: e.rxFragDropped.Load(), TxUnsupported: e.txUnsupported.Load(), RxOtherHost: e.rxOtherHost.Load(),
	}
}

// MTU implements stack.LinkEndpoint.
func (e *Endpoint) MTU() uint32 { return e.mtu.Load() }

// SetMTU implements stack.LinkEndpoint.
func (e *Endpoint) SetMTU(mtu uint32) { e.mtu.Store(mtu) }

// MaxHeaderLength implements stack.LinkEndpoint: the Ethernet header.
func (e *Endpoint) MaxHeaderLength() uint16 { return header.EthernetMinimumSize }

// LinkAddress implements stack.LinkEndpoint.
func (e *Endpoint) LinkAddress() tcpip.LinkAddress { return e.mac }

// SetLinkAddress implements stack.LinkEndpoint; the vif's MAC is the toolstack's to choose,
// so this only changes the source address the stack writes.
func (e *Endpoint) SetLinkAddress(addr tcpip.LinkAddress) { e.mac = addr }

// Capabilities implements stack.LinkEndpoint. RX checksum offload is not claimed: gVisor
// would take it for every packet of the NIC. Deliver marks the packets it or the backend
// verified instead, and the stack verifies the rest (see checked.go).
func (e *Endpoint) Capabilities() stack.LinkEndpointCapabilities {
	c := stack.CapabilityResolutionRequired
	if e.off.csum4 {
		c |= stack.CapabilityTXChecksumOffload
	}
	return c
}

// GSOMaxSize implements stack.GSOEndpoint.
func (e *Endpoint) GSOMaxSize() uint32 {
	if e.off.gso {
		return maxGSOSize
	}
	return 0
}

// SupportedGSO implements stack.GSOEndpoint.
func (e *Endpoint) SupportedGSO() stack.SupportedGSO {
	if e.off.gso {
		return stack.HostGSOSupported
	}
	return stack.GSONotSupported
}

// Attach implements stack.LinkEndpoint.
func (e *Endpoint) Attach(d stack.NetworkDispatcher) {
	e.mu.Lock()
	e.dispatcher = d
	e.mu.Unlock()
}

// IsAttached implements stack.LinkEndpoint.
func (e *Endpoint) IsAttached() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.dispatcher != nil
}

// Wait implements stack.LinkEndpoint: the endpoint has no goroutines of its own (netfront's
// RX goroutines call Deliver).
func (e *Endpoint) Wait() {}

// ARPHardwareType implements stack.LinkEndpoint.
func (e *Endpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareEther }

// AddHeader implements stack.LinkEndpoint.
func (e *Endpoint) AddHeader(pkt *stack.PacketBuffer) {
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	src := pkt.EgressRoute.LocalLinkAddress
	if src == "" {
		src = e.mac
	}
	eth.Encode(&header.EthernetFields{SrcAddr: src, DstAddr: pkt.EgressRoute.RemoteLinkAddress, Type: pkt.NetworkProtocolNumber})
}

// ParseHeader implements stack.LinkEndpoint.
func (e *Endpoint) ParseHeader(pkt *stack.PacketBuffer) bool {
	h, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	if !ok {
		return false
	}
	pkt.NetworkProtocolNumber = header.Ethernet(h).Type()
	return true
}

// Close implements stack.LinkEndpoint: senders waiting for ring space give up.
func (e *Endpoint) Close() {
	e.stop()
	e.mu.Lock()
	fn := e.onClose
	e.onClose = nil
	e.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// SetOnCloseAction implements stack.LinkEndpoint.
func (e *Endpoint) SetOnCloseAction(fn func()) {
	e.mu.Lock()
	e.onClose = fn
	e.mu.Unlock()
}

// SetLink records the device's link state (netfront's Config.Link); a packet sent while the
// link is down waits for it to come back (see writePacket).
func (e *Endpoint) SetLink(up bool) {
	e.linkMu.Lock()
	defer e.linkMu.Unlock()
	select {
	case <-e.linkUp:
		if !up {
			e.linkUp = make(chan struct{})
		}
	default:
		if up {
			close(e.linkUp)
		}
	}
}

// waitLink waits until the link is up, reporting false if the endpoint closed first. It runs
// in the goroutine of an outgoing queue (the NIC's FIFO discipline), never under a TCP lock.
func (e *Endpoint) waitLink() bool {
	e.linkMu.Lock()
	up := e.linkUp
	e.linkMu.Unlock()
	select {
	case <-up:
		return true
	case <-e.ctx.Done():
		return false
	}
}

// WritePackets implements stack.LinkWriter: each packet goes to netfront as one frame,
// gathered from its views, with its checksum and segmentation left to the backend where it
// negotiated them. It waits for ring space (the backpressure of a full ring) until the
// endpoint closes. The stack's NIC sends through the outgoing queues (txqueue.go), which
// batch; this is for a user of the endpoint without them.
func (e *Endpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	e.directMu.Lock()
	defer e.directMu.Unlock()
	n := 0
	for _, pkt := range pkts.AsSlice() {
		f, size, ok := e.frame(&e.direct, pkt)
		if !ok {
			if n == 0 {
				return 0, &tcpip.ErrNotSupported{}
			}
			break
		}
		frames, sizes := [1]netfront.TxFrame{f}, [1]int{size}
		if e.sendFrames(frames[:], sizes[:]) == 0 {
			if n == 0 {
				if e.ctx.Err() != nil || e.tx == nil {
					return 0, &tcpip.ErrClosedForSend{}
				}
				return 0, &tcpip.ErrAborted{}
			}
			break
		}
		n++
	}
	return n, nil
}

// frame makes pkt into a frame for netfront, its pieces gathered (not copied) into s. It
// returns the frame and its size, or false, counted, for a packet the backend cannot be asked
// to finish.
func (e *Endpoint) frame(s *txFrameStore, pkt *stack.PacketBuffer) (netfront.TxFrame, int, bool) {
	m, ok := e.prepare(pkt)
	if !ok {
		e.txErrors.Add(1)
		e.txUnsupported.Add(1)
		return netfront.TxFrame{}, 0, false
	}
	vl, off := pkt.AsViewList()
	parts, ok := appendViews(s.parts[:0], vl, off, len(s.parts))
	if !ok {
		// Rare: more pieces than gathered without allocating; flatten the packet.
		parts = append(s.parts[:0], pkt.ToView().AsSlice())
	}
	return netfront.TxFrame{Parts: parts, Meta: m}, pkt.Size(), true
}

// appendViews appends to parts the views of vl from byte skip on, reporting false if parts
// would hold more than most pieces.
func appendViews(parts [][]byte, vl buffer.ViewList, skip, most int) ([][]byte, bool) {
	for v := vl.Front(); v != nil; v = v.Next() {
		b := v.AsSlice()
		if skip >= len(b) {
			skip -= len(b)
			continue
		}
		b, skip = b[skip:], 0
		if len(parts) == most {
			return parts, false
		}
		parts = append(parts, b)
	}
	return parts, true
}

// sendFrames hands frames (of sizes bytes) to netfront in order, as one batch: one push of the
// ring and at most one notification of the backend for all that fit. While the backend is away
// the frames wait for the link, once, rather than being dropped. It counts every frame and
// returns how many went.
func (e *Endpoint) sendFrames(frames []netfront.TxFrame, sizes []int) int {
	if e.tx == nil {
		e.txErrors.Add(uint64(len(frames))) // not bound to a device yet
		return 0
	}
	if w := e.capture.Load(); w != nil {
		for _, f := range frames {
			e.captureOut(w, f.Parts, f.Meta)
		}
	}
	sent, waited := 0, false
	for len(frames) > 0 {
		n, err := e.tx.SendBatch(e.ctx, frames)
		for i, f := range frames[:n] {
			e.countSent(f.Meta, sizes[i])
		}
		sent, frames, sizes = sent+n, frames[n:], sizes[n:]
		switch {
		case err == nil:
		case len(frames) > 0 && (errors.Is(err, netfront.ErrTooBig) || errors.Is(err, netfront.ErrTooSmall)):
			// This frame can never go (netfront says why in its counters); the rest may.
			e.txErrors.Add(1)
			frames, sizes = frames[1:], sizes[1:]
		case len(frames) > 0 && errors.Is(err, netfront.ErrDisconnected) && !waited && e.waitLink():
			// While the backend is away (detach and attach, a driver domain restart, xl
			// restore) the packets wait in the queue's goroutine rather than being dropped:
			// TCP then carries on where it was instead of backing off its retransmission
			// timer once per lost segment.
			waited = true
		default:
			// The device or the connection failed (closed, broken, a notification that did
			// not go after frames were queued): what is left is lost, as on a wire, and
			// TCP sends it again once the device works.
			e.txErrors.Add(uint64(len(frames)))
			return sent
		}
	}
	return sent
}

// batchSender is what sendFrames needs of netfront.Device.
type batchSender interface {
	SendBatch(ctx context.Context, frames []netfront.TxFrame) (int, error)
}

// countSent counts a frame netfront took.
func (e *Endpoint) countSent(m netfront.TxMeta, size int) {
	if m.CsumBlank {
		e.txCsumOffload.Add(1)
	}
	if m.GSOType != netfront.GSONone {
		e.txGSO.Add(1)
		e.txGSOBytes.Add(uint64(size))
		e.txGSOSizes.observe(size)
	}
}

// prepare decides how pkt's transport checksum is finished and whether it goes out as a TSO
// frame. With TX checksum offload gVisor leaves TCP and UDP checksums to the link, either
// empty or (for TCP under host GSO) holding the pseudo-header sum. The backend expects
// Linux's CHECKSUM_PARTIAL: the pseudo-header sum, length included, in the checksum field.
// Where the backend cannot complete a family's checksums, they are computed here.
func (e *Endpoint) prepare(pkt *stack.PacketBuffer) (netfront.TxMeta, bool) {
	var m netfront.TxMeta
	if !e.off.csum4 {
		return m, true // gVisor computed every checksum itself
	}
	var field int
	switch pkt.TransportProtocolNumber {
	case header.TCPProtocolNumber:
		field = header.TCPChecksumOffset
	case header.UDPProtocolNumber:
		field = 6 // the UDP checksum
	default:
		return m, true // ICMP and the rest carry their own checksums
	}
	th := pkt.TransportHeader().Slice()
	if len(th) < field+2 {
		return m, true
	}
	var src, dst tcpip.Address
	offload := false
	switch pkt.NetworkProtocolNumber {
	case header.IPv4ProtocolNumber:
		ip := header.IPv4(pkt.NetworkHeader().Slice())
		if len(ip) < header.IPv4MinimumSize {
			return m, true
		}
		src, dst, offload = ip.SourceAddress(), ip.DestinationAddress(), e.off.csum4
	case header.IPv6ProtocolNumber:
		ip := header.IPv6(pkt.NetworkHeader().Slice())
		if len(ip) < header.IPv6MinimumSize {
			return m, true
		}
		src, dst, offload = ip.SourceAddress(), ip.DestinationAddress(), e.off.csum6
	default:
		return m, true
	}
	length := uint16(len(th) + pkt.Data().Size())
	partial := header.PseudoHeaderChecksum(pkt.TransportProtocolNumber, src, dst, length)
	if offload {
		putUint16(th[field:], partial)
		m.CsumBlank = true
	} else {
		putUint16(th[field:], 0)
		sum := checksum.Combine(partial, checksum.Checksum(th, 0))
		sum = ^checksum.Combine(sum, pkt.Data().Checksum())
		if sum == 0 && pkt.TransportProtocolNumber == header.UDPProtocolNumber {
			sum = 0xffff // RFC 768: a computed zero is sent as all ones
		}
		putUint16(th[field:], sum)
		e.txCsumSoftware.Add(1)
	}
	g := pkt.GSOOptions
	if (g.Type == stack.GSOTCPv4 || g.Type == stack.GSOTCPv6) && g.MSS > 0 && pkt.Data().Size() > int(g.MSS) {
		if !e.off.gso {
			return m, false
		}
		m.GSOSize = g.MSS
		m.GSOType = netfront.GSOTCPv4
		if g.Type == stack.GSOTCPv6 {
			m.GSOType = netfront.GSOTCPv6
		}
	}
	return m, true
}

func putUint16(b []byte, v uint16) { b[0], b[1] = byte(v>>8), byte(v) }

// Deliver hands a received frame to the stack: it is netfront's Receive callback, called from
// a queue's RX goroutine with no driver lock held. The frame is copied into a packet buffer
// (gVisor's pooled chunks); its checksum counts as verified when the backend said so.
func (e *Endpoint) Deliver(frame []byte, m netfront.RxMeta) {
	if w := e.capture.Load(); w != nil {
		e.captureIn(w, frame, m)
	}
	e.mu.RLock()
	d := e.dispatcher
	e.mu.RUnlock()
	if d == nil || len(frame) < header.EthernetMinimumSize {
		e.rxDropped.Add(1)
		return
	}
	eth := header.Ethernet(frame)
	if dst := eth.DestinationAddress(); dst != e.mac && dst[0]&1 == 0 {
		e.rxDropped.Add(1) // another host's unicast: a bridge may flood it to us
		e.rxOtherHost.Add(1)
		return
	}
	// NETRXF_data_validated: checked by the backend (or its NIC). NETRXF_csum_blank: a local
	// sender left it for offload, so there is nothing on the wire to check.
	validated := m.DataValidated || m.CsumBlank
	verdict := csum.Verify(frame, validated)
	switch {
	case verdict == csum.Bad:
		e.rxBadCsum.Add(1)
		return
	case verdict == csum.Unchecked:
		if csum.Fragment(frame) && !e.frags.admit(frame, fragCost(len(frame)), time.Now()) {
			e.rxFragDropped.Add(1) // over the reassembly budget: see Limits
			return
		}
		if t := eth.Type(); t == header.IPv4ProtocolNumber || t == header.IPv6ProtocolNumber {
			e.rxUnchecked.Add(1)
		}
	case validated:
		e.rxValidated.Add(1)
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame)})
	defer pkt.DecRef()
	if verdict == csum.Good {
		slot := e.checked.add(pkt)
		defer e.checked.remove(slot) // before DecRef: see checkedSet
		if slot < 0 && m.CsumBlank {
			// No slot: the stack verifies this one, so the partial checksum must be completed
			// first, in the packet's own copy of the frame (a rare, slower path).
			if v, ok := pkt.Data().PullUp(len(frame)); ok {
				csum.Complete(v)
			}
		}
	}
	if !e.ParseHeader(pkt) {
		e.rxDropped.Add(1)
		return
	}
	if m.GSOType != netfront.GSONone {
		e.rxGSO.Add(1)
	}
	d.DeliverNetworkPacket(pkt.NetworkProtocolNumber, pkt)
}
