// Table tests: capacity, header init, u32 wrap of every index, notification decisions.

package ring

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
)

func TestSize(t *testing.T) {
	for _, tc := range []struct{ page, slot, want int }{
		{4096, 12, 256}, // netif TX: 12-byte request, 4-byte response
		{4096, 8, 256},  // netif RX
		{4096, 112, 32}, // blkif: 36 fit, rounded down
		{4096, 1, 2048}, // 4032 fit
		{4096, 3, 1024}, // 1344 fit
		{4096, 63, 64},  // exactly 64 fit
		{4096, 64, 32},  // 63 fit
		{4096, 504, 8},  // exactly 8
		{4096, 505, 4},  // 7 fit
		{4096, 2016, 2}, // exactly 2
		{4096, 2017, 1}, // just over
		{4096, 4032, 1}, // exactly one
		{4096, 4033, 0}, // none
		{4096, 0, 0},    // nonsense
		{4096, -1, 0},   // nonsense
		{64, 1, 0},      // header only
		{65, 1, 1},      // one byte of slots
		{8192, 12, 512}, // a two-page ring: 677 fit
	} {
		assert.Equal(t, tc.want, Size(tc.page, tc.slot), "page %d slot %d", tc.page, tc.slot)
	}
	assert.Equal(t, 64, HeaderSize)
	assert.Equal(t, HeaderSize, OffPad+44)
}

func TestNewFrontInitialisesHeader(t *testing.T) {
	page := make([]byte, xen.PageSize)
	for i := range page {
		page[i] = 0xa5
	}
	f, err := NewFront(page, 12)
	require.NoError(t, err)
	assert.Equal(t, 256, f.Size())
	le := binary.LittleEndian
	assert.EqualValues(t, 0, le.Uint32(page[OffReqProd:]))
	assert.EqualValues(t, 1, le.Uint32(page[OffReqEvent:]))
	assert.EqualValues(t, 0, le.Uint32(page[OffRspProd:]))
	assert.EqualValues(t, 1, le.Uint32(page[OffRspEvent:]))
	assert.Equal(t, make([]byte, HeaderSize-OffPvt), page[OffPvt:HeaderSize], "pvt and pad cleared")
	assert.Equal(t, byte(0xa5), page[HeaderSize], "slots untouched")
	assert.EqualValues(t, 256, f.FreeRequests())

	_, err = NewFront(make([]byte, 4097)[1:], 12)
	assert.Error(t, err, "unaligned")
	_, err = NewFront(make([]byte, 100), 40)
	assert.Error(t, err, "no slot fits")
	_, err = NewBack(make([]byte, 10), 1)
	assert.Error(t, err)
}

// pair is a front and back end on one page, attached at start, with the shared header set as
// SHARED_RING_INIT would have left it after start entries each way.
func pair(t *testing.T, slot int, start uint32) (*Front, *Back, []byte) {
	t.Helper()
	page := make([]byte, xen.PageSize)
	le := binary.LittleEndian
	le.PutUint32(page[OffReqProd:], start)
	le.PutUint32(page[OffRspProd:], start)
	le.PutUint32(page[OffReqEvent:], start+1)
	le.PutUint32(page[OffRspEvent:], start+1)
	f, err := AttachFront(page, slot, start)
	require.NoError(t, err)
	b, err := AttachBack(page, slot, start)
	require.NoError(t, err)
	return f, b, page
}

func hdr(page []byte, off int) uint32 { return binary.LittleEndian.Uint32(page[off:]) }

