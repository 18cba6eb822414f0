// GNTTABOP_copy: the backend's way to move packet data, after Xen's gnttab_copy.

package sim

import (
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/gnttab"
)

// GNTTABOP_copy and struct gnttab_copy (grant_table.h), which package gnttab, a guest-side
// package, does not issue. Each side is a struct gnttab_copy_ptr { union { grant_ref_t ref;
// xen_pfn_t gmfn; } u; domid_t domid; uint16_t offset; } (16 bytes); then len, flags, status.
const (
	GNTTABOP_copy = 5

	GNTCOPY_source_gref = 1 << 0
	GNTCOPY_dest_gref   = 1 << 1

	SizeofGnttabCopy         = 40
	OffsetofGnttabCopySource = 0
	OffsetofGnttabCopyDest   = 16
	OffsetofGnttabCopyLen    = 32
	OffsetofGnttabCopyFlags  = 34
	OffsetofGnttabCopyStatus = 36

	// Within struct gnttab_copy_ptr.
	OffsetofGnttabCopyPtrU      = 0
	OffsetofGnttabCopyPtrDomid  = 8
	OffsetofGnttabCopyPtrOffset = 10
)

// CopyPtr is one side of a grant copy: a grant ref of Domain (Gref set), or a frame of the
// calling domain's own memory (Domain is then DOMID_SELF or the caller).
type CopyPtr struct {
	Ref    uint64 // grant_ref_t, or xen_pfn_t gmfn for a local frame
	Domain xen.DomID
	Offset uint16
}

// CopyOp is struct gnttab_copy.
type CopyOp struct {
	Source, Dest CopyPtr
	Len          uint16
	Flags        uint16 // GNTCOPY_*
	Status       gnttab.Status
}

// Encode writes op into b (SizeofGnttabCopy bytes).
func (op *CopyOp) Encode(b []byte) {
	_ = b[SizeofGnttabCopy-1]
	putCopyPtr(b[OffsetofGnttabCopySource:], op.Source)
	putCopyPtr(b[OffsetofGnttabCopyDest:], op.Dest)
	le.PutUint16(b[OffsetofGnttabCopyLen:], op.Len)
	le.PutUint16(b[OffsetofGnttabCopyFlags:], op.Flags)
	le.PutUint16(b[OffsetofGnttabCopyStatus:], uint16(op.Status))
	clear(b[OffsetofGnttabCopyStatus+2 : SizeofGnttabCopy])
}

// Decode reads op from b.
func (op *CopyOp) Decode(b []byte) {
	_ = b[SizeofGnttabCopy-1]
	op.Source = getCopyPtr(b[OffsetofGnttabCopySource:])
	op.Dest = getCopyPtr(b[OffsetofGnttabCopyDest:])
	op.Len = le.Uint16(b[OffsetofGnttabCopyLen:])
	op.Flags = le.Uint16(b[OffsetofGnttabCopyFlags:])
	op.Status = gnttab.Status(int16(le.Uint16(b[OffsetofGnttabCopyStatus:])))
}

func putCopyPtr(b []byte, p CopyPtr) {
	le.PutUint64(b[OffsetofGnttabCopyPtrU:], p.Ref)
	le.PutUint16(b[OffsetofGnttabCopyPtrDomid:], uint16(p.Domain))
	le.PutUint16(b[OffsetofGnttabCopyPtrOffset:], p.Offset)
	clear(b[12:16])
}

func getCopyPtr(b []byte) CopyPtr {
	return CopyPtr{
		Ref:    le.Uint64(b[OffsetofGnttabCopyPtrU:]),
		Domain: xen.DomID(le.Uint16(b[OffsetofGnttabCopyPtrDomid:])),
		Offset: le.Uint16(b[OffsetofGnttabCopyPtrOffset:]),
	}
}

