// The RX frame assembler: responses in, frames out, with no ring and no grant in sight.

package netfront

import (
	"fmt"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/netif"
)

// rxAssembler gathers frames from the RX responses that carry them, one response at a time:
// a first slot, the extra-info slots it announces, and the more_data slots after it. It is a
// state machine over copies of responses (the RX loop copies each one out of the ring before
// feeding it), so what it checks and what it builds are tested without rings, as
// mirage-net-xen's Assemble is. A frame may span several RX passes: the state waits between
// them.
//
// It finds two kinds of fault. A frame the backend could not fill, or one with bad GSO
// metadata, or more slots than a backend may use, is dropped and the ring goes on (Linux
// netfront drops and counts such frames); feed reports the cause once per frame. Anything
// else is a protocol violation, returned as an error: the device is broken.
type rxAssembler struct {
	frame   []byte // the frame so far: len 0 between frames; cap maxRxFrame
	meta    RxMeta
	inFrame bool // a slot with more_data was seen
	dropped bool // the frame is dropped: consume its slots, deliver nothing
	extras  int  // extra-info slots still expected after the current one
	slots   int  // data slots of the frame so far
	nextras int  // extra-info slots of the frame so far
	ended   bool // the last response ended a frame: the next one starts another
}

// rxDrop is why a frame was dropped rather than delivered.
type rxDrop uint8

const (
	rxKept          rxDrop = iota
	rxDropError            // a slot the backend could not fill (a negative status)
	rxDropBadGSO           // a GSO extra of an unknown type or a zero size
	rxDropOverSlots        // more data slots, or extra-info slots, than a backend may use
)

// rxStep is what one response did.
type rxStep struct {
	// frame: the response ended a frame that is to be delivered; it is in frame and meta
	// until the next feed. A frame that ends dropped is not reported.
	frame bool
	// drop is set on the response that dropped the frame, and only on that one, however many
	// of the frame's slots are bad (Linux counts rx_errors once per frame too).
	drop rxDrop
}

// newRxAssembler returns an assembler whose frame buffer is allocated once, here.
func newRxAssembler() rxAssembler {
	return rxAssembler{frame: make([]byte, 0, maxRxFrame)}
}

// feed takes the next response, rsp (netif.RxSlotSize bytes copied out of the ring). id is the
// buffer posted at the response's ring position and page its contents: a data response must
// name that id, and its bytes are copied from page. An extra-info response carries no id, and
// the buffer posted at its position holds nothing.
//
// A non-nil error is a protocol violation; the step is still valid, and a drop it reports
// (found before the violation, in the same response) is still to be counted.
func (a *rxAssembler) feed(rsp []byte, id uint16, page []byte) (rxStep, error) {
	if a.ended {
		a.reset()
	}
	var st rxStep
	var err error
	var done bool
	if a.extras > 0 {
		// This slot is an extra-info one, announced by the previous slot.
		done, err = a.extra(rsp, &st)
	} else {
		done, err = a.data(rsp, id, page, &st)
	}
	if err != nil {
		return st, err
	}
	if done {
		a.ended = true
		st.frame = !a.dropped
	}
	return st, nil
}

// extra takes an extra-info slot; done reports the end of the frame.
func (a *rxAssembler) extra(b []byte, st *rxStep) (done bool, err error) {
	var e netif.ExtraInfo
	e.Decode(b)
	a.extras--
	if e.More() {
		a.extras++
	}
	if e.Type == netif.XEN_NETIF_EXTRA_TYPE_NONE || e.Type >= netif.XEN_NETIF_EXTRA_TYPE_MAX {
		return false, fmt.Errorf("rx extra type %d", e.Type)
	}
	if a.nextras++; a.nextras > maxRxExtras {
		a.drop(st, rxDropOverSlots)
	}
	if e.Type == netif.XEN_NETIF_EXTRA_TYPE_GSO {
		if e.GSOType != GSOTCPv4 && e.GSOType != GSOTCPv6 || e.GSOSize == 0 {
			// Linux drops such a frame and counts it; it is bad data, not a broken ring.
			a.drop(st, rxDropBadGSO)
		}
		a.meta.GSOType, a.meta.GSOSize = e.GSOType, e.GSOSize
	}
	return a.extras == 0 && !a.inFrame, nil
}

// data takes a data slot; done reports the end of the frame.
func (a *rxAssembler) data(b []byte, id uint16, page []byte, st *rxStep) (done bool, err error) {
	var rsp netif.RxResponse
	rsp.Decode(b)
	if rsp.ID != id {
		return false, fmt.Errorf("rx response id %d where id %d was posted", rsp.ID, id)
	}
	first := !a.inFrame
	more := rsp.Flags&netif.NETRXF_more_data != 0
	if a.slots++; a.slots > maxRxSlots {
		a.drop(st, rxDropOverSlots)
	}
	if rsp.Status < 0 {
		// The backend could not fill this buffer: drop the whole frame.
		a.drop(st, rxDropError)
	} else if int(rsp.Offset)+int(rsp.Status) > xen.PageSize {
		return false, fmt.Errorf("rx offset %d + size %d beyond the page", rsp.Offset, rsp.Status)
	} else if !a.dropped {
		if len(a.frame)+int(rsp.Status) > cap(a.frame) {
			return false, fmt.Errorf("rx frame longer than %d bytes", cap(a.frame))
		}
		a.frame = append(a.frame, page[rsp.Offset:int(rsp.Offset)+int(rsp.Status)]...)
	}
	if first {
		// RX flags swap bits 0 and 1 relative to TX: netif names them per direction.
		a.meta.CsumBlank = rsp.Flags&netif.NETRXF_csum_blank != 0
		a.meta.DataValidated = rsp.Flags&netif.NETRXF_data_validated != 0
		if rsp.Flags&netif.NETRXF_extra_info != 0 {
			a.extras = 1
		}
	} else if rsp.Flags&netif.NETRXF_extra_info != 0 {
		return false, fmt.Errorf("rx extra info on a later slot")
	}
	a.inFrame = more
	return !more && a.extras == 0, nil
}

// drop drops the frame being gathered; the first cause is the one reported.
func (a *rxAssembler) drop(st *rxStep, why rxDrop) {
	if !a.dropped {
		a.dropped = true
		st.drop = why
	}
}

func (a *rxAssembler) reset() {
	a.frame = a.frame[:0]
	a.meta = RxMeta{}
	a.inFrame, a.dropped, a.ended = false, false, false
	a.extras, a.slots, a.nextras = 0, 0, 0
}