func TestWrapEveryIndex(t *testing.T) {
	// Starting just below 2^32, every index (req_prod_pvt, req_prod, req_event, req_cons,
	// rsp_prod_pvt, rsp_prod, rsp_event, rsp_cons) crosses the wrap during the run, with
	// batches of varying size so the crossing happens mid-batch as well as at its edge.
	for _, start := range []uint32{0, 0xffffffff, 0xfffffffe, 0xffffff00, 0xffffffff - 255, 0xffffffff - 300} {
		for _, slot := range []int{4, 12, 112} {
			f, b, page := pair(t, slot, start)
			size := uint32(f.Size())
			var seq uint32
			var next uint32 // expected sequence number of the next response
			req := make([]byte, slot)
			rsp := make([]byte, slot)
			for round := 0; round < 40; round++ {
				batch := int(uint32(round*37+5) % (size + 1))
				for range batch {
					s, err := f.NextRequest()
					require.NoError(t, err)
					binary.LittleEndian.PutUint32(s, seq)
					seq++
				}
				f.PushRequests()
				assert.Equal(t, f.ReqProdPvt(), hdr(page, OffReqProd))

				n, err := b.UnconsumedRequests()
				require.NoError(t, err)
				require.EqualValues(t, batch, n)
				for {
					ok, err := b.ConsumeRequest(req)
					require.NoError(t, err)
					if !ok {
						break
					}
					s, err := b.NextResponse()
					require.NoError(t, err)
					copy(s, req)
				}
				more, err := b.FinalCheckForRequests()
				require.NoError(t, err)
				assert.False(t, more)
				assert.Equal(t, b.ReqCons()+1, hdr(page, OffReqEvent))
				b.PushResponses()

				for {
					ok, err := f.ConsumeResponse(rsp)
					require.NoError(t, err)
					if !ok {
						break
					}
					require.Equal(t, next, binary.LittleEndian.Uint32(rsp))
					next++
				}
				more, err = f.FinalCheckForResponses()
				require.NoError(t, err)
				assert.False(t, more)
				assert.Equal(t, f.RspCons()+1, hdr(page, OffRspEvent))
				assert.Equal(t, size, f.FreeRequests())
			}
			assert.Equal(t, seq, next)
			total := f.ReqProdPvt() - start
			assert.Equal(t, seq, total, "start %#x slot %d", start, slot)
			if start > 0xffffffff-total {
				assert.Less(t, f.ReqProdPvt(), start, "crossed the wrap")
			}
			assert.Equal(t, f.ReqProdPvt(), b.ReqCons())
			assert.Equal(t, f.RspCons(), b.RspProdPvt())
		}
	}
}

func TestNotifyDecision(t *testing.T) {
	for _, tc := range []struct {
		old, new, event uint32
		want            bool
	}{
		{0, 1, 1, true},                   // the first entry after SHARED_RING_INIT
		{0, 5, 3, true},                   // event inside the batch
		{0, 5, 5, true},                   // event at its last entry
		{0, 5, 6, false},                  // consumer wants a later one
		{0, 5, 0, false},                  // already notified for old
		{3, 5, 1, false},                  // event behind the batch: consumer is awake
		{5, 5, 5, false},                  // empty push
		{0xfffffffe, 2, 0xffffffff, true}, // batch across the wrap, event before it
		{0xfffffffe, 2, 0, true},          // event at the wrap
		{0xfffffffe, 2, 2, true},          //
		{0xfffffffe, 2, 3, false},         //
		{0xfffffffe, 2, 0xfffffffe, false},
		{0xffffffff, 0, 0, true}, // one entry, the wrap itself
	} {
		assert.Equal(t, tc.want, notifyNeeded(tc.old, tc.new, tc.event), "%+v", tc)
	}

	// The same through the API, with the consumer's event index set as FinalCheck sets it.
	for _, start := range []uint32{0, 0xfffffffd} {
		f, b, _ := pair(t, 8, start)
		mustProduce(t, f, 1)
		assert.True(t, f.PushRequestsAndCheckNotify(), "first request notifies")
		mustProduce(t, f, 1)
		assert.False(t, f.PushRequestsAndCheckNotify(), "back end has not asked again")
		consumeAll(t, b)
		more, err := b.FinalCheckForRequests()
		require.NoError(t, err)
		require.False(t, more)
		mustProduce(t, f, 3)
		assert.True(t, f.PushRequestsAndCheckNotify(), "back end slept and asked")

		respondAll(t, b, 5)
		assert.True(t, b.PushResponsesAndCheckNotify(), "rsp_event at start+1 is in the batch")
		mustProduceResponses(t, b, 0)
		assert.False(t, b.PushResponsesAndCheckNotify(), "empty push")
	}
}

