package netfront

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/ring"
)

// fakeChan is an event channel that counts notifications; tests drive the queues directly.
type fakeChan struct {
	notifies atomic.Int64
	wakeups  atomic.Int64 // Waits that returned an event
	ev       chan struct{}
}

func newFakeChan() *fakeChan       { return &fakeChan{ev: make(chan struct{}, 1)} }
func (c *fakeChan) Port() xen.Port { return 7 }
func (c *fakeChan) Notify() error  { c.notifies.Add(1); return nil }
func (c *fakeChan) Close() error   { return nil }
func (c *fakeChan) Wait(ctx context.Context) error {
	select {
	case <-c.ev:
		c.wakeups.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func alignedPage() []byte {
	w := make([]uint64, xen.PageSize/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), xen.PageSize)
}

// harness is one queue with its rings' backend side in the test's hands.
type harness struct {
	t       testing.TB
	d       *Device
	q       *queue
	txPage  []byte
	rxPage  []byte
	txBack  *ring.Back
	rxBack  *ring.Back
	frames  [][]byte
	metas   []RxMeta
	keep    bool // record received frames (off for allocation and fuzz runs)
	slotBuf [][]byte
}

func newHarness(t testing.TB, f Features, nrx, ntx int) *harness {
	h := &harness{t: t, keep: true}
	d := &Device{closing: make(chan struct{})}
	c := &conn{d: d, features: f, done: make(chan struct{})}
	d.cfg.Receive = func(frame []byte, m RxMeta) {
		if h.keep {
			h.frames = append(h.frames, append([]byte(nil), frame...))
			h.metas = append(h.metas, m)
		}
	}
	q := &queue{dev: d, c: c, stats: &counters{}}
	q.tx.q, q.rx.q = q, q
	h.txPage, h.rxPage = alignedPage(), alignedPage()
	var err error
	q.tx.ring, err = ring.NewFront(h.txPage, netif.TxSlotSize)
	require.NoError(t, err)
	q.rx.ring, err = ring.NewFront(h.rxPage, netif.RxSlotSize)
	require.NoError(t, err)
	h.txBack, err = ring.AttachBack(h.txPage, netif.TxSlotSize, 0)
	require.NoError(t, err)
	h.rxBack, err = ring.AttachBack(h.rxPage, netif.RxSlotSize, 0)
	require.NoError(t, err)
	for id := 0; id < ntx; id++ {
		q.tx.bufs.pages = append(q.tx.bufs.pages, xen.Page{Frame: xen.Frame(0x1000 + id), Data: alignedPage()})
		q.tx.bufs.refs = append(q.tx.bufs.refs, xen.GrantRef(1000+id))
		q.tx.bufs.free = append(q.tx.bufs.free, uint16(ntx-1-id))
	}
	q.tx.inflight = make([]bool, ntx)
	q.tx.space = make(chan struct{}, 1)
	for id := 0; id < nrx; id++ {
		q.rx.bufs.pages = append(q.rx.bufs.pages, xen.Page{Frame: xen.Frame(0x2000 + id), Data: alignedPage()})
		q.rx.bufs.refs = append(q.rx.bufs.refs, xen.GrantRef(2000+id))
		q.rx.bufs.free = append(q.rx.bufs.free, uint16(nrx-1-id))
	}
	q.rx.mask = uint32(q.rx.ring.Size() - 1)
	q.rx.posted = make([]uint16, q.rx.ring.Size())
	q.rx.asm = newRxAssembler()
	q.tx.ch, q.rx.ch = newFakeChan(), newFakeChan()
	c.queues = []*queue{q}
	d.c, d.stats = c, []*counters{q.stats}
	h.d, h.q = d, q
	require.NoError(t, q.rx.post())
	return h
}

// rxReq takes the next posted RX request, as the backend does before filling it.
func (h *harness) rxReq() netif.RxRequest {
	var b [netif.RxSlotSize]byte
	ok, err := h.rxBack.ConsumeRequest(b[:])
	require.NoError(h.t, err)
	require.True(h.t, ok, "no RX request posted")
	var r netif.RxRequest
	r.Decode(b[:])
	return r
}

// rxPage returns the frontend page behind an RX grant, as a grant copy would reach it.
func (h *harness) rxBuf(gref uint32) []byte {
	for i, g := range h.q.rx.bufs.refs {
		if uint32(g) == gref {
			return h.q.rx.bufs.pages[i].Data
		}
	}
	h.t.Fatalf("gref %d is not an RX buffer", gref)
	return nil
}

// rxRespond writes one RX response (and pushes it).
func (h *harness) rxRespond(r netif.RxResponse) {
	slot, err := h.rxBack.NextResponse()
	require.NoError(h.t, err)
	r.Encode(slot)
	h.rxBack.PushResponses()
}

// rxExtra writes an extra-info slot as an RX response.
func (h *harness) rxExtra(e netif.ExtraInfo) {
	h.rxReq() // an extra slot uses up a posted request too
	slot, err := h.rxBack.NextResponse()
	require.NoError(h.t, err)
	e.Encode(slot)
	h.rxBack.PushResponses()
}

// deliverFrame plays a well-behaved backend delivering data over as many slots as it takes.
func (h *harness) deliverFrame(data []byte, flags uint16, gso *netif.ExtraInfo) {
	first := true
	for off := 0; first || off < len(data); first = false {
		req := h.rxReq()
		n := min(len(data)-off, xen.PageSize)
		copy(h.rxBuf(req.Gref), data[off:off+n])
		r := netif.RxResponse{ID: req.ID, Status: int16(n)}
		if first {
			r.Flags = flags
			if gso != nil {
				r.Flags |= netif.NETRXF_extra_info
			}
		}
		off += n
		if off < len(data) {
			r.Flags |= netif.NETRXF_more_data
		}
		h.rxRespond(r)
		if first && gso != nil {
			h.rxExtra(*gso)
		}
	}
}

// txReqs takes every published TX request slot.
func (h *harness) txSlots() [][]byte {
	var out [][]byte
	for {
		b := make([]byte, netif.TxSlotSize)
		ok, err := h.txBack.ConsumeRequest(b)
		require.NoError(h.t, err)
		if !ok {
			return out
		}
		out = append(out, b)
	}
}

func (h *harness) txRespond(id uint16, status int16) {
	slot, err := h.txBack.NextResponse()
	require.NoError(h.t, err)
	(&netif.TxResponse{ID: id, Status: status}).Encode(slot)
	h.txBack.PushResponses()
}

// rawRxResponse writes bytes into the RX response slot at index idx and sets rsp_prod, as a
// hostile backend can.
func (h *harness) rawRx(idx uint32, b []byte, rspProd uint32) {
	copy(h.rxPage[ring.HeaderSize+int(idx&h.q.rx.mask)*netif.RxSlotSize:], b)
	binary.LittleEndian.PutUint32(h.rxPage[ring.OffRspProd:], rspProd)
}
