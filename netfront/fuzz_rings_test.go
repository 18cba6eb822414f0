// Fuzz target: a backend program mixing well-formed and hostile moves on both rings, from any
// starting ring index.

package netfront

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/ring"
)

// Backend moves of FuzzHostileRings, one per program byte (mod ringOpCount). The well-formed
// moves follow io/netif.h; the others break it in the ways a hostile backend can.
const (
	opSend       = iota // the guest sends a frame (size, GSO and checksum flags from the program)
	opServeTx           // well-formed: consume one TX packet and answer each of its slots
	opDeliverRx         // well-formed: place one frame in posted RX buffers, GSO extra included
	opPollRx            // the guest's RX pass
	opReclaimTx         // the guest's TX completion pass
	opRawRx             // hostile: 8 arbitrary bytes in the next RX response slot, pushed
	opRawRxExtra        // hostile: an extra-info slot with arbitrary type, flags and GSO fields
	opRawTx             // hostile: 4 arbitrary bytes in the next TX response slot, pushed
	opRxProd            // hostile: the RX rsp_prod moved by an arbitrary signed amount
	opTxProd            // hostile: the TX rsp_prod set to an arbitrary value
	ringOpCount
)

// FuzzHostileRings runs a program of backend moves against one queue whose rings start at an
// arbitrary index (so the u32 wrap is crossed), interleaved with the guest's sends and polls.
//
// Oracles: nothing panics; a violation is reported as ErrBroken and counted; while the device
// is not broken its books balance (TX ids free + in flight = pages, in-flight counter = ids in
// flight, RX ids free + posted = pages, posted counter = requests outstanding); a delivered
// frame is 14..65536 bytes with valid GSO metadata. As long as the program made only
// well-formed moves, the device must not break, every TX packet reaches the backend exactly as
// sent (data, size, flags and GSO extra), and every RX frame reaches the guest exactly as
// placed.
func FuzzHostileRings(f *testing.F) {
	f.Add(uint32(0), []byte{opSend, 0x10, 0, 0, opServeTx, opReclaimTx, opDeliverRx, 0x3c, 0, 0, opPollRx})
	// A TSO frame over both rings, and a frame of several slots, starting just before the wrap.
	f.Add(uint32(0xfffffff0), []byte{
		opSend, 0x00, 0x40, 0x81, opServeTx, opReclaimTx,
		opDeliverRx, 0x00, 0x30, 0x82, opPollRx, opDeliverRx, 0x00, 0x20, 0x04, opPollRx})
	// Hostile: an RX extra of an unknown type, then a producer far ahead.
	f.Add(uint32(0x7fffffff), []byte{opDeliverRx, 0x3c, 0, 0, opRawRxExtra, 7, 0, 0, 0, 0, 0, 0, 0, opPollRx,
		opRxProd, 0xff, 0xff, 0, 0, opPollRx})
	// Hostile: a TX response for an id never sent, and a producer that moved backwards.
	f.Add(uint32(5), []byte{opSend, 0x20, 0, 0, opRawTx, 9, 0, 0, 0, opReclaimTx, opTxProd, 1, 0, 0, 0, opReclaimTx})
	// A GSO extra with a zero size: dropped and counted, not a violation.
	f.Add(uint32(1), []byte{opDeliverRx, 0x00, 0x08, 0x01, opRawRxExtra, 1, 0, 0, 0, 1, 0, 0, 0, opPollRx})
	r := newRig(f, rigOpts{noBackend: true})
	f.Fuzz(func(t *testing.T, start uint32, prog []byte) {
		runRingProgram(t, r, start, prog)
	})
}

type ringProgram struct {
	t     *testing.T
	h     *rig
	prog  []byte
	clean bool // only well-formed moves so far

	sent     [][]byte // frames queued by Send, not yet consumed by the backend
	sentMeta []TxMeta
	placed   []got // RX frames placed by well-formed moves, not yet delivered
	gotRx    []got
	txBuf    [netif.TxSlotSize]byte
	rxBuf    [netif.RxSlotSize]byte
}

func (p *ringProgram) byte() byte {
	if len(p.prog) == 0 {
		return 0
	}
	b := p.prog[0]
	p.prog = p.prog[1:]
	return b
}

func (p *ringProgram) bytes(n int) []byte {
	out := make([]byte, n)
	copy(out, p.prog)
	p.prog = p.prog[min(n, len(p.prog)):]
	return out
}

func (p *ringProgram) u16() uint16 { return binary.LittleEndian.Uint16(p.bytes(2)) }
func (p *ringProgram) u32() uint32 { return binary.LittleEndian.Uint32(p.bytes(4)) }

