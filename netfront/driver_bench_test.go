// The driver alone: netfront's datapath against a backend played in the benchmark's own
// goroutine that answers the rings without touching the data, so what is timed is netfront's
// work per frame (gathering into granted pages or assembling received slots, the ring
// protocol, reclaim and repost), to set against the copy limit of the same bytes.
//
// The backend answers in batches, as netback does under load (it takes up to 64 requests per
// NAPI pass and pushes their responses together): the driver sends or is given a batch of
// frames, as many as its 64 buffers hold up to 32, then the backend's responses for all of
// them arrive in one push and the driver reclaims or polls once. Every frame is still
// gathered or assembled, and every response copied out and checked, one by one; what a batch
// shares is what a loaded ring shares (a push of the backend's, the driver's reclaim or poll
// pass and its final check). The -1by1 rows are the lock step of one frame per push, where the
// backend's push and the driver's whole reclaim or poll pass fall on every frame.

package netfront

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/ring"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

var driverSizes = []struct {
	name  string
	n     int
	m     TxMeta
	gso   *netif.ExtraInfo
	batch bool // as many frames per backend push as the buffers hold, up to driverBatch
}{
	{"1500B", 1514, TxMeta{}, nil, true},
	{"64KiB-GSO", 65535, TxMeta{GSOType: GSOTCPv4, GSOSize: 1448, CsumBlank: true}, driverGSO, true},
	{"1500B-1by1", 1514, TxMeta{}, nil, false},
	{"64KiB-GSO-1by1", 65535, TxMeta{GSOType: GSOTCPv4, GSOSize: 1448, CsumBlank: true}, driverGSO, false},
}

var driverGSO = &netif.ExtraInfo{Type: netif.XEN_NETIF_EXTRA_TYPE_GSO, GSOSize: 1448,
	GSOType: netif.XEN_NETIF_GSO_TYPE_TCPV4}

// driverBuffers is the TX and RX buffers of the benchmarks' queue; driverBatch the most frames
// the backend answers in one push.
const (
	driverBuffers = 64
	driverBatch   = 32
)

// framesPerPush is how many frames of n bytes the backend answers per push: one in lock step,
// else as many as the buffers hold (a data slot each per page, and an extra-info slot's
// buffer on RX for GSO), up to driverBatch.
func framesPerPush(n int, gso, batch bool) int {
	if !batch {
		return 1
	}
	slots := slotsFor(n)
	if gso {
		slots++
	}
	return max(1, min(driverBatch, driverBuffers/slots))
}