func mustProduce(t *testing.T, f *Front, n int) {
	t.Helper()
	for range n {
		_, err := f.NextRequest()
		require.NoError(t, err)
	}
}

func consumeAll(t *testing.T, b *Back) int {
	t.Helper()
	buf := make([]byte, b.s.slotSize)
	n := 0
	for {
		ok, err := b.ConsumeRequest(buf)
		require.NoError(t, err)
		if !ok {
			return n
		}
		n++
	}
}

func respondAll(t *testing.T, b *Back, want int) {
	t.Helper()
	consumeAll(t, b)
	mustProduceResponses(t, b, want)
}

func mustProduceResponses(t *testing.T, b *Back, n int) {
	t.Helper()
	for range n {
		_, err := b.NextResponse()
		require.NoError(t, err)
	}
	_, err := b.NextResponse()
	require.ErrorIs(t, err, xen.ErrRingFull, "no consumed request left to answer")
}

func TestFinalCheckSeesLateResponse(t *testing.T) {
	f, b, page := pair(t, 8, 0xfffffffe)
	mustProduce(t, f, 2)
	f.PushRequests()
	more, err := f.FinalCheckForResponses()
	require.NoError(t, err)
	assert.False(t, more)
	assert.EqualValues(t, 0xffffffff, hdr(page, OffRspEvent))
	respondAll(t, b, 2)
	assert.True(t, b.PushResponsesAndCheckNotify())
	more, err = f.FinalCheckForResponses()
	require.NoError(t, err)
	assert.True(t, more)
	n, err := f.UnconsumedResponses()
	require.NoError(t, err)
	assert.EqualValues(t, 2, n)
}

func TestFullRing(t *testing.T) {
	f, b, _ := pair(t, 1024, 0xfffffffe) // 3 slots fit, so 2
	require.Equal(t, 2, f.Size())
	mustProduce(t, f, 2)
	assert.True(t, f.Full())
	_, err := f.NextRequest()
	assert.ErrorIs(t, err, xen.ErrRingFull)
	f.PushRequests()
	respondAll(t, b, 2)
	b.PushResponses()
	assert.True(t, f.Full(), "a slot is free only once its response is consumed")
	ok, err := f.ConsumeResponse(make([]byte, 4))
	require.NoError(t, err)
	require.True(t, ok)
	assert.EqualValues(t, 1, f.FreeRequests())
}

func TestFrontDetectsOverflow(t *testing.T) {
	for _, tc := range []struct {
		name     string
		produced uint32 // requests produced
		pushed   uint32 // of which published
		rspProd  uint32 // offset from start the back end writes
	}{
		{"more responses than requests", 3, 3, 4},
		{"responses for unpublished requests", 3, 1, 2},
		{"beyond the ring", 0, 0, 257},
		{"far beyond the ring", 0, 0, 0x80000000},
		{"producer moved backwards", 2, 2, 0xffffffff},
	} {
		for _, start := range []uint32{0, 0xfffffffe} {
			f, _, page := pair(t, 8, start)
			mustProduce(t, f, int(tc.pushed))
			f.PushRequests()
			mustProduce(t, f, int(tc.produced-tc.pushed))
			binary.LittleEndian.PutUint32(page[OffRspProd:], start+tc.rspProd)
			_, err := f.UnconsumedResponses()
			assert.ErrorIs(t, err, xen.ErrBroken, "%s at %#x", tc.name, start)
			// Sticky: every later call fails the same way.
			_, err = f.ConsumeResponse(make([]byte, 8))
			assert.ErrorIs(t, err, xen.ErrBroken)
			_, err = f.NextRequest()
			assert.ErrorIs(t, err, xen.ErrBroken)
			_, err = f.FinalCheckForResponses()
			assert.ErrorIs(t, err, xen.ErrBroken)
			assert.ErrorIs(t, f.Err(), xen.ErrBroken)
		}
	}
	// At the limit: exactly as many responses as requests published is fine.
	start := uint32(0xffffffff)
	f, _, page := pair(t, 8, start)
	mustProduce(t, f, 256)
	f.PushRequests()
	binary.LittleEndian.PutUint32(page[OffRspProd:], start+256)
	n, err := f.UnconsumedResponses()
	require.NoError(t, err)
	assert.EqualValues(t, 256, n)
}

