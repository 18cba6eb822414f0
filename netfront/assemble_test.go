// The RX assembler on its own: responses as bytes, pages as slices, no ring.

package netfront

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/netif"
)

// rxIn is one response as the RX loop hands it over: the slot's bytes, copied out of the ring,
// and the buffer id posted at its position.
type rxIn struct {
	slot [netif.RxSlotSize]byte
	id   uint16
}

// rxData is a data response naming the buffer posted at its position.
func rxData(id, off uint16, status int16, flags uint16) rxIn {
	in := rxIn{id: id}
	(&netif.RxResponse{ID: id, Offset: off, Status: status, Flags: flags}).Encode(in.slot[:])
	return in
}

// rxExtraIn is an extra-info response; the buffer posted at its position is id.
func rxExtraIn(id uint16, e netif.ExtraInfo) rxIn {
	in := rxIn{id: id}
	e.Encode(in.slot[:])
	return in
}

// asmPage is the contents of buffer id's page, different for every id.
func asmPage(id uint16) []byte { return pattern(xen.PageSize, int(id)*11+1) }

// asmRun feeds ins to a new assembler and records what came out: each frame delivered, each
// drop with the index of the response that reported it, and the first violation's index.
type asmRun struct {
	frames []got
	drops  map[int]rxDrop
	errAt  int
	err    error
}

func runAssembler(ins []rxIn) asmRun {
	a := newRxAssembler()
	out := asmRun{drops: map[int]rxDrop{}, errAt: -1}
	for i, in := range ins {
		st, err := a.feed(in.slot[:], in.id, asmPage(in.id))
		if st.drop != rxKept {
			out.drops[i] = st.drop
		}
		if err != nil {
			out.errAt, out.err = i, err
			return out
		}
		if st.frame {
			out.frames = append(out.frames, got{bytes.Clone(a.frame), a.meta})
		}
	}
	return out
}

// slotsOf is n empty data slots with more_data, ids from id on.
func slotsOf(id uint16, n int, size int16) []rxIn {
	var ins []rxIn
	for i := range n {
		ins = append(ins, rxData(id+uint16(i), 0, size, netif.NETRXF_more_data))
	}
	return ins
}

