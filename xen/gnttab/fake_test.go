// A simulated Xen and guest memory for the tests, and a backend that maps grants as Xen does.

package gnttab

import (
	"sync"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

const arenaBase xen.Frame = 0x100 // frame number of the arena's first page

// fakeMem hands out pages of a page-aligned Go arena, numbered from arenaBase.
type fakeMem struct {
	mu     sync.Mutex
	arena  []byte
	free   []int
	fail   error
	allocs int
	frees  int
}

func newFakeMem(pages int) *fakeMem {
	m := &fakeMem{arena: shmem.Pages(pages)}
	for i := pages - 1; i >= 0; i-- {
		m.free = append(m.free, i)
	}
	return m
}

func (m *fakeMem) AllocPage() (xen.Page, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return xen.Page{}, m.fail
	}
	if len(m.free) == 0 {
		return xen.Page{}, xen.ENOMEM
	}
	i := m.free[len(m.free)-1]
	m.free = m.free[:len(m.free)-1]
	m.allocs++
	d := m.arena[i*xen.PageSize : (i+1)*xen.PageSize : (i+1)*xen.PageSize]
	clear(d)
	return xen.Page{Frame: arenaBase + xen.Frame(i), Data: d}, nil
}

func (m *fakeMem) FreePage(p xen.Page) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.frees++
	m.free = append(m.free, int(p.Frame-arenaBase))
}

// page returns the arena memory of frame f, or nil.
func (m *fakeMem) page(f xen.Frame) []byte {
	if f < arenaBase || f >= arenaBase+xen.Frame(len(m.arena)/xen.PageSize) {
		return nil
	}
	i := int(f - arenaBase)
	return m.arena[i*xen.PageSize : (i+1)*xen.PageSize]
}

// fakeXen implements GNTTABOP_query_size and xen.XENMEM_add_to_physmap(xen.XENMAPSPACE_grant_table) like
// Xen: frames are Xen's until mapped, then the guest page *is* the frame (its memory is adopted as
// the frame, which is what the aliasing of a real mapping amounts to).
type fakeXen struct {
	mem *fakeMem

	mu        sync.Mutex // guards the fields below
	nrFrames  uint32
	maxFrames uint32
	frames    [][]byte // Xen's view of each grant frame
	status    Status   // query_size status to report
	failMap   error    // next add_to_physmap error
	queryArg  []byte
	mapArgs   [][]byte
}

func newFakeXen(mem *fakeMem, maxFrames uint32) *fakeXen {
	x := &fakeXen{mem: mem, nrFrames: 1, maxFrames: maxFrames, frames: [][]byte{make([]byte, xen.PageSize)}}
	// The toolstack's grants of the console and XenStore pages to dom0 live in refs 0 and 1.
	le.PutUint32(x.frames[0][0:], 0<<16|GTF_permit_access)
	le.PutUint32(x.frames[0][4:], 0xfeff0)
	le.PutUint32(x.frames[0][8:], 0<<16|GTF_permit_access)
	le.PutUint32(x.frames[0][12:], 0xfeffc)
	return x
}

func (x *fakeXen) EventChannelOp(uint32, []byte) error { return xen.ENOSYS }
func (x *fakeXen) HVMOp(uint32, []byte) error          { return xen.ENOSYS }