// BenchmarkDriverTX: SendBatch of a batch of frames (Send of one in lock step), then the
// backend's responses (NETIF_RSP_NULL for an extra slot, as netback writes) and the reclaim.
// netfront copies each byte once.
func BenchmarkDriverTX(b *testing.B) {
	for _, c := range driverSizes {
		b.Run(c.name, func(b *testing.B) {
			limit, hot := copyLimitNs(c.n, false), copyLimitNs(c.n, true)
			h := newQueueRig(b, allFeatures, driverBuffers, driverBuffers)
			h.keep = false
			back := newLeanBack(h.txPage, netif.TxSlotSize, h.q.tx.ring.Size())
			frame := pattern(c.n, 1)
			ctx := context.Background()
			per := framesPerPush(c.n, c.gso != nil, c.batch)
			batch := make([]TxFrame, per)
			for i := range batch {
				batch[i] = TxFrame{Parts: [][]byte{frame}, Meta: c.m}
			}
			b.SetBytes(int64(c.n))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += per {
				if k := min(per, b.N-i); c.batch {
					if n, err := h.d.SendBatch(ctx, batch[:k]); err != nil || n != k {
						b.Fatalf("sent %d of %d: %v", n, k, err)
					}
				} else if err := h.d.Send(ctx, frame, c.m); err != nil {
					b.Fatal(err)
				}
				back.answerTx()
				if err := h.q.tx.reclaim(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportDriver(b, c.n, limit, hot)
		})
	}
}

// BenchmarkDriverRX: the backend answers posted RX requests with the slots of a batch of
// frames (the bytes already in the pages: the backend's copy is not timed), then netfront
// polls, assembles each frame, delivers it and reposts the buffers. netfront copies each byte
// once (the slots' bytes into the frame buffer handed to Receive).
func BenchmarkDriverRX(b *testing.B) {
	for _, c := range driverSizes {
		b.Run(c.name, func(b *testing.B) {
			limit, hot := copyLimitNs(c.n, false), copyLimitNs(c.n, true)
			h := newQueueRig(b, allFeatures, driverBuffers, driverBuffers)
			h.keep = false
			delivered := 0
			h.d.cfg.Receive = func(f []byte, _ RxMeta) { delivered += len(f) }
			back := newLeanBack(h.rxPage, netif.RxSlotSize, h.q.rx.ring.Size())
			per := framesPerPush(c.n, c.gso != nil, c.batch)
			b.SetBytes(int64(c.n))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += per {
				if err := back.answerRx(min(per, b.N-i), c.n, c.gso); err != nil {
					b.Fatal(err)
				}
				if _, err := h.q.rx.poll(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if delivered != b.N*c.n {
				b.Fatalf("delivered %d bytes, want %d", delivered, b.N*c.n)
			}
			reportDriver(b, c.n, limit, hot)
		})
	}
}

// leanBack is the driver benchmarks' backend: it answers requests in their own slots, as
// netback's responses reuse them, with one load of req_prod and one store of rsp_prod per
// batch, and nothing else. The driver's row is the driver's work: what a backend does per slot
// (netback's grant copies and bookkeeping, or ring.Back's copy of each request) is not, so it
// is kept to the least a backend can do rather than timed with the driver.
type leanBack struct {
	page             []byte
	slotSize         int
	mask             uint32
	cons             uint32 // requests answered
	reqProd, rspProd *atomic.Uint32
}

func newLeanBack(page []byte, slotSize, size int) *leanBack {
	return &leanBack{page: page, slotSize: slotSize, mask: uint32(size - 1),
		reqProd: shmem.Uint32(page, ring.OffReqProd), rspProd: shmem.Uint32(page, ring.OffRspProd)}
}

func (l *leanBack) slot(idx uint32) []byte {
	off := ring.HeaderSize + int(idx&l.mask)*l.slotSize
	return l.page[off : off+l.slotSize : off+l.slotSize]
}

// answerTx answers every TX request published: NETIF_RSP_OKAY with the request's id, or
// NETIF_RSP_NULL for the extra-info slot after a request that announces one.
func (l *leanBack) answerTx() {
	prod := l.reqProd.Load()
	extra := false
	for ; l.cons != prod; l.cons++ {
		s := l.slot(l.cons)
		if extra {
			binary.LittleEndian.PutUint16(s[2:], uint16(netif.NETIF_RSP_NULL))
			extra = false
			continue
		}
		flags, id := binary.LittleEndian.Uint16(s[6:]), binary.LittleEndian.Uint16(s[8:])
		extra = flags&netif.NETTXF_extra_info != 0
		binary.LittleEndian.PutUint16(s[0:], id)
		binary.LittleEndian.PutUint16(s[2:], uint16(netif.NETIF_RSP_OKAY))
	}
	l.rspProd.Store(prod) // the release that publishes the slots written above
}

// answerRx answers posted RX requests with frames frames of n bytes each: a data slot per
// page (the request's id, kept at the same offset in the response), the GSO extra after the
// first if gso is set.
func (l *leanBack) answerRx(frames, n int, gso *netif.ExtraInfo) error {
	slots := slotsFor(n)
	if gso != nil {
		slots++
	}
	if avail := l.reqProd.Load() - l.cons; avail < uint32(frames*slots) {
		return fmt.Errorf("%d RX requests posted, %d frames of %d slots to answer", avail, frames, slots)
	}
	for range frames {
		for off, first := 0, true; first || off < n; first = false {
			s := l.slot(l.cons)
			l.cons++
			size := min(n-off, xen.PageSize)
			r := netif.RxResponse{ID: binary.LittleEndian.Uint16(s[0:]), Status: int16(size)}
			off += size
			if first {
				r.Flags = netif.NETRXF_data_validated | netif.NETRXF_csum_blank
				if gso != nil {
					r.Flags |= netif.NETRXF_extra_info
				}
			}
			if off < n {
				r.Flags |= netif.NETRXF_more_data
			}
			r.Encode(s)
			if first && gso != nil {
				gso.Encode(l.slot(l.cons))
				l.cons++
			}
		}
	}
	l.rspProd.Store(l.cons)
	return nil
}

// reportDriver adds the table's metrics. netfront copies each byte once, so x-memmove is the
// share of the copy limit the driver reaches. The limit is measured for the same bytes into
// the same places: copy() of the frame, page by page, into the ring's 64 TX pages (or out of
// 64 RX pages) in turn, the cache footprint the driver has; x-hot-memmove is the ratio to one
// copy() between two buffers that stay in cache, which no ring of pages can match.
func reportDriver(b *testing.B, n int, limitNs, hotNs float64) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(1e9/ns, "pkts/s")
	b.ReportMetric(float64(n)*8/ns, "Gbit/s")
	b.ReportMetric(1, "copies")
	b.ReportMetric(limitNs/ns, "x-memmove")
	b.ReportMetric(hotNs/ns, "x-hot-memmove")
}

// copyLimitNs is the best time, over five timings of about 32 MiB each, to copy n bytes
// page by page between one buffer and 64 pages taken in turn: the copy the driver makes,
// without the driver. With hot it is one copy() between two buffers of n bytes instead.
// (testing.Benchmark cannot run inside a benchmark.)
func copyLimitNs(n int, hot bool) float64 {
	frame := make([]byte, n)
	pages := make([][]byte, 64)
	for i := range pages {
		pages[i] = alignedPage()
	}
	dst := make([]byte, n)
	reps := max(1, (32<<20)/n)
	best, p := 0.0, 0
	for range 5 {
		t0 := time.Now()
		for range reps {
			if hot {
				copy(dst, frame)
				continue
			}
			for off := 0; off < n; off += xen.PageSize {
				copy(pages[p], frame[off:min(off+xen.PageSize, n)])
				p = (p + 1) % len(pages)
			}
		}
		if ns := float64(time.Since(t0).Nanoseconds()) / float64(reps); best == 0 || ns < best {
			best = ns
		}
	}
	return best
}

// alignedPage is a page-aligned page of the Go heap, as the driver's pages are aligned.
func alignedPage() []byte {
	w := make([]uint64, xen.PageSize/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), xen.PageSize)
}
