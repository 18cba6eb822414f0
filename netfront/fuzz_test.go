package netfront

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/ring"
)

// FuzzHostileBackend lets a backend write arbitrary response slots and producer indices into
// both rings, over several rounds, while the frontend sends and receives. Whatever it writes,
// the driver must not panic, must not deliver more than it posted, and may only fail with
// ErrBroken.
func FuzzHostileBackend(f *testing.F) {
	ok := make([]byte, 0, 64)
	ok = binary.LittleEndian.AppendUint32(ok, 1) // rx rsp_prod
	ok = append(ok, 0, 0, 0, 0, 0, 0, 60, 0)     // rx id 0, 60 bytes
	ok = binary.LittleEndian.AppendUint32(ok, 1) // tx rsp_prod
	ok = append(ok, 0, 0, 0, 0)                  // tx id 0 OKAY
	f.Add(ok)
	f.Add([]byte{3, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x20, 0x0c, 0, 1, 0, 0, 0, 1, 1, 0xa8, 5, 1, 0, 0, 0})
	f.Add(make([]byte, 200))
	r := newRig(f, rigOpts{noBackend: true})
	f.Fuzz(func(t *testing.T, data []byte) {
		h := r.handQueue(t, allFeatures, 32, 16, 0)
		h.keep = false
		received := 0
		h.d.cfg.Receive = func(frame []byte, m RxMeta) {
			received++
			if len(frame) > maxRxFrame || len(frame) < netif.ETH_HLEN {
				t.Fatalf("delivered a %d-byte frame", len(frame))
			}
		}
		// Cancelled: when every TX page is in flight Send must give up, not wait for a
		// completion this backend may never write.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for round := 0; len(data) >= 4 && round < 8; round++ {
			_ = h.d.Send(ctx, pattern(int(data[0])*40+14, round), TxMeta{GSOType: uint8(data[1] % 3), GSOSize: 1000})

			// RX ring: a producer index and response slots.
			prod := binary.LittleEndian.Uint32(data)
			data = data[4:]
			n := min(len(data)/netif.RxSlotSize, 40)
			start := h.q.rx.ring.RspCons()
			for i := 0; i < n; i++ {
				copy(h.rxPage[ring.HeaderSize+int((start+uint32(i))&h.q.rx.mask)*netif.RxSlotSize:], data[i*8:i*8+8])
			}
			data = data[n*netif.RxSlotSize:]
			binary.LittleEndian.PutUint32(h.rxPage[ring.OffRspProd:], start+prod%64)
			if _, err := h.q.rx.poll(); err != nil && !errors.Is(err, xen.ErrBroken) {
				t.Fatalf("rx: %v", err)
			}

			// TX ring likewise.
			if len(data) < 4 {
				break
			}
			prod = binary.LittleEndian.Uint32(data)
			data = data[4:]
			n = min(len(data)/netif.SizeofTxResponse, 40)
			tstart := h.q.tx.ring.RspCons()
			for i := 0; i < n; i++ {
				copy(h.txPage[ring.HeaderSize+int((tstart+uint32(i))&uint32(h.q.tx.ring.Size()-1))*netif.TxSlotSize:], data[i*4:i*4+4])
			}
			data = data[n*netif.SizeofTxResponse:]
			binary.LittleEndian.PutUint32(h.txPage[ring.OffRspProd:], tstart+prod%64)
			if err := h.q.tx.reclaim(); err != nil && !errors.Is(err, xen.ErrBroken) {
				t.Fatalf("tx: %v", err)
			}
		}
		st := h.q.stats.snapshot()
		if st.TxInFlight > uint64(len(h.q.tx.bufs.pages)) {
			t.Fatalf("%d TX slots in flight with %d pages", st.TxInFlight, len(h.q.tx.bufs.pages))
		}
		if len(h.q.tx.bufs.free) > len(h.q.tx.bufs.pages) || len(h.q.rx.bufs.free) > len(h.q.rx.bufs.pages) {
			t.Fatal("a free list holds more ids than there are pages")
		}
		if h.d.Err() == nil && st.Violations != 0 {
			t.Fatal("violations counted but the device is not broken")
		}
	})
}