func (x *fakeXen) GrantTableOp(cmd uint32, arg []byte, count uint32) error {
	if cmd != GNTTABOP_query_size || count != 1 || len(arg) != SizeofGnttabQuerySize {
		return xen.EINVAL
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.queryArg = append([]byte(nil), arg...)
	if xen.DomID(le.Uint16(arg[OffsetofGnttabQuerySizeDom:])) != xen.DOMID_SELF {
		le.PutUint16(arg[OffsetofGnttabQuerySizeStatus:], uint16(0xffff&int(GNTST_permission_denied)))
		return nil
	}
	le.PutUint32(arg[OffsetofGnttabQuerySizeNrFrames:], x.nrFrames)
	le.PutUint32(arg[OffsetofGnttabQuerySizeMaxNrFrames:], x.maxFrames)
	le.PutUint16(arg[OffsetofGnttabQuerySizeStatus:], uint16(x.status))
	return nil
}

func (x *fakeXen) MemoryOp(cmd uint32, arg []byte) (int64, error) {
	if cmd != xen.XENMEM_add_to_physmap || len(arg) != xen.SizeofXenAddToPhysmap {
		return 0, xen.ENOSYS
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.mapArgs = append(x.mapArgs, append([]byte(nil), arg...))
	if err := x.failMap; err != nil {
		x.failMap = nil
		return 0, err
	}
	dom := xen.DomID(le.Uint16(arg[xen.OffsetofXenAddToPhysmapDomid:]))
	space := le.Uint32(arg[xen.OffsetofXenAddToPhysmapSpace:])
	idx := le.Uint64(arg[xen.OffsetofXenAddToPhysmapIdx:])
	page := x.mem.page(xen.Frame(le.Uint64(arg[xen.OffsetofXenAddToPhysmapGpfn:])))
	if dom != xen.DOMID_SELF || space != xen.XENMAPSPACE_grant_table || idx >= uint64(x.maxFrames) || page == nil {
		return 0, xen.EINVAL
	}
	for uint64(x.nrFrames) <= idx { // gnttab_grow_table
		x.frames = append(x.frames, make([]byte, xen.PageSize))
		x.nrFrames++
	}
	copy(page, x.frames[idx])
	x.frames[idx] = page
	return 0, nil
}

// entryWord is Xen's view of ref's flags+domid word and the frame it grants.
func (x *fakeXen) entry(ref xen.GrantRef) []byte {
	x.mu.Lock()
	defer x.mu.Unlock()
	if uint64(ref) >= uint64(x.nrFrames)*EntriesPerFrame {
		return nil
	}
	off := int(ref%EntriesPerFrame) * SizeofGrantEntryV1
	return x.frames[ref/EntriesPerFrame][off : off+SizeofGrantEntryV1]
}

// mapGrant is what Xen does when domain dom maps ref (_set_status_v1 and the frame lookup): a
// compare-and-swap on flags+domid that requires GTF_permit_access, the right domid and, for a
// writable mapping, no GTF_readonly; then it reads frame. It returns the granted page.
func (x *fakeXen) mapGrant(dom xen.DomID, ref xen.GrantRef, readonly bool) ([]byte, Status) {
	e := x.entry(ref)
	if e == nil {
		return nil, GNTST_bad_gntref
	}
	hdr := header(e)
	mask := uint32(GTF_type_mask)
	if !readonly {
		mask |= GTF_readonly
	}
	old := hdr.Load()
	for retries := 0; ; retries++ {
		if old&mask != GTF_permit_access || xen.DomID(old>>16) != dom {
			return nil, GNTST_permission_denied
		}
		nw := old | GTF_reading
		if !readonly {
			nw |= GTF_writing
		}
		if hdr.CompareAndSwap(old, nw) {
			break
		}
		if retries == 4 {
			return nil, GNTST_general_error // "shared grant entry is unstable"
		}
		old = hdr.Load()
	}
	page := x.mem.page(xen.Frame(le.Uint32(e[OffsetofGrantEntryV1Frame:])))
	if page == nil {
		x.unmapGrant(ref, readonly)
		return nil, GNTST_bad_page
	}
	return page, GNTST_okay
}

// unmapGrant clears the in-use bits as Xen's unmap does (one mapping per ref in these tests).
func (x *fakeXen) unmapGrant(ref xen.GrantRef, readonly bool) {
	hdr := header(x.entry(ref))
	if !readonly {
		hdr.And(^uint32(GTF_writing))
	}
	hdr.And(^uint32(GTF_reading))
}

// newTestTable returns a Table over a fake Xen allowing maxFrames frames.
func newTestTable(maxFrames uint32, cfg Config) (*Table, *fakeXen, *fakeMem, error) {
	mem := newFakeMem(int(maxFrames) + 16)
	x := newFakeXen(mem, maxFrames)
	t, err := New(x, mem, cfg)
	return t, x, mem, err
}
