// RX conformance: a hand-played frontend posts RX requests, frames are injected, and the
// responses are read by hand and checked against what Linux's rx.c produces.

package netback

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/netif"
)

// rxFrame builds an n-byte frame: an EtherType (0x88b5, or IPv6's 0x86dd when v6) and a
// pattern that differs from page to page, so data landing in the wrong buffer shows.
func rxFrame(n int, v6 bool) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/xen.PageSize)
	}
	if n >= netif.ETH_HLEN {
		b[12], b[13] = 0x88, 0xb5
		if v6 {
			b[12], b[13] = 0x86, 0xdd
		}
	}
	return b
}

func TestRxConformance(t *testing.T) {
	const (
		validated = netif.NETRXF_data_validated
		blank     = netif.NETRXF_csum_blank | netif.NETRXF_data_validated
	)
	sg := map[string]string{"feature-sg": "1"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name  string
		keys  map[string]string
		size  int
		v6    bool
		blank bool // Frame.CsumBlank (CHECKSUM_PARTIAL)
		valid bool // Frame.DataValidated (CHECKSUM_UNNECESSARY)
		gso   uint8
		// wantFlags are the checksum flags of the first slot (xenvif_rx_data_slot).
		wantFlags uint16
		wantExtra bool  // a GSO extra slot after the first (xenvif_rx_extra_slot)
		wantErr   error // Inject refuses the frame and counts a drop
	}{
		{name: "minimal frame", size: netif.ETH_HLEN},
		{name: "one slot", size: 1514},
		{name: "csum blank", size: 1514, blank: true, wantFlags: blank},
		{name: "data validated", size: 1514, valid: true, wantFlags: validated},
		{name: "csum blank and validated", size: 1514, blank: true, valid: true, wantFlags: blank},
		// feature-no-csum-offload: vif->ip_csum is false, xenvif_fix_features drops
		// NETIF_F_IP_CSUM and the stack completes the checksum (skb_checksum_help), so the
		// frame is CHECKSUM_NONE by the time xenvif_rx_data_slot looks at it.
		{name: "csum blank, no-csum-offload", keys: with("feature-no-csum-offload", "1"), size: 1514, blank: true},
		// CHECKSUM_UNNECESSARY is not touched by the feature: still data_validated.
		{name: "validated, no-csum-offload", keys: with("feature-no-csum-offload", "1"), size: 1514, valid: true, wantFlags: validated},
		// IPv6 checksum offload is its own feature (vif->ipv6_csum, off by default).
		{name: "ipv6 csum blank without ipv6 offload", size: 1514, v6: true, blank: true},
		{name: "ipv6 csum blank with ipv6 offload", keys: with("feature-ipv6-csum-offload", "1"), size: 1514, v6: true, blank: true, wantFlags: blank},
		{name: "exactly a page", size: xen.PageSize},
		{name: "a page and a byte", keys: sg, size: xen.PageSize + 1},
		{name: "three slots", keys: sg, size: 9000, valid: true, wantFlags: validated},
		{name: "largest frame", keys: sg, size: netif.XEN_NETIF_MAX_TX_SIZE, blank: true, wantFlags: blank},
		// Without feature-sg Linux caps the MTU (xenvif_change_mtu: ETH_DATA_LEN) and takes
		// NETIF_F_SG away, so such a frame never reaches the vif; the model refuses it.
		{name: "over a page without sg", size: xen.PageSize + 1, wantErr: ErrTooBig},
		{name: "gso v4", keys: with("feature-sg", "1", "feature-gso-tcpv4", "1"), size: 9000, blank: true,
			gso: netif.XEN_NETIF_GSO_TYPE_TCPV4, wantFlags: blank, wantExtra: true},
		{name: "gso v4 in one slot", keys: with("feature-gso-tcpv4", "1"), size: 1000, blank: true,
			gso: netif.XEN_NETIF_GSO_TYPE_TCPV4, wantFlags: blank, wantExtra: true},
		{name: "gso v6", keys: with("feature-sg", "1", "feature-gso-tcpv6", "1", "feature-ipv6-csum-offload", "1"),
			size: 20000, v6: true, blank: true, gso: netif.XEN_NETIF_GSO_TYPE_TCPV6, wantFlags: blank, wantExtra: true},
		// xenvif_rx_next_skb adds the extra only for a type in vif->gso_mask; Linux's stack
		// segments the others before they reach the vif. The model segments TCP frames too
		// (see the netstack tests); these frames are not TCP, so it refuses them.
		{name: "gso v4 not negotiated", keys: sg, size: 9000, blank: true, gso: netif.XEN_NETIF_GSO_TYPE_TCPV4,
			wantErr: ErrNotNegotiated},
		{name: "gso v6 with only v4", keys: with("feature-sg", "1", "feature-gso-tcpv4", "1"), size: 9000, v6: true,
			gso: netif.XEN_NETIF_GSO_TYPE_TCPV6, wantErr: ErrNotNegotiated},
		{name: "runt", size: netif.ETH_HLEN - 1, wantErr: ErrBadFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newHandFront(t, DefaultConfig(), tt.keys)
			// Ids the backend cannot guess: it must echo each request's own.
			ids := make([]uint16, 20)
			for i := range ids {
				ids[i] = uint16(0x1234 + 37*i)
			}
			f.post(t, ids...)
			fr := Frame{Data: rxFrame(tt.size, tt.v6), CsumBlank: tt.blank, DataValidated: tt.valid, GSOType: tt.gso}
			if tt.gso != 0 {
				fr.GSOSize = 1448
			}
			err := f.be.Inject(fr)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Equal(t, QueueStats{RxDropped: 1}, f.be.Stats().Queues[0])
				// The ring goes on: the next frame uses the first posted request.
				require.NoError(t, f.be.Inject(Frame{Data: rxFrame(60, false)}))
				rsps := f.waitResponses(t, 1)
				var rsp netif.RxResponse
				rsp.Decode(rsps[0][:])
				assert.Equal(t, netif.RxResponse{ID: ids[0], Status: 60}, rsp)
				return
			}
			require.NoError(t, err)
			dataSlots := (tt.size + xen.PageSize - 1) / xen.PageSize
			nslots := dataSlots
			if tt.wantExtra {
				nslots++
			}
			rsps := f.waitResponses(t, nslots)
			checkRxSlots(t, f, ids, rsps, fr, tt.wantFlags, tt.wantExtra)
			for _, id := range ids[nslots:] {
				assert.True(t, isZero(f.bufs[f.posted[id]].Data), "request %d not consumed, buffer untouched", id)
			}
			assert.Equal(t, QueueStats{RxPackets: 1}, f.be.Stats().Queues[0])
			// rsp_event was left at 1 by SHARED_RING_INIT: the frontend asked for the first
			// response, so RING_PUSH_RESPONSES_AND_CHECK_NOTIFY notifies.
			require.Eventually(t, f.eventPending, waitFor, tick, "no notification")
		})
	}
}