func cat(parts ...[]rxIn) []rxIn {
	var out []rxIn
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestRxAssembler(t *testing.T) {
	gso := netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_GSO, GSOType: GSOTCPv4, GSOSize: 1448}
	more := func(e netif.ExtraInfo) netif.ExtraInfo { e.Flags = netif.XEN_NETIF_EXTRA_FLAG_MORE; return e }
	full := func(ids ...uint16) []byte {
		var b []byte
		for _, id := range ids {
			b = append(b, asmPage(id)...)
		}
		return b
	}
	const m, x = netif.NETRXF_more_data, netif.NETRXF_extra_info
	tests := []struct {
		name   string
		ins    []rxIn
		frames []got
		drops  map[int]rxDrop
		errAt  int // -1: no violation
	}{
		{"one slot", []rxIn{rxData(0, 0, 60, netif.NETRXF_data_validated)},
			[]got{{asmPage(0)[:60], RxMeta{DataValidated: true}}}, nil, -1},
		{"offset within the page", []rxIn{rxData(3, 100, 60, 0)},
			[]got{{asmPage(3)[100:160], RxMeta{}}}, nil, -1},
		{"a runt is the receiver's to drop", []rxIn{rxData(0, 0, 10, 0)},
			[]got{{asmPage(0)[:10], RxMeta{}}}, nil, -1},
		{"three slots", []rxIn{
			rxData(0, 0, xen.PageSize, m|netif.NETRXF_csum_blank), rxData(1, 0, xen.PageSize, m), rxData(2, 0, 10, 0)},
			[]got{{append(full(0, 1), asmPage(2)[:10]...), RxMeta{CsumBlank: true}}}, nil, -1},
		{"GSO extra after the first slot", []rxIn{
			rxData(0, 0, xen.PageSize, m|x), rxExtraIn(1, gso), rxData(2, 0, 100, 0)},
			[]got{{append(full(0), asmPage(2)[:100]...), RxMeta{GSOType: GSOTCPv4, GSOSize: 1448}}}, nil, -1},
		{"a chain of extras ends the frame", []rxIn{
			rxData(0, 0, 60, x), rxExtraIn(1, more(gso)), rxExtraIn(2, netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_HASH})},
			[]got{{asmPage(0)[:60], RxMeta{GSOType: GSOTCPv4, GSOSize: 1448}}}, nil, -1},
		{"frames back to back start clean", []rxIn{
			rxData(0, 0, 60, netif.NETRXF_csum_blank|x), rxExtraIn(1, gso), rxData(2, 0, 70, 0)},
			[]got{{asmPage(0)[:60], RxMeta{CsumBlank: true, GSOType: GSOTCPv4, GSOSize: 1448}}, {asmPage(2)[:70], RxMeta{}}},
			nil, -1},
		{"an error status drops its frame only", []rxIn{
			rxData(0, 0, netif.NETIF_RSP_ERROR, m), rxData(1, 0, netif.NETIF_RSP_ERROR, 0), rxData(2, 0, 60, 0)},
			[]got{{asmPage(2)[:60], RxMeta{}}}, map[int]rxDrop{0: rxDropError}, -1},
		{"a GSO extra of an unknown type", []rxIn{
			rxData(0, 0, 60, x), rxExtraIn(1, netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_GSO, GSOType: 3, GSOSize: 1448})},
			nil, map[int]rxDrop{1: rxDropBadGSO}, -1},
		{"a GSO extra of zero size", []rxIn{
			rxData(0, 0, 60, x), rxExtraIn(1, netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_GSO, GSOType: GSOTCPv6}),
			rxData(2, 0, 60, 0)},
			[]got{{asmPage(2)[:60], RxMeta{}}}, map[int]rxDrop{1: rxDropBadGSO}, -1},
		{"at the slot limit", cat(slotsOf(0, maxRxSlots-1, 0), []rxIn{rxData(30, 0, 60, 0)}),
			[]got{{asmPage(30)[:60], RxMeta{}}}, nil, -1},
		{"one slot over", cat(slotsOf(0, maxRxSlots, 0), []rxIn{rxData(30, 0, 60, 0), rxData(31, 0, 70, 0)}),
			[]got{{asmPage(31)[:70], RxMeta{}}}, map[int]rxDrop{maxRxSlots: rxDropOverSlots}, -1},
		{"an error, then over the limit: one drop", cat([]rxIn{rxData(0, 0, netif.NETIF_RSP_ERROR, m)},
			slotsOf(1, maxRxSlots+5, 0), []rxIn{rxData(40, 0, 60, 0)}),
			nil, map[int]rxDrop{0: rxDropError}, -1},
		{"at the extra limit", func() []rxIn {
			ins := []rxIn{rxData(0, 0, 60, x)}
			for i := range maxRxExtras {
				e := gso
				if i < maxRxExtras-1 {
					e = more(e)
				}
				ins = append(ins, rxExtraIn(uint16(1+i), e))
			}
			return ins
		}(), []got{{asmPage(0)[:60], RxMeta{GSOType: GSOTCPv4, GSOSize: 1448}}}, nil, -1},
		{"one extra over", func() []rxIn {
			ins := []rxIn{rxData(0, 0, 60, x)}
			for i := range maxRxExtras + 1 {
				e := gso
				if i < maxRxExtras {
					e = more(e)
				}
				ins = append(ins, rxExtraIn(uint16(1+i), e))
			}
			return append(ins, rxData(20, 0, 60, 0))
		}(), []got{{asmPage(20)[:60], RxMeta{}}}, map[int]rxDrop{maxRxExtras + 1: rxDropOverSlots}, -1},

		// Violations.
		{"id not the one posted", []rxIn{{slot: rxData(5, 0, 60, 0).slot, id: 4}}, nil, nil, 0},
		{"offset and size past the page", []rxIn{rxData(0, 4000, 200, 0)}, nil, nil, 0},
		{"extra type none", []rxIn{rxData(0, 0, 60, x), rxExtraIn(1, netif.ExtraInfo{})}, nil, nil, 1},
		{"extra type past the last", []rxIn{rxData(0, 0, 60, x),
			rxExtraIn(1, netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_MAX})}, nil, nil, 1},
		{"extra info on a later slot", []rxIn{rxData(0, 0, xen.PageSize, m), rxData(1, 0, 10, x)}, nil, nil, 1},
		{"frame longer than 64 KiB", slotsOf(0, 17, xen.PageSize), nil, nil, 16},
		{"a drop found before a violation is still reported", cat(slotsOf(0, maxRxSlots, 0),
			[]rxIn{rxData(30, 4000, 200, 0)}), nil, map[int]rxDrop{maxRxSlots: rxDropOverSlots}, maxRxSlots},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := runAssembler(tt.ins)
			if tt.errAt < 0 {
				require.NoError(t, out.err)
			} else {
				require.Error(t, out.err)
				assert.Equal(t, tt.errAt, out.errAt, "the response found in violation: %v", out.err)
			}
			assert.Equal(t, tt.frames, out.frames)
			if tt.drops == nil {
				tt.drops = map[int]rxDrop{}
			}
			assert.Equal(t, tt.drops, out.drops)
		})
	}
}

