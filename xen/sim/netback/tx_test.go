// TX conformance: hand-built requests through xen/ring and xen/netif, checked against what
// Linux netback answers.

package netback

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/ring"
	"github.com/tamaxen/tamaxen/xen/sim"
)

type txRig struct {
	front  *ring.Front
	vif    *Vif
	frames []Frame
	data   []xen.GrantRef // 20 granted data pages, page i filled with byte i
	pages  []xen.Page
}

func newTxRig(t *testing.T) *txRig {
	// Small domains: FuzzTxRequests builds a rig per input, and allocating dom0's default
	// 256 pages was most of its time.
	x := sim.New(sim.Config{Dom0Pages: 4})
	t.Cleanup(x.Close)
	g, err := x.NewDomain(7, sim.DomainConfig{Pages: 32})
	require.NoError(t, err)
	gs, err := g.Boot(gnttab.Config{})
	require.NoError(t, err)
	t.Cleanup(gs.Grants.Close)
	rp, err := g.Memory().AllocPage()
	require.NoError(t, err)
	r := &txRig{}
	r.front, err = ring.NewFront(rp.Data, netif.TxSlotSize)
	require.NoError(t, err)
	ref, err := gs.Grants.Grant(0, rp.Frame, false)
	require.NoError(t, err)
	m, err := x.Dom0().MapGrant(7, ref, true)
	require.NoError(t, err)
	t.Cleanup(m.Unmap)
	r.vif, err = NewTx(x.Dom0(), 7, m.Data, func(f Frame) {
		f.Data = append([]byte(nil), f.Data...)
		r.frames = append(r.frames, f)
	})
	require.NoError(t, err)
	for i := range 20 {
		pg, err := g.Memory().AllocPage()
		require.NoError(t, err)
		for j := range pg.Data {
			pg.Data[j] = byte(i)
		}
		ref, err := gs.Grants.Grant(0, pg.Frame, true)
		require.NoError(t, err)
		r.data = append(r.data, ref)
		r.pages = append(r.pages, pg)
	}
	return r
}

// push produces requests (TxRequest or ExtraInfo) and publishes them.
func (r *txRig) push(t *testing.T, reqs ...any) {
	for _, q := range reqs {
		slot, err := r.front.NextRequest()
		require.NoError(t, err)
		switch q := q.(type) {
		case netif.TxRequest:
			q.Encode(slot)
		case netif.ExtraInfo:
			q.Encode(slot)
		}
	}
	r.front.PushRequests()
}

func (r *txRig) responses(t *testing.T) []netif.TxResponse {
	var out []netif.TxResponse
	var b [netif.TxSlotSize]byte
	for {
		ok, err := r.front.ConsumeResponse(b[:])
		require.NoError(t, err)
		if !ok {
			return out
		}
		var rsp netif.TxResponse
		rsp.Decode(b[:])
		out = append(out, rsp)
	}
}

func TestTxSingleAndMultiSlot(t *testing.T) {
	r := newTxRig(t)
	r.push(t, netif.TxRequest{Gref: uint32(r.data[1]), Offset: 100, ID: 1, Size: 60, Flags: netif.NETTXF_csum_blank})
	// Three slots: the first slot's size is the whole packet (100 + 4096 + 50).
	r.push(t,
		netif.TxRequest{Gref: uint32(r.data[2]), Offset: 3996, ID: 2, Size: 4246, Flags: netif.NETTXF_more_data},
		netif.TxRequest{Gref: uint32(r.data[3]), Offset: 0, ID: 3, Size: 4096, Flags: netif.NETTXF_more_data},
		netif.TxRequest{Gref: uint32(r.data[4]), Offset: 0, ID: 4, Size: 50})
	n, notify, err := r.vif.ProcessTx(64)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.True(t, notify, "rsp_event starts at 1")
	assert.Equal(t, []netif.TxResponse{{ID: 1}, {ID: 2}, {ID: 3}, {ID: 4}}, r.responses(t))
	require.Len(t, r.frames, 2)
	assert.Len(t, r.frames[0].Data, 60)
	assert.True(t, r.frames[0].CsumBlank)
	f := r.frames[1].Data
	require.Len(t, f, 4246)
	assert.Equal(t, byte(2), f[99])
	assert.Equal(t, byte(3), f[100])
	assert.Equal(t, byte(4), f[4245])
}

func TestTxGSOExtra(t *testing.T) {
	r := newTxRig(t)
	r.push(t,
		netif.TxRequest{Gref: uint32(r.data[0]), ID: 9, Size: 1000, Flags: netif.NETTXF_extra_info | netif.NETTXF_csum_blank},
		netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_GSO, GSOSize: 1448, GSOType: netif.XEN_NETIF_GSO_TYPE_TCPV4})
	_, _, err := r.vif.ProcessTx(64)
	require.NoError(t, err)
	assert.Equal(t, []netif.TxResponse{{ID: 9}, {ID: 0, Status: netif.NETIF_RSP_NULL}}, r.responses(t),
		"the extra slot is answered with NETIF_RSP_NULL")
	require.Len(t, r.frames, 1)
	assert.Equal(t, uint8(netif.XEN_NETIF_GSO_TYPE_TCPV4), r.frames[0].GSOType)
	assert.Equal(t, uint16(1448), r.frames[0].GSOSize)
}