func runRingProgram(t *testing.T, r *rig, start uint32, prog []byte) {
	f := allFeatures
	f.IPv6CsumOffload = true
	h := r.handQueue(t, f, 32, 16, start)
	p := &ringProgram{t: t, h: h, prog: prog, clean: true}
	h.d.cfg.Receive = func(frame []byte, m RxMeta) {
		if len(frame) < netif.ETH_HLEN || len(frame) > maxRxFrame {
			t.Fatalf("delivered a %d-byte frame", len(frame))
		}
		if m.GSOType != GSONone && (m.GSOType != GSOTCPv4 && m.GSOType != GSOTCPv6 || m.GSOSize == 0) {
			t.Fatalf("delivered GSO type %d size %d", m.GSOType, m.GSOSize)
		}
		p.gotRx = append(p.gotRx, got{append([]byte(nil), frame...), m})
	}
	for steps := 0; len(p.prog) > 0 && steps < 200; steps++ {
		op := p.byte() % ringOpCount
		if p.h.d.Err() != nil && op != opSend {
			continue // nothing more the backend can do to a broken device
		}
		p.step(op)
		p.check()
	}
	if p.clean {
		require.NoError(t, h.d.Err(), "well-formed moves broke the device")
	}
}

func (p *ringProgram) step(op byte) {
	t, h := p.t, p.h
	switch op {
	case opSend:
		size := int(p.u16())%(netif.XEN_NETIF_MAX_TX_SIZE-13) + netif.ETH_HLEN
		flags := p.byte()
		m := TxMeta{CsumBlank: flags&1 != 0, DataValidated: flags&2 != 0}
		if g := flags >> 6; g != 0 && g != 3 {
			m.GSOType, m.GSOSize = g, uint16(flags&0x3c)<<4+1
		}
		frame := pattern(size, int(flags))
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // a full ring must not block: this backend may never answer
		err := h.d.Send(ctx, frame, m)
		switch {
		case err == nil:
			p.sent = append(p.sent, frame)
			p.sentMeta = append(p.sentMeta, m)
		case errors.Is(err, context.Canceled), errors.Is(err, ErrTooBig), errors.Is(err, xen.ErrBroken):
		default:
			t.Fatalf("send: %v", err)
		}
	case opServeTx:
		p.serveTx()
	case opDeliverRx:
		p.deliverRx()
	case opPollRx:
		if _, err := h.q.rx.poll(); err != nil && !errors.Is(err, xen.ErrBroken) {
			t.Fatalf("rx poll: %v", err)
		}
		p.matchRx()
	case opReclaimTx:
		if err := h.q.tx.reclaim(); err != nil && !errors.Is(err, xen.ErrBroken) {
			t.Fatalf("tx reclaim: %v", err)
		}
	case opRawRx, opRawRxExtra:
		p.clean = false
		b := p.bytes(netif.RxSlotSize)
		if op == opRawRxExtra {
			b[0] = b[0] % (netif.XEN_NETIF_EXTRA_TYPE_MAX + 1)
			b[1] &= 1
		}
		idx := binary.LittleEndian.Uint32(h.rxPage[ring.OffRspProd:])
		copy(h.rxPage[ring.HeaderSize+int(idx&h.q.rx.mask)*netif.RxSlotSize:], b)
		binary.LittleEndian.PutUint32(h.rxPage[ring.OffRspProd:], idx+1)
	case opRawTx:
		p.clean = false
		b := p.bytes(netif.SizeofTxResponse)
		idx := binary.LittleEndian.Uint32(h.txPage[ring.OffRspProd:])
		copy(h.txPage[ring.HeaderSize+int(idx&uint32(h.q.tx.ring.Size()-1))*netif.TxSlotSize:], b)
		binary.LittleEndian.PutUint32(h.txPage[ring.OffRspProd:], idx+1)
	case opRxProd:
		p.clean = false
		d := int32(p.u32())
		idx := binary.LittleEndian.Uint32(h.rxPage[ring.OffRspProd:])
		binary.LittleEndian.PutUint32(h.rxPage[ring.OffRspProd:], idx+uint32(d))
	case opTxProd:
		p.clean = false
		binary.LittleEndian.PutUint32(h.txPage[ring.OffRspProd:], p.u32())
	}
}

// serveTx is a well-formed netback consuming one packet: the first slot, its extras, its
// continuation slots, each answered in order (NETIF_RSP_NULL for the extras).
func (p *ringProgram) serveTx() {
	n, err := p.h.txBack.UnconsumedRequests()
	require.NoError(p.t, err, "the frontend overran its TX ring")
	if n == 0 {
		return
	}
	pkt := p.consumeTx()
	data := p.txData(pkt)
	defer p.answerTx(pkt)
	if p.clean {
		p.checkTx(pkt, data)
	}
}

// txPacket is a packet's requests as the backend consumed them: reqs[0] is the first slot.
type txPacket struct {
	reqs   []netif.TxRequest
	extras []netif.ExtraInfo
}