// grantCopy performs count encoded ops, writing each one's status, as gnttab_copy does: the
// hypercall itself succeeds and each op succeeds or fails on its own.
func (d *Domain) grantCopy(arg []byte, count uint32) error {
	if uint64(len(arg)) != uint64(count)*SizeofGnttabCopy {
		return xen.EFAULT
	}
	d.x.mu.Lock()
	defer d.x.mu.Unlock()
	for i := range int(count) {
		b := arg[i*SizeofGnttabCopy : (i+1)*SizeofGnttabCopy]
		var op CopyOp
		op.Decode(b)
		st := d.copyOneLocked(&op)
		le.PutUint16(b[OffsetofGnttabCopyStatus:], uint16(st))
	}
	return nil
}

// copyOneLocked is gnttab_copy_one: check the bounds (a copy never crosses a page end), pin
// both sides (a grant as a reader for the source and a writer for the destination, which sets
// and then clears GTF_reading/GTF_writing as a short-lived mapping does), copy, unpin. It does
// not allocate: the pins reuse the refs' active entries.
func (d *Domain) copyOneLocked(op *CopyOp) gnttab.Status {
	if int(op.Source.Offset)+int(op.Len) > xen.PageSize || int(op.Dest.Offset)+int(op.Len) > xen.PageSize {
		return gnttab.GNTST_bad_copy_arg
	}
	sgref, dgref := op.Flags&GNTCOPY_source_gref != 0, op.Flags&GNTCOPY_dest_gref != 0
	src, sgd, st := d.copyPageLocked(op.Source, sgref, false)
	if st != gnttab.GNTST_okay {
		return st
	}
	dst, dgd, st := d.copyPageLocked(op.Dest, dgref, true)
	if st != gnttab.GNTST_okay {
		unpinCopyLocked(sgd, op.Source, false)
		return st
	}
	copy(dst[op.Dest.Offset:int(op.Dest.Offset)+int(op.Len)], src[op.Source.Offset:int(op.Source.Offset)+int(op.Len)])
	unpinCopyLocked(dgd, op.Dest, true)
	unpinCopyLocked(sgd, op.Source, false)
	return gnttab.GNTST_okay
}

// copyPageLocked resolves and pins one side of a copy. For a grant it also returns the
// granting domain, whose pin unpinCopyLocked drops; for a local frame that domain is nil.
func (d *Domain) copyPageLocked(p CopyPtr, gref, writable bool) ([]byte, *Domain, gnttab.Status) {
	if !gref {
		// A frame rather than a grant: only the caller's own memory (gnttab_copy_lock_domain
		// refuses a foreign domain's frames to anyone but a privileged caller; dom0 still goes
		// through grants here, as netback does).
		if p.Domain != xen.DOMID_SELF && p.Domain != d.id {
			return nil, nil, gnttab.GNTST_permission_denied
		}
		page := d.Page(xen.Frame(p.Ref))
		if page == nil {
			return nil, nil, gnttab.GNTST_bad_page
		}
		return page, nil, gnttab.GNTST_okay
	}
	if p.Ref > 0xffffffff {
		return nil, nil, gnttab.GNTST_bad_gntref
	}
	page, st := d.acquireLocked(p.Domain, xen.GrantRef(p.Ref), writable)
	if st != gnttab.GNTST_okay {
		return nil, nil, st
	}
	return page, d.x.domainLocked(d, p.Domain), gnttab.GNTST_okay
}

// unpinCopyLocked drops the pin copyPageLocked took on a grant; gd is nil for a local frame.
func unpinCopyLocked(gd *Domain, p CopyPtr, writable bool) {
	if gd != nil {
		gd.gt.releaseLocked(xen.GrantRef(p.Ref), writable)
	}
}

// GrantCopy issues GNTTABOP_copy for ops as this domain and stores each op's status back.
// It encodes into a buffer it allocates; a datapath can encode once and call
// Hypervisor().GrantTableOp itself.
func (d *Domain) GrantCopy(ops []CopyOp) error {
	buf := make([]byte, len(ops)*SizeofGnttabCopy)
	for i := range ops {
		ops[i].Encode(buf[i*SizeofGnttabCopy:])
	}
	if err := d.hv.GrantTableOp(GNTTABOP_copy, buf, uint32(len(ops))); err != nil {
		return err
	}
	for i := range ops {
		ops[i].Status = gnttab.Status(int16(le.Uint16(buf[i*SizeofGnttabCopy+OffsetofGnttabCopyStatus:])))
	}
	return nil
}