// Assembling a frame allocates nothing: the frame buffer is made once.
func TestRxAssemblerDoesNotAllocate(t *testing.T) {
	a := newRxAssembler()
	ins := cat([]rxIn{rxData(0, 0, xen.PageSize, netif.NETRXF_more_data|netif.NETRXF_extra_info),
		rxExtraIn(1, netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_GSO, GSOType: GSOTCPv4, GSOSize: 1448})},
		slotsOf(2, 14, xen.PageSize), []rxIn{rxData(20, 0, 100, 0)})
	pages := make([][]byte, 21)
	for i := range pages {
		pages[i] = asmPage(uint16(i))
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, in := range ins {
			if _, err := a.feed(in.slot[:], in.id, pages[in.id]); err != nil {
				t.Fatal(err)
			}
		}
	})
	assert.Zero(t, allocs)
}

// FuzzRxAssembler feeds the assembler a program of arbitrary responses and well-formed frames.
//
// Oracles: nothing panics; a frame reported is at most maxRxFrame bytes, of at most maxRxSlots
// data slots and maxRxExtras extras, with valid GSO metadata; a frame is dropped at most once;
// and a well-formed frame fed where a frame may start (at the start, or after a frame ended)
// comes out exactly as it went in, at its last response and not before.
func FuzzRxAssembler(f *testing.F) {
	// Two frames back to back: 60 bytes with data_validated, then 74 with csum_blank.
	f.Add([]byte{1, 0x2e, 0, 2, 0, 5, 1, 0x3c, 0, 1, 0, 6})
	// A TSO frame over five slots with its GSO extra, the first slot at offset 16.
	f.Add([]byte{1, 0x00, 0x40, 0x41, 0x10, 1, 2, 0, 3, 0, 4, 0, 5, 0, 6})
	// Arbitrary: a data slot with extra_info, then an extra of an unknown type.
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0x3c, 0, 0x08, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0})
	// Arbitrary: an error status with more_data, then a well-formed frame that ends it.
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x04, 0, 0, 1, 0x3c, 0, 0x81, 0})
	pages := make([][]byte, 256)
	for i := range pages {
		pages[i] = asmPage(uint16(i))
	}
	f.Fuzz(func(t *testing.T, prog []byte) {
		p := asmProgram{t: t, a: newRxAssembler(), pages: pages, prog: prog, boundary: true}
		for len(p.prog) > 0 && p.fed < 4096 && p.err == nil {
			if p.byte()%2 == 0 {
				var in rxIn
				copy(in.slot[:], p.bytes(netif.RxSlotSize))
				in.id = uint16(p.byte())
				p.feed(in)
			} else {
				p.wellFormed()
			}
		}
	})
}

type asmProgram struct {
	t        *testing.T
	a        rxAssembler
	pages    [][]byte
	prog     []byte
	err      error
	boundary bool // a frame may start at the next response
	dropped  bool // a drop was reported in the frame under way
	fed      int  // responses fed so far
}

func (p *asmProgram) byte() byte {
	if len(p.prog) == 0 {
		return 0
	}
	b := p.prog[0]
	p.prog = p.prog[1:]
	return b
}