// consumeTx consumes one packet's slots. Hostile responses may have overwritten request slots
// not yet consumed: then the packet may end early, and the backend answers what it consumed.
func (p *ringProgram) consumeTx() txPacket {
	t, h := p.t, p.h
	var pkt txPacket
	next := func() bool {
		ok, err := h.txBack.ConsumeRequest(p.txBuf[:])
		require.NoError(t, err)
		require.True(t, ok || !p.clean, "the frontend published half a packet")
		return ok
	}
	var first netif.TxRequest
	next()
	first.Decode(p.txBuf[:])
	pkt.reqs = append(pkt.reqs, first)
	more := first.Flags&netif.NETTXF_extra_info != 0
	for more {
		if !next() {
			break
		}
		var e netif.ExtraInfo
		e.Decode(p.txBuf[:])
		pkt.extras = append(pkt.extras, e)
		more = e.More()
	}
	more = first.Flags&netif.NETTXF_more_data != 0
	for more {
		if !next() {
			break
		}
		var r netif.TxRequest
		r.Decode(p.txBuf[:])
		pkt.reqs = append(pkt.reqs, r)
		more = r.Flags&netif.NETTXF_more_data != 0
	}
	return pkt
}

// txData is the packet as the backend reads it: the first slot's size is the whole packet's.
func (p *ringProgram) txData(pkt txPacket) []byte {
	t, reqs := p.t, pkt.reqs
	var data []byte
	rest := int(reqs[0].Size)
	for i := len(reqs) - 1; i >= 1; i-- {
		rest -= int(reqs[i].Size)
	}
	for i, r := range reqs {
		size := int(r.Size)
		if i == 0 {
			size = rest
		}
		pg := p.txPage(r.Gref)
		if !p.clean {
			// Hostile responses may have overwritten request slots not yet consumed.
			if pg == nil || size < 0 || int(r.Offset)+size > xen.PageSize {
				continue
			}
		}
		require.LessOrEqual(t, int(r.Offset)+size, xen.PageSize, "TX slot %d runs past its page", i)
		require.NotNil(t, pg, "TX slot %d grants no TX buffer", i)
		data = append(data, pg[int(r.Offset):int(r.Offset)+size]...)
	}
	return data
}

// answerTx answers every slot consumed, in order.
func (p *ringProgram) answerTx(pkt txPacket) {
	put := func(id uint16, st int16) {
		slot, err := p.h.txBack.NextResponse()
		require.NoError(p.t, err)
		(&netif.TxResponse{ID: id, Status: st}).Encode(slot)
	}
	put(pkt.reqs[0].ID, netif.NETIF_RSP_OKAY)
	for range pkt.extras {
		put(0, netif.NETIF_RSP_NULL)
	}
	for _, r := range pkt.reqs[1:] {
		put(r.ID, netif.NETIF_RSP_OKAY)
	}
	p.h.txBack.PushResponses()
}

// checkTx checks a packet of a program of well-formed moves against the frame sent first.
func (p *ringProgram) checkTx(pkt txPacket, data []byte) {
	t, first, extras := p.t, pkt.reqs[0], pkt.extras
	require.NotEmpty(t, p.sent, "the backend got a packet nobody sent")
	want, m := p.sent[0], p.sentMeta[0]
	p.sent, p.sentMeta = p.sent[1:], p.sentMeta[1:]
	require.True(t, bytes.Equal(want, data), "TX packet of %d bytes arrived as %d bytes", len(want), len(data))
	require.Equal(t, m.CsumBlank, first.Flags&netif.NETTXF_csum_blank != 0)
	require.Equal(t, m.CsumBlank || m.DataValidated, first.Flags&netif.NETTXF_data_validated != 0)
	if m.GSOType != GSONone {
		require.Len(t, extras, 1)
		require.Equal(t, uint8(netif.XEN_NETIF_EXTRA_TYPE_GSO), extras[0].Type)
		require.Equal(t, m.GSOType, extras[0].GSOType)
		require.Equal(t, m.GSOSize, extras[0].GSOSize)
	} else {
		require.Empty(t, extras)
	}
}

// txPage returns the frontend page behind a TX grant.
func (p *ringProgram) txPage(gref uint32) []byte {
	for i, g := range p.h.q.tx.bufs.refs {
		if uint32(g) == gref {
			return p.h.q.tx.bufs.pages[i].Data
		}
	}
	return nil
}

