// Atomic access to the 2-level pending/mask bitmaps and the vcpu upcall flags in shared_info.

package evtchn

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

// ErrSharedInfo is returned when the shared_info view is too short or not 8-byte aligned.
var ErrSharedInfo = errors.New("evtchn: unusable shared_info view")

// sharedInfo is the guest's view of the shared_info page. Xen writes it concurrently (it sets
// pending bits and selector bits, and reads the mask), so every access is atomic; plain loads
// could be torn or cached by the compiler.
type sharedInfo struct {
	b    []byte
	vcpu int // byte offset of this vcpu's vcpu_info
}

func newSharedInfo(b []byte, vcpu uint32) (sharedInfo, error) {
	if len(b) < SharedInfoMinSize {
		return sharedInfo{}, fmt.Errorf("%w: %d bytes, need %d", ErrSharedInfo, len(b), SharedInfoMinSize)
	}
	if !shmem.Aligned(b, 8) { // the 64-bit atomics need it
		return sharedInfo{}, fmt.Errorf("%w: not 8-byte aligned", ErrSharedInfo)
	}
	if vcpu >= XEN_LEGACY_MAX_VCPUS {
		return sharedInfo{}, fmt.Errorf("%w: vcpu %d has no vcpu_info in shared_info", ErrSharedInfo, vcpu)
	}
	return sharedInfo{b: b[:SharedInfoMinSize], vcpu: int(vcpu) * xen.SizeofVcpuInfo}, nil
}

// upcallWord is the aligned 32-bit word holding evtchn_upcall_pending (byte 0, the low byte on
// little-endian x86) and evtchn_upcall_mask (byte 1). Go has no 8-bit atomics; Xen itself sets
// upcall_pending with a locked bit operation on a wider word at the same address, so a locked
// 32-bit AND that leaves bytes 1-3 unchanged is coherent with it.
func (s sharedInfo) upcallWord() *atomic.Uint32 {
	return shmem.Uint32(s.b, s.vcpu+OffsetofVcpuInfoEvtchnUpcallPending)
}

func (s sharedInfo) clearUpcallPending() { s.upcallWord().And(^uint32(0xff)) }

func (s sharedInfo) upcallPending() bool { return s.upcallWord().Load()&0xff != 0 }

// swapPendingSel takes the selector: each set bit names a pending word that had a 0->1 transition
// on an unmasked port. Exchanging it with 0 (rather than reading then clearing) is what makes a
// bit Xen sets meanwhile survive until the next pass.
func (s sharedInfo) swapPendingSel() uint64 {
	return s.pendingSelWord().Swap(0)
}

func (s sharedInfo) pendingSelWord() *atomic.Uint64 {
	return shmem.Uint64(s.b, s.vcpu+OffsetofVcpuInfoEvtchnPendingSel)
}

func (s sharedInfo) pendingWord(w int) *atomic.Uint64 {
	return shmem.Uint64(s.b, OffsetofSharedInfoEvtchnPending+8*w)
}

func (s sharedInfo) maskWord(w int) *atomic.Uint64 {
	return shmem.Uint64(s.b, OffsetofSharedInfoEvtchnMask+8*w)
}

// ready returns the ports of word w that are pending and not masked.
func (s sharedInfo) ready(w int) uint64 {
	return s.pendingWord(w).Load() &^ s.maskWord(w).Load()
}

func bit(p xen.Port) (w int, m uint64) { return int(p / 64), 1 << (p % 64) }

func (s sharedInfo) setMask(p xen.Port) {
	w, m := bit(p)
	s.maskWord(w).Or(m)
}

func (s sharedInfo) clearMask(p xen.Port) {
	w, m := bit(p)
	s.maskWord(w).And(^m)
}

func (s sharedInfo) masked(p xen.Port) bool {
	w, m := bit(p)
	return s.maskWord(w).Load()&m != 0
}

func (s sharedInfo) isPending(p xen.Port) bool {
	w, m := bit(p)
	return s.pendingWord(w).Load()&m != 0
}

// setPending puts an event back on the port, for a Channel that is not there yet.
func (s sharedInfo) setPending(p xen.Port) {
	w, m := bit(p)
	s.pendingWord(w).Or(m)
}

// testAndClearPending clears the port's pending bit and reports whether it was set. The old value
// is the arbiter between an Upcall and an unmask re-check racing for the same event: exactly one
// of them sees the bit and wakes the waiter.
func (s sharedInfo) testAndClearPending(p xen.Port) bool {
	w, m := bit(p)
	return s.pendingWord(w).And(^m)&m != 0
}

// maskAll masks every port, as Linux does at boot: ports bound before we had a handler (or left
// over from a previous kernel) must not raise upcalls until someone registers for them.
func (s sharedInfo) maskAll() {
	for w := range bitmapWords {
		s.maskWord(w).Store(^uint64(0))
	}
}
