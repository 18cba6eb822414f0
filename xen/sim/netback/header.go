// Raw access to a shared ring header, for what ring.Back does not offer: the RX req_event
// threshold xenvif_rx_ring_slots_available sets, and the hostile-backend knobs.

package netback

import (
	"github.com/tamaxen/tamaxen/xen/ring"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

// header is a ring page's header, read and written with atomics as the frontend does.
type header struct{ page []byte }

func (h header) reqProd() uint32      { return shmem.Load32(h.page, ring.OffReqProd) }
func (h header) rspProd() uint32      { return shmem.Load32(h.page, ring.OffRspProd) }
func (h header) setReqEvent(v uint32) { shmem.Store32(h.page, ring.OffReqEvent, v) }
func (h header) setRspProd(v uint32)  { shmem.Store32(h.page, ring.OffRspProd, v) }
func (h header) slot(idx uint32, slotSize int) []byte {
	n := uint32(ring.Size(len(h.page), slotSize))
	off := ring.HeaderSize + int(idx&(n-1))*slotSize
	return h.page[off : off+slotSize : off+slotSize]
}
