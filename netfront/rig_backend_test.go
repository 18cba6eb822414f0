// The backend's moves on a handQueue's rings, as the test plays them.

package netfront

import (
	"encoding/binary"

	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/ring"
)

// rxReq takes the next posted RX request, as the backend does before filling it.
func (r *rig) rxReq() netif.RxRequest {
	var b [netif.RxSlotSize]byte
	ok, err := r.rxBack.ConsumeRequest(b[:])
	require.NoError(r.t, err)
	require.True(r.t, ok, "no RX request posted")
	var req netif.RxRequest
	req.Decode(b[:])
	return req
}

// rxBuf returns the frontend page behind an RX grant, as a grant copy would reach it.
func (r *rig) rxBuf(gref uint32) []byte {
	for i, g := range r.q.rx.bufs.refs {
		if uint32(g) == gref {
			return r.q.rx.bufs.pages[i].Data
		}
	}
	r.t.Fatalf("gref %d is not an RX buffer", gref)
	return nil
}

// rxRespond writes one RX response (and pushes it).
func (r *rig) rxRespond(rsp netif.RxResponse) {
	slot, err := r.rxBack.NextResponse()
	require.NoError(r.t, err)
	rsp.Encode(slot)
	r.rxBack.PushResponses()
}

// rxExtra writes an extra-info slot as an RX response.
func (r *rig) rxExtra(e netif.ExtraInfo) {
	r.rxReq() // an extra slot uses up a posted request too
	slot, err := r.rxBack.NextResponse()
	require.NoError(r.t, err)
	e.Encode(slot)
	r.rxBack.PushResponses()
}

// deliverFrame plays a well-behaved backend delivering data over as many slots as it takes.
func (r *rig) deliverFrame(data []byte, flags uint16, gso *netif.ExtraInfo) {
	first := true
	for off := 0; first || off < len(data); first = false {
		req := r.rxReq()
		n := min(len(data)-off, xen.PageSize)
		copy(r.rxBuf(req.Gref), data[off:off+n])
		rsp := netif.RxResponse{ID: req.ID, Status: int16(n)}
		if first {
			rsp.Flags = flags
			if gso != nil {
				rsp.Flags |= netif.NETRXF_extra_info
			}
		}
		off += n
		if off < len(data) {
			rsp.Flags |= netif.NETRXF_more_data
		}
		r.rxRespond(rsp)
		if first && gso != nil {
			r.rxExtra(*gso)
		}
	}
}

// txSlots takes every published TX request slot.
func (r *rig) txSlots() [][]byte {
	var out [][]byte
	for {
		b := make([]byte, netif.TxSlotSize)
		ok, err := r.txBack.ConsumeRequest(b)
		require.NoError(r.t, err)
		if !ok {
			return out
		}
		out = append(out, b)
	}
}

func (r *rig) txRespond(id uint16, status int16) {
	slot, err := r.txBack.NextResponse()
	require.NoError(r.t, err)
	(&netif.TxResponse{ID: id, Status: status}).Encode(slot)
	r.txBack.PushResponses()
}

// rawRx writes bytes into the RX response slot at index idx and sets rsp_prod, as a hostile
// backend can.
func (r *rig) rawRx(idx uint32, b []byte, rspProd uint32) {
	copy(r.rxPage[ring.HeaderSize+int(idx&r.q.rx.mask)*netif.RxSlotSize:], b)
	binary.LittleEndian.PutUint32(r.rxPage[ring.OffRspProd:], rspProd)
}