// checkRxSlots checks the responses to one frame as xenvif_rx_skb writes them: one per request
// consumed, in order; the data slots (xenvif_rx_data_slot) echo their request's id, at offset
// 0, at most a page each and filled to a page but for the last, NETRXF_more_data on all but the
// last, the checksum and extra_info flags on the first only; the GSO extra
// (xenvif_rx_extra_slot) right after the first data slot, taking a request of its own but
// carrying no id; and each slot's data in the page its request granted.
func checkRxSlots(t *testing.T, f *handFront, ids []uint16, rsps [][netif.RxSlotSize]byte, fr Frame, wantFlags uint16, wantExtra bool) {
	t.Helper()
	data := fr.Data
	off := 0
	for i, raw := range rsps {
		if wantExtra && i == 1 {
			var e netif.ExtraInfo
			e.Decode(raw[:])
			assert.Equal(t, netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_GSO, GSOType: fr.GSOType, GSOSize: fr.GSOSize}, e,
				"slot 1: the GSO extra, no XEN_NETIF_EXTRA_FLAG_MORE")
			assert.True(t, isZero(f.bufs[f.posted[ids[i]]].Data), "the request the extra consumed gets no data")
			continue
		}
		var rsp netif.RxResponse
		rsp.Decode(raw[:])
		require.Equal(t, ids[i], rsp.ID, "slot %d: the id of the request consumed at that position", i)
		require.Positive(t, rsp.Status, "slot %d", i)
		assert.Zero(t, rsp.Offset, "slot %d: xenvif_rx_data_slot always writes at offset 0", i)
		n := int(rsp.Status)
		require.LessOrEqual(t, int(rsp.Offset)+n, xen.PageSize, "slot %d within the page", i)
		require.LessOrEqual(t, off+n, len(data), "slot %d: more data than the frame", i)
		var flags uint16
		if off+n < len(data) {
			flags |= netif.NETRXF_more_data
			assert.Equal(t, xen.PageSize, n, "slot %d: a slot that is not the last is full", i)
		}
		if i == 0 {
			flags |= wantFlags
			if wantExtra {
				flags |= netif.NETRXF_extra_info
			}
		}
		assert.Equal(t, flags, rsp.Flags, "slot %d flags", i)
		page := f.bufs[f.posted[rsp.ID]].Data
		require.Equal(t, data[off:off+n], page[rsp.Offset:int(rsp.Offset)+n], "slot %d data", i)
		assert.True(t, isZero(page[n:]), "slot %d: nothing written past the data", i)
		off += n
	}
	assert.Equal(t, len(data), off, "the whole frame")
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Consecutive frames take consecutive requests, in order, each frame's slots contiguous.
func TestRxSeveralFrames(t *testing.T) {
	f := newHandFront(t, DefaultConfig(), map[string]string{"feature-sg": "1"})
	ids := make([]uint16, 8)
	for i := range ids {
		ids[i] = uint16(900 - i)
	}
	f.post(t, ids...)
	sizes := []int{100, 5000, 60, 9000} // 1 + 2 + 1 + 3 slots
	frames := make([]Frame, len(sizes))
	for i, n := range sizes {
		frames[i] = Frame{Data: rxFrame(n, false)}
		frames[i].Data[20] = byte(i) // tell the frames apart
		require.NoError(t, f.be.Inject(frames[i]))
	}
	rsps := f.waitResponses(t, 7)
	at := 0
	for _, fr := range frames {
		n := (len(fr.Data) + xen.PageSize - 1) / xen.PageSize
		checkRxSlots(t, f, ids[at:], rsps[at:at+n], fr, 0, false)
		at += n
	}
	assert.Equal(t, uint64(4), f.be.Stats().Queues[0].RxPackets)
}