// deliverRx is a well-formed netback placing one frame: as many posted buffers as it takes,
// the GSO extra in the slot after the first.
func (p *ringProgram) deliverRx() {
	t, h := p.t, p.h
	size := int(p.u16())%(netif.XEN_NETIF_MAX_TX_SIZE-13) + netif.ETH_HLEN
	flags := p.byte()
	var gso *netif.ExtraInfo
	want := RxMeta{}
	var rflags uint16
	if flags&1 != 0 {
		rflags |= netif.NETRXF_csum_blank | netif.NETRXF_data_validated
		want.CsumBlank, want.DataValidated = true, true
	} else if flags&2 != 0 {
		rflags |= netif.NETRXF_data_validated
		want.DataValidated = true
	}
	if g := flags >> 6; g != 0 && g != 3 {
		gso = &netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_GSO, GSOType: g, GSOSize: uint16(flags&0x3c)<<4 + 1}
		want.GSOType, want.GSOSize = gso.GSOType, gso.GSOSize
	}
	need := uint32(slotsFor(size))
	if gso != nil {
		need++
	}
	if n, err := h.rxBack.UnconsumedRequests(); err != nil || n < need {
		require.NoError(t, err, "the frontend overran its RX ring")
		return // not enough buffers posted: a backend waits
	}
	data := pattern(size, int(flags)+3)
	p.place(data, rflags, gso)
	if p.clean {
		p.placed = append(p.placed, got{data, want})
	}
}

// place is harness.deliverFrame for a backend whose ring may hold garbage where requests were
// (after hostile moves): a request naming no RX buffer gets its response without data.
func (p *ringProgram) place(data []byte, flags uint16, gso *netif.ExtraInfo) {
	h := p.h
	respond := func(fill func(rsp []byte)) {
		ok, err := h.rxBack.ConsumeRequest(p.rxBuf[:])
		require.NoError(p.t, err)
		require.True(p.t, ok, "fewer RX requests than counted")
		slot, err := h.rxBack.NextResponse()
		require.NoError(p.t, err)
		fill(slot)
	}
	for off, first := 0, true; first || off < len(data); first = false {
		n := min(len(data)-off, xen.PageSize)
		respond(func(slot []byte) {
			var req netif.RxRequest
			req.Decode(p.rxBuf[:])
			var buf []byte
			for i, g := range h.q.rx.bufs.refs {
				if uint32(g) == req.Gref {
					buf = h.q.rx.bufs.pages[i].Data
				}
			}
			require.True(p.t, buf != nil || !p.clean, "RX request names gref %d, no RX buffer", req.Gref)
			copy(buf, data[off:off+n])
			r := netif.RxResponse{ID: req.ID, Status: int16(n)}
			if first {
				r.Flags = flags
				if gso != nil {
					r.Flags |= netif.NETRXF_extra_info
				}
			}
			if off+n < len(data) {
				r.Flags |= netif.NETRXF_more_data
			}
			r.Encode(slot)
		})
		off += n
		if first && gso != nil {
			respond(func(slot []byte) { clear(slot); gso.Encode(slot) })
		}
	}
	h.rxBack.PushResponses()
}

// matchRx checks the frames delivered so far against those placed, in order.
func (p *ringProgram) matchRx() {
	if !p.clean {
		p.gotRx = p.gotRx[:0]
		return
	}
	for _, g := range p.gotRx {
		require.NotEmpty(p.t, p.placed, "a frame was delivered that the backend never placed")
		w := p.placed[0]
		p.placed = p.placed[1:]
		require.True(p.t, bytes.Equal(w.data, g.data), "RX frame of %d bytes delivered as %d bytes", len(w.data), len(g.data))
		w.meta.Queue = g.meta.Queue
		require.Equal(p.t, w.meta, g.meta)
	}
	p.gotRx = p.gotRx[:0]
}

// check verifies the books of the queue while the device works.
func (p *ringProgram) check() {
	t, q := p.t, p.h.q
	st := q.stats.snapshot()
	if p.h.d.Err() != nil {
		require.NotZero(t, st.Violations, "broken without a violation counted")
		return
	}
	require.Zero(t, st.Violations, "a violation counted but the device works")
	inflight := 0
	for _, b := range q.tx.inflight {
		if b {
			inflight++
		}
	}
	require.Equal(t, len(q.tx.bufs.pages), inflight+len(q.tx.bufs.free), "TX ids lost or duplicated")
	require.Equal(t, uint64(inflight), st.TxInFlight, "tx_inflight counter")
	seen := make(map[uint16]bool)
	for _, id := range q.tx.bufs.free {
		require.False(t, seen[id] || q.tx.inflight[id], "TX id %d free twice or while in flight", id)
		seen[id] = true
	}
	outstanding := q.rx.ring.ReqProdPvt() - q.rx.ring.RspCons()
	require.Equal(t, len(q.rx.bufs.pages), int(outstanding)+len(q.rx.bufs.free), "RX ids lost or duplicated")
	require.Equal(t, uint64(outstanding), st.RxPosted, "rx_posted counter")
}
