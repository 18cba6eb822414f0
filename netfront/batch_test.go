// SendBatch: one push and at most one notification per batch, partial batches, the counters.

package netfront

import (
	"context"
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/ring"
)

// wrapStarts are ring start indices for the batch tests: from zero, and just below the u32
// wrap so that batches cross it.
var wrapStarts = []uint32{0, 0xfffffffd}

func TestSendBatchOnePushPerBatch(t *testing.T) {
	for _, start := range wrapStarts {
		h := newRig(t, rigOpts{noBackend: true}).handQueue(t, allFeatures, 32, 32, start)
		ch := h.q.tx.ch.(*fakeChan)
		ctx := context.Background()
		// The backend went to sleep asking for an event at the next request.
		more, err := h.txBack.FinalCheckForRequests()
		require.NoError(t, err)
		require.False(t, more)

		sizes := []int{60, 1514, 9014, 100, 5000}
		frames := make([]TxFrame, len(sizes))
		var bytes uint64
		for i, n := range sizes {
			frames[i] = TxFrame{Parts: [][]byte{pattern(n, i)}}
			bytes += uint64(n)
		}
		n, err := h.d.SendBatch(ctx, frames)
		require.NoError(t, err)
		assert.Equal(t, len(frames), n)
		assert.EqualValues(t, 1, ch.notifies.Load(), "start %#x: one notification for the batch", start)
		assert.Equal(t, start+8, hdr32(h.txPage, ring.OffReqProd), "every slot published in one push")
		st := h.q.stats.snapshot()
		assert.EqualValues(t, len(frames), st.TxPackets)
		assert.Equal(t, bytes, st.TxBytes)
		assert.EqualValues(t, 8, st.TxInFlight)

		// The frames are on the ring in order, each with its bytes.
		slots := h.txSlots()
		require.Len(t, slots, 8)
		for i, at := 0, 0; i < len(frames); i++ {
			first := decodeTx(slots[at])
			assert.EqualValues(t, sizes[i], first.Size)
			var got []byte
			for k := range slotsFor(sizes[i]) {
				r := decodeTx(slots[at+k])
				got = append(got, h.q.tx.bufs.pages[r.ID].Data[:min(sizes[i]-k*4096, 4096)]...)
			}
			assert.Equal(t, frames[i].Parts[0], got, "frame %d", i)
			at += slotsFor(sizes[i])
		}

		// A second batch while the backend has not asked again: no notification.
		n, err = h.d.SendBatch(ctx, frames[:2])
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		assert.EqualValues(t, 1, ch.notifies.Load(), "the backend did not ask again")

		// Completions of all ten frames' slots, taken in one reclaim.
		for _, s := range append(slots, h.txSlots()...) {
			h.txRespond(decodeTx(s).ID, netif.NETIF_RSP_OKAY)
		}
		require.NoError(t, h.q.tx.reclaim())
		st = h.q.stats.snapshot()
		assert.Zero(t, st.TxInFlight)
		assert.EqualValues(t, 7, st.TxPackets)
		assert.Len(t, h.q.tx.bufs.free, 32)
	}
}

func TestSendBatchPartial(t *testing.T) {
	tests := []struct {
		name   string
		sizes  []int
		cancel bool // the context ends while the batch waits for room
		want   int
		err    error
	}{
		{"bad frame stops the batch", []int{100, 200, 10, 300}, false, 2, ErrTooSmall},
		{"bad frame first", []int{70000, 100}, false, 0, ErrTooBig},
		{"more than the buffers hold", []int{100, 100, 100, 100, 100, 100}, true, 4, context.Canceled},
		{"a large frame waits for room", []int{100, 100, 9014}, true, 2, context.Canceled},
	}
	for _, tt := range tests {
		for _, start := range wrapStarts {
			t.Run(tt.name, func(t *testing.T) {
				h := newRig(t, rigOpts{noBackend: true}).handQueue(t, allFeatures, 32, 4, start)
				ctx, cancel := context.WithCancel(context.Background())
				if tt.cancel {
					cancel()
				}
				defer cancel()
				frames := make([]TxFrame, len(tt.sizes))
				for i, n := range tt.sizes {
					frames[i] = TxFrame{Parts: [][]byte{pattern(n, i)}}
				}
				n, err := h.d.SendBatch(ctx, frames)
				assert.ErrorIs(t, err, tt.err)
				assert.Equal(t, tt.want, n)
				// What was queued is published, and only that.
				slots := h.txSlots()
				require.Len(t, slots, tt.want)
				for i, s := range slots {
					assert.EqualValues(t, tt.sizes[i], decodeTx(s).Size)
				}
				st := h.q.stats.snapshot()
				assert.EqualValues(t, tt.want, st.TxPackets)
				if tt.cancel {
					// Every frame that did not go, not one per batch.
					assert.EqualValues(t, len(tt.sizes)-tt.want, st.TxDropped, "dropped")
					assert.EqualValues(t, len(tt.sizes)-tt.want, st.TxTimeouts, "timeouts")
				}
				assert.NoError(t, h.d.Err(), "a refused frame does not break the device")
			})
		}
	}
}

// TestSendBatchResumesAfterCompletions: a batch larger than the buffers waits for
// completions and goes on where it stopped, in order.
func TestSendBatchResumesAfterCompletions(t *testing.T) {
	h := newRig(t, rigOpts{noBackend: true}).handQueue(t, allFeatures, 32, 4, 0xfffffffe)
	frames := make([]TxFrame, 10)
	for i := range frames {
		frames[i] = TxFrame{Parts: [][]byte{pattern(100+i, i)}}
	}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := h.d.SendBatch(hangCtx(t), frames)
		done <- result{n, err}
	}()
	var sizes []int
	for len(sizes) < len(frames) {
		// The sender finds the completions when it looks again (its poll: one event channel).
		for _, s := range h.txSlots() {
			r := decodeTx(s)
			sizes = append(sizes, int(r.Size))
			h.txRespond(r.ID, netif.NETIF_RSP_OKAY)
		}
		runtime.Gosched()
	}
	r := <-done
	require.NoError(t, r.err)
	assert.Equal(t, len(frames), r.n)
	for i, n := range sizes {
		assert.Equal(t, 100+i, n, "frame %d in order", i)
	}
}

func hdr32(page []byte, off int) uint32 { return binary.LittleEndian.Uint32(page[off:]) }