func (p *asmProgram) bytes(n int) []byte {
	out := make([]byte, n)
	copy(out, p.prog)
	p.prog = p.prog[min(n, len(p.prog)):]
	return out
}

// feed feeds one response, checks the oracles, and reports whether it delivered a frame.
func (p *asmProgram) feed(in rxIn) (frame bool) {
	t := p.t
	p.fed++
	st, err := p.a.feed(in.slot[:], in.id, p.pages[in.id&0xff])
	if st.drop != rxKept {
		if p.dropped {
			t.Fatalf("a frame dropped twice (%d)", st.drop)
		}
		p.dropped = true
	}
	if err != nil {
		p.err = err
		return false
	}
	if st.frame {
		if len(p.a.frame) > maxRxFrame || p.a.slots > maxRxSlots || p.a.nextras > maxRxExtras || p.dropped {
			t.Fatalf("delivered %d bytes of %d slots and %d extras (dropped %v)", len(p.a.frame), p.a.slots, p.a.nextras, p.dropped)
		}
		m := p.a.meta
		if m.GSOType != GSONone && (m.GSOType != GSOTCPv4 && m.GSOType != GSOTCPv6 || m.GSOSize == 0) {
			t.Fatalf("delivered GSO type %d size %d", m.GSOType, m.GSOSize)
		}
	}
	p.boundary = p.a.ended
	if p.a.ended {
		p.dropped = false
	}
	return st.frame
}

// wellFormed feeds a frame as a sound backend places it: size, flags and GSO from the program,
// each data slot at an offset the program chooses, in a page of its own.
func (p *asmProgram) wellFormed() {
	t := p.t
	size := int(uint16(p.byte())|uint16(p.byte())<<8)%(netif.XEN_NETIF_MAX_TX_SIZE-13) + netif.ETH_HLEN
	flags := p.byte()
	var want got
	var rflags uint16
	if flags&1 != 0 {
		rflags |= netif.NETRXF_csum_blank | netif.NETRXF_data_validated
		want.meta.CsumBlank, want.meta.DataValidated = true, true
	} else if flags&2 != 0 {
		rflags |= netif.NETRXF_data_validated
		want.meta.DataValidated = true
	}
	var gso *netif.ExtraInfo
	if g := flags >> 6; g == GSOTCPv4 || g == GSOTCPv6 {
		gso = &netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_GSO, GSOType: g, GSOSize: uint16(flags&0x3c)<<4 + 1}
		want.meta.GSOType, want.meta.GSOSize = gso.GSOType, gso.GSOSize
		rflags |= netif.NETRXF_extra_info
	}
	check := p.boundary
	var ins []rxIn
	for rest, first := size, true; rest > 0; first = false {
		// Mostly near the start of the page (the frame stays within the slot limit), now and
		// then anywhere in it.
		off := uint16(p.byte())
		if off&0x80 != 0 {
			off = off & 0x7f * 32
		}
		n := min(rest, xen.PageSize-int(off))
		id := uint16(p.byte())
		rest -= n
		fl := uint16(0)
		if first {
			fl = rflags
		}
		if rest > 0 {
			fl |= netif.NETRXF_more_data
		}
		ins = append(ins, rxData(id, off, int16(n), fl))
		want.data = append(want.data, p.pages[id][off:int(off)+n]...)
		if first && gso != nil {
			ins = append(ins, rxExtraIn(uint16(p.byte()), *gso))
		}
	}
	dataSlots := len(ins)
	if gso != nil {
		dataSlots--
	}
	if dataSlots > maxRxSlots {
		check = false // offsets made it more slots than a backend may send: dropped, rightly
	}
	for i, in := range ins {
		frame := p.feed(in)
		if p.err != nil {
			if check {
				t.Fatalf("a well-formed frame is a violation: %v", p.err)
			}
			return
		}
		if check && frame != (i == len(ins)-1) {
			t.Fatalf("a well-formed frame of %d responses ended at response %d", len(ins), i)
		}
	}
	if check {
		require.Equal(t, want.meta, p.a.meta)
		require.True(t, bytes.Equal(want.data, p.a.frame), "a %d-byte frame came out as %d bytes", len(want.data), len(p.a.frame))
	}
}