// Without posted buffers a frame waits (xenvif_rx_ring_slots_available fails and sets
// req_event = req_prod + 1 so that the frontend's next post notifies), and the frontend's
// RING_PUSH_REQUESTS_AND_CHECK_NOTIFY then says to notify; up to RxQueueLen frames wait (the
// model of rx_queue_max), the next ones are dropped and counted.
func TestRxWaitsForBuffers(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RxQueueLen = 2
	f := newHandFront(t, cfg, map[string]string{"feature-sg": "1"})
	f.post(t, 1) // one slot posted; the first frame needs two
	big := Frame{Data: rxFrame(6000, false)}
	require.NoError(t, f.be.Inject(big))
	require.NoError(t, f.be.Inject(Frame{Data: rxFrame(60, false)}))
	require.ErrorIs(t, f.be.Inject(Frame{Data: rxFrame(60, false)}), ErrQueueFull)
	assert.Equal(t, uint64(1), f.be.Stats().Queues[0].RxDropped)

	h := f.rxHeader()
	require.Eventually(t, func() bool { return h.reqEvent() == 2 }, waitFor, tick,
		"the backend asks to be notified of the next request")
	// The backend is now waiting: nothing was answered, not even the slot it could fill.
	assert.Equal(t, uint32(0), h.rspProd())
	assert.True(t, f.post(t, 2, 3), "the post crosses req_event: notify")
	f.notify(t)
	rsps := f.waitResponses(t, 3)
	checkRxSlots(t, f, []uint16{1, 2}, rsps[:2], big, 0, false)
	var rsp netif.RxResponse
	rsp.Decode(rsps[2][:])
	assert.Equal(t, netif.RxResponse{ID: 3, Status: 60}, rsp)
	assert.Equal(t, uint64(2), f.be.Stats().Queues[0].RxPackets)
}

// Inject before the frontend connects has no queue to go to.
func TestRxNotConnected(t *testing.T) {
	m := newMachine(t)
	m.newGuest(t, 7, "00:16:3e:00:00:07")
	be, err := New(m.dom0, m.xs, 7, 0, DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { _ = be.Close() })
	require.ErrorIs(t, be.Inject(Frame{Data: rxFrame(60, false)}), ErrNotConnected)
	assert.Equal(t, uint64(1), be.Stats().Queues[0].RxDropped)
}

// The backend notifies only when the frontend's rsp_event lies in the batch it pushes
// (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY in xenvif_rx_copy_flush).
func TestRxNotifyOnRspEvent(t *testing.T) {
	f := newHandFront(t, DefaultConfig(), nil)
	h := f.rxHeader()
	ids := []uint16{10, 11, 12, 13}
	f.post(t, ids...)
	require.False(t, f.takeEvent(), "nothing sent yet")

	// Not asked: rsp_event far ahead.
	h.setRspEvent(100)
	require.NoError(t, f.be.Inject(Frame{Data: rxFrame(60, false)}))
	f.waitResponses(t, 1)
	// The backend flushes a frame's responses before it takes the next frame, so once the
	// second frame's response is visible the first flush, and any notification it sent,
	// is over.
	require.NoError(t, f.be.Inject(Frame{Data: rxFrame(60, false)}))
	f.waitResponses(t, 1)
	assert.False(t, f.takeEvent(), "notified although rsp_event was not reached")

	// Asked: rsp_event is the next response (as RING_FINAL_CHECK_FOR_RESPONSES sets it).
	h.setRspEvent(f.rx.RspCons() + 1)
	require.NoError(t, f.be.Inject(Frame{Data: rxFrame(60, false)}))
	f.waitResponses(t, 1)
	require.Eventually(t, f.takeEvent, waitFor, tick, "no notification although asked")
}