func TestBackDetectsOverflow(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reqProd uint32 // offset from start
		answer  int    // requests consumed and answered first
	}{
		{"beyond the ring", 257, 0},
		{"beyond the ring after progress", 10 + 257, 10},
		{"producer moved backwards", 0xffffffff, 0},
		{"producer behind the consumer", 5, 10},
	} {
		for _, start := range []uint32{0, 0xfffffff0} {
			f, b, _ := pair(t, 8, start)
			if tc.answer > 0 {
				mustProduce(t, f, tc.answer)
				f.PushRequests()
				respondAll(t, b, tc.answer)
				b.PushResponses()
			}
			b.s.reqProd.Store(start + tc.reqProd)
			_, err := b.UnconsumedRequests()
			assert.ErrorIs(t, err, xen.ErrBroken, "%s at %#x", tc.name, start)
			_, err = b.NextResponse()
			assert.ErrorIs(t, err, xen.ErrBroken)
		}
	}
	// Requests whose slots still await responses are not offered again.
	f, b, _ := pair(t, 8, 0)
	mustProduce(t, f, 256)
	f.PushRequests()
	assert.Equal(t, 256, consumeAll(t, b))
	n, err := b.UnconsumedRequests()
	require.NoError(t, err)
	assert.Zero(t, n)
}

// TestFinalCheckArmsOnce: FinalCheckForResponses writes rsp_event (and looks twice) only when
// the response it asks for changes, i.e. after responses were consumed; a back end pushing
// past it notifies either way, across the wrap too.
func TestFinalCheckArmsOnce(t *testing.T) {
	const poison = 0xdead
	for _, start := range []uint32{0, 0xfffffffe, 0xffffffff} {
		f, b, page := pair(t, 8, start)
		mustProduce(t, f, 3)
		f.PushRequests()
		more, err := f.FinalCheckForResponses()
		require.NoError(t, err)
		require.False(t, more)
		assert.Equal(t, start+1, hdr(page, OffRspEvent), "an attached front end asks once")

		// Nothing consumed since: the request stands and is not written again.
		binary.LittleEndian.PutUint32(page[OffRspEvent:], poison)
		more, err = f.FinalCheckForResponses()
		require.NoError(t, err)
		assert.False(t, more)
		assert.EqualValues(t, poison, hdr(page, OffRspEvent), "start %#x: written again", start)
		binary.LittleEndian.PutUint32(page[OffRspEvent:], start+1)

		consumeAll(t, b)
		mustProduceResponsesN(t, b, 1)
		assert.True(t, b.PushResponsesAndCheckNotify(), "the response asked for notifies")
		more, err = f.FinalCheckForResponses()
		require.NoError(t, err)
		assert.True(t, more)
		rsp := make([]byte, 8)
		ok, err := f.ConsumeResponse(rsp)
		require.NoError(t, err)
		require.True(t, ok)

		// One consumed: the next one is asked for, past the wrap where start is near it.
		more, err = f.FinalCheckForResponses()
		require.NoError(t, err)
		assert.False(t, more)
		assert.Equal(t, start+2, hdr(page, OffRspEvent))
		mustProduceResponsesN(t, b, 2)
		assert.True(t, b.PushResponsesAndCheckNotify())
	}

	// A fresh ring asks for the first response already (SHARED_RING_INIT).
	page := make([]byte, xen.PageSize)
	f, err := NewFront(page, 8)
	require.NoError(t, err)
	binary.LittleEndian.PutUint32(page[OffRspEvent:], poison)
	more, err := f.FinalCheckForResponses()
	require.NoError(t, err)
	assert.False(t, more)
	assert.EqualValues(t, poison, hdr(page, OffRspEvent))
}

// mustProduceResponsesN produces n responses to requests already consumed.
func mustProduceResponsesN(t *testing.T, b *Back, n int) {
	t.Helper()
	for range n {
		_, err := b.NextResponse()
		require.NoError(t, err)
	}
}
