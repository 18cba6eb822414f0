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
	"testing"
	"time"
	"unsafe"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/netif"
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
			frame := pattern(c.n, 1)
			ctx := context.Background()
			var slot [netif.TxSlotSize]byte
			per := framesPerPush(c.n, c.gso != nil, c.batch)
			b.SetBytes(int64(c.n))
			b.ReportAllocs()
			b.ResetTimer()
			batch := make([]TxFrame, per)
			for i := range batch {
				batch[i] = TxFrame{Parts: [][]byte{frame}, Meta: c.m}
			}
			for i := 0; i < b.N; i += per {
				if k := min(per, b.N-i); c.batch {
					if n, err := h.d.SendBatch(ctx, batch[:k]); err != nil || n != k {
						b.Fatalf("sent %d of %d: %v", n, k, err)
					}
				} else if err := h.d.Send(ctx, frame, c.m); err != nil {
					b.Fatal(err)
				}
				extra := false
				for {
					ok, err := h.txBack.ConsumeRequest(slot[:])
					if err != nil || !ok {
						break
					}
					rsp := netif.TxResponse{Status: netif.NETIF_RSP_NULL}
					if !extra {
						req := decodeTx(slot[:])
						rsp = netif.TxResponse{ID: req.ID, Status: netif.NETIF_RSP_OKAY}
						extra = req.Flags&netif.NETTXF_extra_info != 0
					} else {
						extra = false
					}
					s, err := h.txBack.NextResponse()
					if err != nil {
						b.Fatal(err)
					}
					rsp.Encode(s)
				}
				h.txBack.PushResponses()
				if err := h.q.tx.reclaim(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportDriver(b, c.n, limit, hot)
		})
	}
}

// BenchmarkDriverRX: the backend answers posted RX requests with a frame's slots (the bytes
// already in the pages: the backend's copy is not timed), then netfront polls, assembles the
// frame, delivers it and reposts the buffers. netfront copies each byte once (a frame over
// several slots is assembled in one buffer; a one-slot frame is delivered in place).
func BenchmarkDriverRX(b *testing.B) {
	for _, c := range driverSizes {
		b.Run(c.name, func(b *testing.B) {
			limit, hot := copyLimitNs(c.n, false), copyLimitNs(c.n, true)
			h := newQueueRig(b, allFeatures, driverBuffers, driverBuffers)
			h.keep = false
			delivered := 0
			h.d.cfg.Receive = func(f []byte, _ RxMeta) { delivered += len(f) }
			var req netif.RxRequest
			var slot [netif.RxSlotSize]byte
			per := framesPerPush(c.n, c.gso != nil, c.batch)
			b.SetBytes(int64(c.n))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += per {
				for range min(per, b.N-i) {
					first := true
					for off := 0; first || off < c.n; first = false {
						if ok, err := h.rxBack.ConsumeRequest(slot[:]); err != nil || !ok {
							b.Fatalf("no RX request posted (%v)", err)
						}
						req.Decode(slot[:])
						n := min(c.n-off, xen.PageSize)
						r := netif.RxResponse{ID: req.ID, Status: int16(n)}
						off += n
						if first {
							r.Flags = netif.NETRXF_data_validated | netif.NETRXF_csum_blank
							if c.gso != nil {
								r.Flags |= netif.NETRXF_extra_info
							}
						}
						if off < c.n {
							r.Flags |= netif.NETRXF_more_data
						}
						s, err := h.rxBack.NextResponse()
						if err != nil {
							b.Fatal(err)
						}
						r.Encode(s)
						if first && c.gso != nil {
							if ok, err := h.rxBack.ConsumeRequest(slot[:]); err != nil || !ok {
								b.Fatalf("no RX request posted for the extra slot (%v)", err)
							}
							s, err := h.rxBack.NextResponse()
							if err != nil {
								b.Fatal(err)
							}
							c.gso.Encode(s)
						}
					}
				}
				h.rxBack.PushResponses()
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
