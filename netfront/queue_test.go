package netfront

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/ring"
	"github.com/tamaxen/tamaxen/xen/sim/xenstoretest"
)

var allFeatures = Features{RxCopy: true, SG: true, GSOTCPv4: true, GSOTCPv6: true, CsumOffload: true, Queues: 1}

func TestRxFrames(t *testing.T) {
	tests := []struct {
		name string
		size int
		// flags on the first slot (RX names: the bits swap relative to TX)
		flags uint16
		gso   *netif.ExtraInfo
		want  RxMeta
	}{
		{"minimum", 14, 0, nil, RxMeta{}},
		{"one page", xen.PageSize, netif.NETRXF_data_validated, nil, RxMeta{DataValidated: true}},
		{"jumbo over three slots", 9014, netif.NETRXF_csum_blank | netif.NETRXF_data_validated, nil,
			RxMeta{CsumBlank: true, DataValidated: true}},
		{"largest", 65535, 0, nil, RxMeta{}},
		{"gso", 30000, netif.NETRXF_csum_blank, &netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_GSO, GSOSize: 1448, GSOType: GSOTCPv4},
			RxMeta{CsumBlank: true, GSOType: GSOTCPv4, GSOSize: 1448}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newQueueRig(t, allFeatures, 64, 16)
			data := pattern(tt.size, 3)
			h.deliverFrame(data, tt.flags, tt.gso)
			more, err := h.q.rx.poll()
			require.NoError(t, err)
			assert.False(t, more)
			require.Len(t, h.frames, 1)
			assert.Equal(t, data, h.frames[0])
			assert.Equal(t, tt.want, h.metas[0])
			// Every buffer used went back to the ring.
			assert.Equal(t, uint64(64), h.q.stats.snapshot().RxPosted)
		})
	}
}

func TestRxFrameSpanningTwoPushes(t *testing.T) {
	h := newQueueRig(t, allFeatures, 64, 16)
	req := h.rxReq()
	copy(h.rxBuf(req.Gref), pattern(xen.PageSize, 1))
	h.rxRespond(netif.RxResponse{ID: req.ID, Status: xen.PageSize, Flags: netif.NETRXF_more_data})
	_, err := h.q.rx.poll()
	require.NoError(t, err)
	assert.Empty(t, h.frames, "half a frame is not delivered")
	req = h.rxReq()
	copy(h.rxBuf(req.Gref), []byte("tail"))
	h.rxRespond(netif.RxResponse{ID: req.ID, Status: 4})
	_, err = h.q.rx.poll()
	require.NoError(t, err)
	require.Len(t, h.frames, 1)
	assert.Equal(t, append(pattern(xen.PageSize, 1), "tail"...), h.frames[0])
}

func TestRxErrorStatusDropsFrameOnly(t *testing.T) {
	h := newQueueRig(t, allFeatures, 32, 16)
	req := h.rxReq()
	h.rxRespond(netif.RxResponse{ID: req.ID, Status: netif.NETIF_RSP_ERROR})
	h.deliverFrame(pattern(100, 2), 0, nil)
	_, err := h.q.rx.poll()
	require.NoError(t, err)
	require.Len(t, h.frames, 1, "the ring goes on after a failed slot")
	assert.Equal(t, uint64(1), h.q.stats.snapshot().RxErrors)
	assert.NoError(t, h.d.Err())
}

func TestRxHostileBackend(t *testing.T) {
	tests := []struct {
		name  string
		setup func(h *rig)
	}{
		{"id not posted at that position", func(h *rig) {
			req := h.rxReq()
			h.rxRespond(netif.RxResponse{ID: req.ID + 1, Status: 60})
		}},
		{"offset and size past the page", func(h *rig) {
			req := h.rxReq()
			h.rxRespond(netif.RxResponse{ID: req.ID, Offset: 4000, Status: 200})
		}},
		{"unknown extra type", func(h *rig) {
			req := h.rxReq()
			h.rxRespond(netif.RxResponse{ID: req.ID, Status: 60, Flags: netif.NETRXF_extra_info})
			h.rxExtra(netif.ExtraInfo{Type: 9})
		}},
		{"extra info on a later slot", func(h *rig) {
			req := h.rxReq()
			h.rxRespond(netif.RxResponse{ID: req.ID, Status: xen.PageSize, Flags: netif.NETRXF_more_data})
			req = h.rxReq()
			h.rxRespond(netif.RxResponse{ID: req.ID, Status: 10, Flags: netif.NETRXF_extra_info})
		}},
		{"frame longer than 64 KiB", func(h *rig) {
			for i := 0; i < 17; i++ {
				req := h.rxReq()
				h.rxRespond(netif.RxResponse{ID: req.ID, Status: xen.PageSize, Flags: netif.NETRXF_more_data})
			}
		}},
		{"producer past the requests", func(h *rig) {
			h.rawRx(0, make([]byte, 8), 1000)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newQueueRig(t, allFeatures, 64, 16)
			tt.setup(h)
			_, err := h.q.rx.poll()
			require.ErrorIs(t, err, xen.ErrBroken)
			assert.ErrorIs(t, h.d.Err(), xen.ErrBroken)
			assert.Equal(t, uint64(1), h.q.stats.snapshot().Violations)
			assert.Empty(t, h.frames)
			assert.ErrorIs(t, h.d.Send(context.Background(), pattern(60, 0), TxMeta{}), xen.ErrBroken,
				"a broken device refuses work")
		})
	}
}

