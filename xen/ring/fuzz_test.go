// Fuzz target: a hostile back end writes arbitrary header indices and slot bytes.

package ring

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/tamaxen/tamaxen/xen"
)

// FuzzFrontConsumer lets the back end own everything it can write: the whole page except what
// the front end writes after attaching, and a sequence of rsp_prod values it sets between the
// front end's calls. The front end produces and publishes some requests, then consumes. It must
// never panic, never copy anything but the slot an index maps to, never consume more responses
// than requests it published, and report a violation as ErrBroken.
func FuzzFrontConsumer(f *testing.F) {
	le := binary.LittleEndian
	seed := func(start uint32, slot uint16, pushed, produced uint16, prods ...uint32) []byte {
		b := make([]byte, 12, 12+4*len(prods))
		le.PutUint32(b[0:], start)
		le.PutUint16(b[4:], slot)
		le.PutUint16(b[6:], pushed)
		le.PutUint16(b[8:], produced)
		for _, p := range prods {
			b = le.AppendUint32(b, start+p)
		}
		return b
	}
	f.Add(seed(0, 8, 4, 4, 1, 3, 4), []byte("slot bytes"))
	f.Add(seed(0xfffffffe, 12, 5, 7, 2, 5, 6), []byte{1, 2, 3})
	f.Add(seed(0xffffffff, 112, 32, 32, 0x80000000), []byte{})
	f.Add(seed(7, 1, 0, 0, 0xffffffff), []byte{0xff})
	f.Fuzz(func(t *testing.T, ctl []byte, fill []byte) {
		if len(ctl) < 12 {
			return
		}
		start := le.Uint32(ctl[0:])
		slotSize := int(le.Uint16(ctl[4:]))%4100 + 1
		page := make([]byte, xen.PageSize)
		for i := range page { // the back end's garbage everywhere, header included
			if len(fill) > 0 {
				page[i] = fill[i%len(fill)]
			}
		}
		fr, err := AttachFront(page, slotSize, start)
		if err != nil {
			if Size(len(page), slotSize) != 0 {
				t.Fatalf("attach with %d-byte slots: %v", slotSize, err)
			}
			return
		}
		size := uint32(fr.Size())
		pushed := uint32(le.Uint16(ctl[6:])) % (size + 1)
		produced := pushed + uint32(le.Uint16(ctl[8:]))%(size-pushed+1)
		for i := uint32(0); i < produced; i++ {
			if i == pushed {
				fr.PushRequestsAndCheckNotify()
			}
			s, err := fr.NextRequest()
			if err != nil || len(s) != slotSize {
				t.Fatalf("request %d of %d: %d bytes, %v", i, produced, len(s), err)
			}
		}
		if pushed == produced {
			fr.PushRequests()
		}

		dst := make([]byte, slotSize)
		consumed := uint32(0)
		for _, raw := range chunks(ctl[12:]) {
			le.PutUint32(page[OffRspProd:], raw)
			for {
				// What the slot holds now, located independently of the package.
				off := HeaderSize + int((start+consumed)&(size-1))*slotSize
				want := string(page[off : off+slotSize])
				ok, err := fr.ConsumeResponse(dst)
				if err != nil {
					if !errors.Is(err, xen.ErrBroken) {
						t.Fatalf("consume: %v", err)
					}
					if raw-(start+consumed) <= pushed-consumed {
						t.Fatalf("rsp_prod %#x within %d outstanding called broken", raw, pushed-consumed)
					}
					return
				}
				if !ok {
					break
				}
				if string(dst) != want {
					t.Fatal("copied bytes are not the slot's")
				}
				consumed++
				if consumed > pushed {
					t.Fatalf("consumed %d responses for %d requests", consumed, pushed)
				}
			}
			if more, err := fr.FinalCheckForResponses(); err != nil || more {
				t.Fatalf("final check after draining: %v %v", more, err)
			}
		}
		if fr.RspCons() != start+consumed || fr.FreeRequests() != size-(produced-consumed) {
			t.Fatal("indices out of step")
		}
	})
}

// chunks splits b into u32 values.
func chunks(b []byte) []uint32 {
	out := make([]uint32, 0, len(b)/4)
	for ; len(b) >= 4; b = b[4:] {
		out = append(out, binary.LittleEndian.Uint32(b))
	}
	return out
}
