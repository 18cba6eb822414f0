// Fuzzing Upcall against a hostile hypervisor that writes arbitrary bytes into shared_info.

package evtchn

import (
	"math/bits"
	"testing"

	"github.com/tamaxen/tamaxen/xen"
)

// FuzzUpcall writes arbitrary vcpu_info, pending and mask bytes, runs Upcall, and checks it
// against a model: exactly the registered ports that were pending, unmasked and selected are
// woken; unregistered ones are counted as strays and masked; nothing panics.
func FuzzUpcall(f *testing.F) {
	one := make([]byte, 8)
	one[0] = 1
	f.Add([]byte{}, []byte{}, []byte{}, uint64(0))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 1}, []byte{0xfe}, []byte{}, uint64(1|2<<12|3<<24))
	f.Add(append([]byte{1, 1, 0, 0, 0, 0, 0, 0}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
		append(make([]byte, 504), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), one, uint64(4095|4032<<12))
	f.Fuzz(func(t *testing.T, vi, pend, mask []byte, regs uint64) {
		d, fx := newTestDispatcher()
		fx.upcall = nil

		var chans [EVTCHN_2L_NR_CHANNELS]*Channel
		for i := 0; i < 64; i += 12 {
			p := xen.Port(regs>>i) & (EVTCHN_2L_NR_CHANNELS - 1)
			if p == 0 || chans[p] != nil {
				continue
			}
			c, err := d.Attach(p)
			if err != nil {
				t.Fatalf("attach %d: %v", p, err)
			}
			chans[p] = c
		}

		page := fx.page
		clear(page[:SharedInfoMinSize])
		copy(page[:xen.SizeofVcpuInfo], vi)
		copy(page[OffsetofSharedInfoEvtchnPending:OffsetofSharedInfoEvtchnMask], pend)
		copy(page[OffsetofSharedInfoEvtchnMask:SharedInfoMinSize], mask)
		before := append([]byte(nil), page[:SharedInfoMinSize]...)

		// The model, computed from the bytes before the call.
		sel := le.Uint64(before[OffsetofVcpuInfoEvtchnPendingSel:])
		var want [EVTCHN_2L_NR_CHANNELS]bool
		stray := 0
		for s := sel; s != 0; s &= s - 1 {
			w := bits.TrailingZeros64(s)
			ready := le.Uint64(before[OffsetofSharedInfoEvtchnPending+8*w:]) &^
				le.Uint64(before[OffsetofSharedInfoEvtchnMask+8*w:])
			for ; ready != 0; ready &= ready - 1 {
				p := w*64 + bits.TrailingZeros64(ready)
				if chans[p] != nil {
					want[p] = true
				} else {
					stray++
				}
			}
		}

		stats := d.Stats()
		d.Upcall()
		d.Upcall() // the second pass finds nothing new

		got := d.Stats()
		if n := got.Stray - stats.Stray; n != uint64(stray) {
			t.Errorf("stray: got %d, want %d", n, stray)
		}
		if le.Uint64(page[OffsetofVcpuInfoEvtchnPendingSel:]) != 0 || page[OffsetofVcpuInfoEvtchnUpcallPending] != 0 {
			t.Errorf("selector or upcall_pending left set")
		}
		if page[OffsetofVcpuInfoEvtchnUpcallMask] != before[OffsetofVcpuInfoEvtchnUpcallMask] {
			t.Errorf("evtchn_upcall_mask changed")
		}
		woken := 0
		for p := range chans {
			port := xen.Port(p)
			wasPending := before[OffsetofSharedInfoEvtchnPending+p/8]&(1<<(p%8)) != 0
			wasMasked := before[OffsetofSharedInfoEvtchnMask+p/8]&(1<<(p%8)) != 0
			if chans[p] == nil {
				if wasPending != d.si.isPending(port) {
					t.Errorf("port %d: unregistered pending bit changed", p)
				}
				continue
			}
			gotToken := len(chans[p].ch) == 1
			if gotToken != want[p] {
				t.Errorf("port %d: woken %v, want %v", p, gotToken, want[p])
			}
			if gotToken {
				woken++
				if d.si.isPending(port) || !d.si.masked(port) {
					t.Errorf("port %d: delivered but pending=%v masked=%v", p, d.si.isPending(port), d.si.masked(port))
				}
			} else if d.si.masked(port) != wasMasked {
				t.Errorf("port %d: mask changed without delivery", p)
			}
		}
		if uint64(woken) != got.Events-stats.Events {
			t.Errorf("events: %d woken, %d counted", woken, got.Events-stats.Events)
		}
	})
}