func TestTxSingleAndMultiSlot(t *testing.T) {
	h := newQueueRig(t, allFeatures, 32, 32)
	ctx := context.Background()

	small := pattern(1514, 5)
	require.NoError(t, h.d.Send(ctx, small, TxMeta{CsumBlank: true}))
	slots := h.txSlots()
	require.Len(t, slots, 1)
	r := decodeTx(slots[0])
	assert.Equal(t, uint16(1514), r.Size)
	assert.Equal(t, uint16(netif.NETTXF_csum_blank|netif.NETTXF_data_validated), r.Flags)
	assert.Equal(t, small, h.q.tx.bufs.pages[r.ID].Data[:1514])
	assert.Equal(t, uint32(h.q.tx.bufs.refs[r.ID]), r.Gref)

	big := pattern(9014, 6)
	require.NoError(t, h.d.Send(ctx, big, TxMeta{GSOType: GSOTCPv4, GSOSize: 1448}))
	slots = h.txSlots()
	require.Len(t, slots, 4, "three data slots and the GSO extra")
	first := decodeTx(slots[0])
	assert.Equal(t, uint16(9014), first.Size, "the first slot's size is the whole packet")
	assert.Equal(t, uint16(netif.NETTXF_more_data|netif.NETTXF_extra_info), first.Flags)
	var e netif.ExtraInfo
	e.Decode(slots[1])
	assert.Equal(t, netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_GSO, GSOSize: 1448, GSOType: GSOTCPv4}, e)
	var got []byte
	for i, s := range [][]byte{slots[0], slots[2], slots[3]} {
		r := decodeTx(s)
		n := int(r.Size)
		if i == 0 {
			n = xen.PageSize
		}
		got = append(got, h.q.tx.bufs.pages[r.ID].Data[:n]...)
		if i < 2 {
			assert.NotZero(t, r.Flags&netif.NETTXF_more_data)
		} else {
			assert.Zero(t, r.Flags&netif.NETTXF_more_data)
		}
	}
	assert.Equal(t, big, got)

	// Completions, with the NULL response to the extra slot, free every id.
	h.txRespond(r.ID, netif.NETIF_RSP_OKAY)
	h.txRespond(first.ID, netif.NETIF_RSP_OKAY)
	h.txRespond(0xffff, netif.NETIF_RSP_NULL)
	h.txRespond(decodeTx(slots[2]).ID, netif.NETIF_RSP_OKAY)
	h.txRespond(decodeTx(slots[3]).ID, netif.NETIF_RSP_ERROR)
	require.NoError(t, h.q.tx.reclaim())
	st := h.q.stats.snapshot()
	assert.Zero(t, st.TxInFlight)
	assert.Equal(t, uint64(1), st.TxErrors)
	assert.Len(t, h.q.tx.bufs.free, 32)
}

func TestTxRefusals(t *testing.T) {
	ctx := context.Background()
	h := newQueueRig(t, Features{RxCopy: true, Queues: 1}, 32, 32)
	assert.ErrorIs(t, h.d.Send(ctx, pattern(13, 0), TxMeta{}), ErrTooSmall)
	assert.ErrorIs(t, h.d.Send(ctx, pattern(5000, 0), TxMeta{}), ErrTooBig, "no SG: one page at most")
	assert.ErrorIs(t, h.d.Send(ctx, pattern(1514, 0), TxMeta{GSOType: GSOTCPv6, GSOSize: 1400}), ErrTooBig, "GSO not negotiated")
	assert.ErrorIs(t, h.d.Send(ctx, pattern(65536, 0), TxMeta{}), ErrTooBig)
}

