// Granting and ending a remote domain's access to a page: the v1 entry protocol.

package gnttab

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

var le = binary.LittleEndian

// header is the 32-bit word at the start of a grant entry: its flags (the low half on
// little-endian) and domid. Frames are checked to be page aligned when mapped, so every entry
// is 8-byte aligned.
func header(e []byte) *atomic.Uint32 { return shmem.Uint32(e, OffsetofGrantEntryV1Flags) }

// flags reads an entry's flags atomically.
func flags(e []byte) uint16 { return uint16(header(e).Load()) }

// GrantAccess lets domain dom map frame through ref, read-only if readonly. ref must be
// allocated and not currently granting access. It does not allocate.
//
// Order of the writes (grant_table.h): domid and frame first, then flags. The frame is written
// with a plain store; the atomic 32-bit store that sets flags and domid together is the write
// barrier that publishes it, so Xen, which reads frame only after it sees GTF_permit_access,
// never maps a stale frame. Storing domid in the same word as flags also means Xen can never
// see the flags with the previous grantee's domid.
func (t *Table) GrantAccess(ref xen.GrantRef, dom xen.DomID, frame xen.Frame, readonly bool) error {
	if frame > math.MaxUint32 {
		return ErrFrameRange
	}
	e, err := t.entry(ref)
	if err != nil {
		return err
	}
	hdr := header(e)
	if hdr.Load()&0xffff != 0 {
		return ErrGranted
	}
	le.PutUint32(e[OffsetofGrantEntryV1Frame:], uint32(frame))
	f := uint32(GTF_permit_access)
	if readonly {
		f |= GTF_readonly
	}
	hdr.Store(uint32(dom)<<16 | f)
	return nil
}

// EndAccess revokes the access granted through ref. It fails with ErrInUse while the grantee
// still has the page mapped (GTF_reading or GTF_writing set by Xen); the caller must then not
// reuse or free the page, and should retry later or use EndAccessDeferred. Ending an entry that
// grants nothing succeeds. It does not allocate.
//
// Xen sets GTF_reading/GTF_writing with a compare-and-swap on the 32-bit word holding flags and
// domid, so clearing flags is a compare-and-swap on that same word, succeeding only while
// neither bit is set. (Linux does a 16-bit cmpxchg on flags alone; Go has no 16-bit atomics, and
// keeping domid unchanged in the swap makes the 32-bit form equivalent.)
func (t *Table) EndAccess(ref xen.GrantRef) error {
	e, err := t.entry(ref)
	if err != nil {
		return err
	}
	hdr := header(e)
	for {
		old := hdr.Load()
		if old&(GTF_reading|GTF_writing) != 0 {
			return ErrInUse
		}
		// A failed swap means Xen changed the word under us (a mapping began): look again.
		if hdr.CompareAndSwap(old, old&^0xffff) {
			return nil
		}
	}
}

// Grant allocates a reference and grants dom access to frame through it, typically for a
// shared ring page at connect time.
func (t *Table) Grant(dom xen.DomID, frame xen.Frame, readonly bool) (xen.GrantRef, error) {
	ref, err := t.AllocRef()
	if err != nil {
		return 0, err
	}
	if err := t.GrantAccess(ref, dom, frame, readonly); err != nil {
		if ferr := t.FreeRef(ref); ferr != nil {
			return 0, fmt.Errorf("%w (and freeing ref %d: %v)", err, ref, ferr)
		}
		return 0, err
	}
	return ref, nil
}

// Revoke ends access through ref and frees it. On ErrInUse the reference stays allocated and
// granted, and the page must not be reused.
func (t *Table) Revoke(ref xen.GrantRef) error {
	if err := t.EndAccess(ref); err != nil {
		return err
	}
	return t.FreeRef(ref)
}