// Packets Linux drops with NETIF_RSP_ERROR on every slot; the ring goes on.
func TestTxErrors(t *testing.T) {
	tests := []struct {
		name string
		reqs func(r *txRig) []any
		ids  []uint16
	}{
		{"first slot shorter than ETH_HLEN", func(r *txRig) []any {
			return []any{netif.TxRequest{Gref: uint32(r.data[0]), ID: 1, Size: 13}}
		}, []uint16{1}},
		{"slot larger than what is left", func(r *txRig) []any {
			return []any{
				netif.TxRequest{Gref: uint32(r.data[0]), ID: 1, Size: 100, Flags: netif.NETTXF_more_data},
				netif.TxRequest{Gref: uint32(r.data[1]), ID: 2, Size: 200},
			}
		}, []uint16{1, 2}},
		{"more than XEN_NETBK_LEGACY_SLOTS_MAX slots", func(r *txRig) []any {
			reqs := []any{netif.TxRequest{Gref: uint32(r.data[0]), ID: 0, Size: 19 * 100, Flags: netif.NETTXF_more_data}}
			for i := 1; i < 19; i++ {
				fl := uint16(netif.NETTXF_more_data)
				if i == 18 {
					fl = 0
				}
				reqs = append(reqs, netif.TxRequest{Gref: uint32(r.data[i]), ID: uint16(i), Size: 100, Flags: fl})
			}
			return reqs
		}, []uint16{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}},
		{"grant not given", func(r *txRig) []any {
			return []any{netif.TxRequest{Gref: 5000, ID: 1, Size: 60}}
		}, []uint16{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTxRig(t)
			r.push(t, tt.reqs(r)...)
			r.push(t, netif.TxRequest{Gref: uint32(r.data[0]), ID: 99, Size: 60})
			_, _, err := r.vif.ProcessTx(64)
			require.NoError(t, err)
			var want []netif.TxResponse
			for _, id := range tt.ids {
				want = append(want, netif.TxResponse{ID: id, Status: netif.NETIF_RSP_ERROR})
			}
			want = append(want, netif.TxResponse{ID: 99})
			assert.Equal(t, want, r.responses(t))
			assert.Len(t, r.frames, 1, "the next packet still goes through")
			assert.Equal(t, 1, r.vif.Stats().TxDropped)
		})
	}
}

// Requests for which Linux calls xenvif_fatal_tx_err: no response, the vif is disabled.
func TestTxFatal(t *testing.T) {
	tests := []struct {
		name string
		reqs func(r *txRig) []any
	}{
		{"slot crossing a page end", func(r *txRig) []any {
			return []any{
				netif.TxRequest{Gref: uint32(r.data[0]), ID: 1, Size: 200, Flags: netif.NETTXF_more_data},
				netif.TxRequest{Gref: uint32(r.data[1]), Offset: 4000, ID: 2, Size: 100},
			}
		}},
		{"first slot crossing a page end", func(r *txRig) []any {
			return []any{netif.TxRequest{Gref: uint32(r.data[0]), Offset: 4000, ID: 1, Size: 200}}
		}},
		{"invalid extra type", func(r *txRig) []any {
			return []any{
				netif.TxRequest{Gref: uint32(r.data[0]), ID: 1, Size: 60, Flags: netif.NETTXF_extra_info},
				netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_MAX},
			}
		}},
		{"zero GSO size", func(r *txRig) []any {
			return []any{
				netif.TxRequest{Gref: uint32(r.data[0]), ID: 1, Size: 60, Flags: netif.NETTXF_extra_info},
				netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_GSO, GSOType: netif.XEN_NETIF_GSO_TYPE_TCPV4},
			}
		}},
		{"bad GSO type", func(r *txRig) []any {
			return []any{
				netif.TxRequest{Gref: uint32(r.data[0]), ID: 1, Size: 60, Flags: netif.NETTXF_extra_info},
				netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_GSO, GSOSize: 1000, GSOType: 7},
			}
		}},
		{"packet continues past the published requests", func(r *txRig) []any {
			return []any{netif.TxRequest{Gref: uint32(r.data[0]), ID: 1, Size: 200, Flags: netif.NETTXF_more_data}}
		}},
		{"fatal_skb_slots", func(r *txRig) []any {
			var reqs []any
			for i := range 21 {
				reqs = append(reqs, netif.TxRequest{Gref: uint32(r.data[0]), ID: uint16(i), Size: 1, Flags: netif.NETTXF_more_data})
			}
			return reqs
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTxRig(t)
			r.push(t, tt.reqs(r)...)
			_, _, err := r.vif.ProcessTx(64)
			var fe *FatalError
			require.ErrorAs(t, err, &fe)
			assert.Empty(t, r.responses(t))
			_, _, err = r.vif.ProcessTx(64)
			assert.ErrorAs(t, err, &fe, "the vif stays disabled")
		})
	}
}

func FuzzTxRequests(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 60, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := newTxRig(t)
		for len(b) >= netif.TxSlotSize && !r.front.Full() {
			slot, err := r.front.NextRequest()
			require.NoError(t, err)
			copy(slot, b[:netif.TxSlotSize])
			b = b[netif.TxSlotSize:]
		}
		r.front.PushRequests()
		_, _, _ = r.vif.ProcessTx(1000) // must not panic; any error is a FatalError
		if err := r.vif.Err(); err != nil {
			var fe *FatalError
			require.ErrorAs(t, err, &fe)
		}
	})
}