func TestTxWaitsForSpace(t *testing.T) {
	h := newQueueRig(t, allFeatures, 32, 2)
	require.NoError(t, h.d.Send(context.Background(), pattern(100, 0), TxMeta{}))
	require.NoError(t, h.d.Send(context.Background(), pattern(100, 1), TxMeta{}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, h.d.Send(ctx, pattern(100, 2), TxMeta{}), context.Canceled, "no free TX page")
	slots := h.txSlots()
	h.txRespond(decodeTx(slots[0]).ID, netif.NETIF_RSP_OKAY)
	assert.NoError(t, h.d.Send(context.Background(), pattern(100, 3), TxMeta{}), "a completion makes room")
}

func TestTxHostileResponses(t *testing.T) {
	tests := []struct {
		name    string
		respond func(h *rig, id uint16)
	}{
		{"unknown id", func(h *rig, id uint16) { h.txRespond(id+5, netif.NETIF_RSP_OKAY) }},
		{"duplicate", func(h *rig, id uint16) {
			require.NoError(h.t, h.d.Send(context.Background(), pattern(100, 1), TxMeta{}))
			h.txSlots()
			h.txRespond(id, netif.NETIF_RSP_OKAY)
			h.txRespond(id, netif.NETIF_RSP_OKAY)
		}},
		{"id out of range", func(h *rig, id uint16) { h.txRespond(60000, netif.NETIF_RSP_OKAY) }},
		{"more responses than requests", func(h *rig, id uint16) {
			binary.LittleEndian.PutUint32(h.txPage[ring.OffRspProd:], 200)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newQueueRig(t, allFeatures, 32, 8)
			require.NoError(t, h.d.Send(context.Background(), pattern(100, 0), TxMeta{}))
			tt.respond(h, decodeTx(h.txSlots()[0]).ID)
			assert.ErrorIs(t, h.q.tx.reclaim(), xen.ErrBroken)
			assert.ErrorIs(t, h.d.Err(), xen.ErrBroken)
			assert.Equal(t, uint64(1), h.q.stats.snapshot().Violations)
		})
	}
}

func TestDatapathDoesNotAllocate(t *testing.T) {
	h := newQueueRig(t, allFeatures, 64, 64)
	h.keep = false
	ctx := context.Background()
	frame := pattern(1514, 9)
	txAllocs := testing.AllocsPerRun(200, func() {
		if err := h.d.Send(ctx, frame, TxMeta{}); err != nil {
			t.Fatal(err)
		}
		for _, s := range h.txSlots2() {
			h.txRespond(decodeTx(s).ID, netif.NETIF_RSP_OKAY)
		}
		if err := h.q.tx.reclaim(); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, txAllocs, "Send and completion")

	rxAllocs := testing.AllocsPerRun(200, func() {
		req := h.rxReqNoAlloc()
		copy(h.rxBuf(req.Gref), frame)
		h.rxRespond(netif.RxResponse{ID: req.ID, Status: int16(len(frame))})
		if _, err := h.q.rx.poll(); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, rxAllocs, "receive and repost")
}

// txSlots2 and rxReqNoAlloc are the backend's side without the test's own allocations, so
// AllocsPerRun measures the driver alone.
var scratch [16]byte

func (r *rig) txSlots2() [][]byte {
	r.slotBuf = r.slotBuf[:0]
	for {
		ok, err := r.txBack.ConsumeRequest(scratch[:netif.TxSlotSize])
		if err != nil || !ok {
			return r.slotBuf
		}
		r.slotBuf = append(r.slotBuf, scratch[:netif.TxSlotSize])
	}
}

func (r *rig) rxReqNoAlloc() netif.RxRequest {
	var req netif.RxRequest
	ok, _ := r.rxBack.ConsumeRequest(scratch[:netif.RxSlotSize])
	if ok {
		req.Decode(scratch[:netif.RxSlotSize])
	}
	return req
}

func TestReadMTU(t *testing.T) {
	srv := xenstoretest.NewServer(3, "g")
	xs := srv.NewClient(t)
	ctx := context.Background()
	dir := "/local/domain/3/device/vif/0"
	tests := []struct {
		name  string
		value string
		sg    bool
		want  int
	}{
		{"absent", "", true, 1500},
		{"jumbo with SG", "9000", true, 9000},
		{"jumbo without SG", "9000", false, 1500},
		{"garbage", "lots", true, 1500},
		{"too small", "10", true, 1500},
		{"too large", "70000", true, 1500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.value == "" {
				_ = xs.Rm(ctx, dir+"/mtu")
			} else {
				require.NoError(t, xs.Write(ctx, dir+"/mtu", []byte(tt.value)))
			}
			assert.Equal(t, tt.want, readMTU(ctx, xs, dir, tt.sg))
		})
	}
}

// rxSlots plays a backend answering n posted requests as one frame: each slot with size bytes
// and more_data but the last (which carries more_data too if open), polling as it goes so
// that the buffers come back, as a backend keeping a frame open for ever can.
func (r *rig) rxSlots(n, size int, open bool) {
	for i := range n {
		req := r.rxReq()
		copy(r.rxBuf(req.Gref), pattern(size, i))
		rsp := netif.RxResponse{ID: req.ID, Status: int16(size)}
		if open || i < n-1 {
			rsp.Flags = netif.NETRXF_more_data
		}
		r.rxRespond(rsp)
		if i%16 == 15 {
			_, err := r.q.rx.poll()
			require.NoError(r.t, err)
		}
	}
	_, err := r.q.rx.poll()
	require.NoError(r.t, err)
}

// A frame over the slot limit a backend may use (Linux netfront's xennet_get_responses) is
// dropped and counted, whatever its slots hold; the ring goes on, and the next frame arrives.
func TestRxFrameOverSlotLimit(t *testing.T) {
	const limit = netif.XEN_NETIF_NR_SLOTS_MIN + 1
	for _, tc := range []struct {
		name      string
		slots     int
		size      int
		delivered bool
	}{
		{"at the limit", limit, 100, true},
		{"one slot over", limit + 1, 100, false},
		{"empty slots over", limit + 1, 0, false},
		{"a thousand empty slots", 1000, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newQueueRig(t, allFeatures, 32, 16)
			h.rxSlots(tc.slots, tc.size, false)
			h.deliverFrame(pattern(60, 1), 0, nil)
			_, err := h.q.rx.poll()
			require.NoError(t, err)
			require.NoError(t, h.d.Err())
			s := h.q.stats.snapshot()
			assert.Zero(t, s.Violations)
			assert.Equal(t, uint64(32), s.RxPosted, "every buffer back in the ring")
			require.NotEmpty(t, h.frames)
			assert.Equal(t, pattern(60, 1), h.frames[len(h.frames)-1], "the ring goes on")
			if tc.delivered {
				assert.Equal(t, 2, len(h.frames))
				assert.Zero(t, s.RxErrors+s.RxOverSlots)
			} else {
				assert.Equal(t, 1, len(h.frames))
				assert.Equal(t, uint64(1), s.RxErrors)
				assert.Equal(t, uint64(1), s.RxOverSlots)
			}
		})
	}
	// A frame the backend never ends is dropped, and counted, once it passes the limit.
	h := newQueueRig(t, allFeatures, 32, 16)
	h.rxSlots(5000, 0, true)
	assert.Equal(t, uint64(1), h.q.stats.snapshot().RxErrors)
	assert.Equal(t, uint64(1), h.q.stats.snapshot().RxOverSlots)
	assert.Empty(t, h.frames)
	assert.NoError(t, h.d.Err())
}

// A chain of extra-info slots longer than one per type drops the frame; one that never ends
// keeps it dropped, counted once, with the ring going on.
func TestRxExtraChainOverLimit(t *testing.T) {
	gso := netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_GSO, GSOType: GSOTCPv4, GSOSize: 1448}
	for _, tc := range []struct {
		name      string
		extras    int
		delivered bool
	}{
		{"one per type", netif.XEN_NETIF_EXTRA_TYPE_MAX - 1, true},
		{"one more", netif.XEN_NETIF_EXTRA_TYPE_MAX, false},
		{"a thousand", 1000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newQueueRig(t, allFeatures, 32, 16)
			req := h.rxReq()
			copy(h.rxBuf(req.Gref), pattern(60, 2))
			h.rxRespond(netif.RxResponse{ID: req.ID, Status: 60, Flags: netif.NETRXF_extra_info})
			for i := range tc.extras {
				e := gso
				if i < tc.extras-1 {
					e.Flags = netif.XEN_NETIF_EXTRA_FLAG_MORE
				}
				h.rxExtra(e)
				if i%16 == 15 {
					_, err := h.q.rx.poll()
					require.NoError(t, err)
				}
			}
			h.deliverFrame(pattern(70, 1), 0, nil)
			_, err := h.q.rx.poll()
			require.NoError(t, err)
			require.NoError(t, h.d.Err())
			s := h.q.stats.snapshot()
			assert.Equal(t, uint64(32), s.RxPosted)
			require.NotEmpty(t, h.frames)
			assert.Equal(t, pattern(70, 1), h.frames[len(h.frames)-1], "the ring goes on")
			if tc.delivered {
				assert.Equal(t, 2, len(h.frames))
				assert.Zero(t, s.RxErrors)
			} else {
				assert.Equal(t, 1, len(h.frames))
				assert.Equal(t, uint64(1), s.RxErrors)
				assert.Equal(t, uint64(1), s.RxOverSlots)
			}
		})
	}
}
