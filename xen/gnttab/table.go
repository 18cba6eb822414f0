// Package gnttab implements the guest side of Xen grant tables with v1 entries
// (xen/include/public/grant_table.h): mapping the table's frames into the guest, a free list of
// grant references, and granting and revoking a remote domain's access to a page.
//
// The package is portable: it reaches Xen through xen.Hypervisor and guest RAM through
// xen.Memory, so it runs on a TamaGo PVH guest and against a simulated Xen in host tests.
//
// A PVH guest maps its grant table itself: GNTTABOP_query_size gives the current and maximum
// number of frames, and XENMEM_add_to_physmap (space XENMAPSPACE_grant_table) places frame idx at
// a guest frame taken from xen.Memory. Xen grows the table when a frame beyond the current size is
// mapped, so the Table grows one frame at a time, on demand, up to the maximum.
//
// The entries live in memory Xen writes concurrently (it sets GTF_reading/GTF_writing while the
// grantee has the page mapped), so the flags word is only touched with atomics.
package gnttab

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

// MaxFramesCap bounds the number of frames a Table will map whatever Xen reports, so a bogus
// max_nr_frames cannot make us reserve unbounded memory. Xen's default limit is 64 frames.
const MaxFramesCap = 1024

// Errors returned by a Table.
var (
	// ErrInUse: the grantee still has the page mapped, so access was not ended. The page must
	// not be reused or freed; retry later or use EndAccessDeferred.
	ErrInUse = errors.New("gnttab: grant still in use by the remote domain")
	// ErrNoRefs: every reference is allocated and the table is at its maximum size.
	// It wraps xen.ENOSPC. AllocRefsWait waits instead of returning it.
	ErrNoRefs = fmt.Errorf("gnttab: no free grant references: %w", xen.ENOSPC)
	// ErrBadRef: a reference that is reserved, beyond the mapped table, or not allocated.
	ErrBadRef = errors.New("gnttab: invalid grant reference")
	// ErrGranted: GrantAccess on a reference whose entry is not free.
	ErrGranted = errors.New("gnttab: grant reference already grants access")
	// ErrFrameRange: a v1 entry holds a 32-bit frame number.
	ErrFrameRange = errors.New("gnttab: frame number does not fit a v1 grant entry")
)

// Config tunes a Table. The zero value is usable.
type Config struct {
	// MaxFrames caps the frames mapped, below Xen's max_nr_frames; 0 means Xen's limit.
	MaxFrames uint32
	// RetryInterval is how often EndAccessDeferred retries; 0 means one second, as Linux does.
	RetryInterval time.Duration
}

// Table is the guest's grant table.
type Table struct {
	hv  xen.Hypervisor
	mem xen.Memory

	limit uint32 // frames we may map: min(max_nr_frames, Config.MaxFrames, MaxFramesCap)

	// mapped is the number of frames mapped. frames[i] is written under mu before mapped is
	// raised past i, so the lock-free grant path may read frames[i] for any i < mapped.Load().
	mapped atomic.Uint32
	frames [][]byte

	mu     sync.Mutex // guards free, used, pages, waiter, and growing the table
	free   []xen.GrantRef
	used   []uint64 // bit per ref: allocated
	pages  []xen.Page
	waiter chan struct{} // closed when refs are freed; nil if nobody waits

	def deferrer
}

// New queries the grant table's size and maps its first frame.
func New(hv xen.Hypervisor, mem xen.Memory, cfg Config) (*Table, error) {
	if hv == nil || mem == nil {
		return nil, errors.New("gnttab: nil Hypervisor or Memory")
	}
	nr, max, err := querySize(hv)
	if err != nil {
		return nil, err
	}
	if max == 0 || nr > max {
		return nil, fmt.Errorf("gnttab: query_size: nr_frames %d, max_nr_frames %d: %w", nr, max, xen.ErrBroken)
	}
	limit := min(max, MaxFramesCap)
	if cfg.MaxFrames != 0 {
		limit = min(limit, cfg.MaxFrames)
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = time.Second
	}
	t := &Table{hv: hv, mem: mem, limit: limit, frames: make([][]byte, limit)}
	t.def.init(t, cfg.RetryInterval)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.growLocked(); err != nil {
		return nil, err
	}
	return t, nil
}

// querySize issues GNTTABOP_query_size for our own domain.
func querySize(hv xen.Hypervisor) (nr, max uint32, err error) {
	var a [SizeofGnttabQuerySize]byte
	le.PutUint16(a[OffsetofGnttabQuerySizeDom:], uint16(xen.DOMID_SELF))
	if err := hv.GrantTableOp(GNTTABOP_query_size, a[:], 1); err != nil {
		return 0, 0, fmt.Errorf("gnttab: query_size: %w", err)
	}
	if st := Status(int16(le.Uint16(a[OffsetofGnttabQuerySizeStatus:]))); st != GNTST_okay {
		return 0, 0, fmt.Errorf("gnttab: query_size: %w", st)
	}
	return le.Uint32(a[OffsetofGnttabQuerySizeNrFrames:]), le.Uint32(a[OffsetofGnttabQuerySizeMaxNrFrames:]), nil
}

// addToPhysmap maps grant-table frame idx at guest frame gpfn (XENMEM_add_to_physmap).
func addToPhysmap(hv xen.Hypervisor, idx uint32, gpfn xen.Frame) error {
	if err := xen.AddToPhysmap(hv, xen.XENMAPSPACE_grant_table, uint64(idx), gpfn); err != nil {
		return fmt.Errorf("gnttab: add_to_physmap grant frame %d at gpfn %#x: %w", idx, uint64(gpfn), err)
	}
	return nil
}

// growLocked maps one more frame and adds its references to the free list.
func (t *Table) growLocked() error {
	idx := t.mapped.Load()
	if idx >= t.limit {
		return ErrNoRefs
	}
	pg, err := t.mem.AllocPage()
	if err != nil {
		return fmt.Errorf("gnttab: page for grant frame %d: %w", idx, err)
	}
	if len(pg.Data) != xen.PageSize || !shmem.Aligned(pg.Data, xen.PageSize) {
		t.mem.FreePage(pg)
		return fmt.Errorf("gnttab: page for grant frame %d is not one aligned page", idx)
	}
	if err := addToPhysmap(t.hv, idx, pg.Frame); err != nil {
		t.mem.FreePage(pg)
		return err
	}
	// From here the page is the grant frame; it is never returned to Memory.
	t.pages = append(t.pages, pg)
	t.frames[idx] = pg.Data
	first := xen.GrantRef(idx) * EntriesPerFrame
	if idx == 0 {
		first = GNTTAB_NR_RESERVED_ENTRIES
	}
	t.used = append(t.used, make([]uint64, EntriesPerFrame/64)...)
	// Reserve room for every ref of the mapped frames, so freeing never allocates.
	if want := int(idx+1) * EntriesPerFrame; cap(t.free) < want {
		t.free = append(make([]xen.GrantRef, 0, want), t.free...)
	}
	// Push in descending order so that allocation hands out ascending refs.
	for r := xen.GrantRef(idx+1)*EntriesPerFrame - 1; r >= first; r-- {
		t.free = append(t.free, r)
	}
	t.mapped.Store(idx + 1) // publishes frames[idx] to the lock-free grant path
	return nil
}

// Frames returns the number of frames mapped and the number the table may grow to.
func (t *Table) Frames() (mapped, limit uint32) { return t.mapped.Load(), t.limit }

// entry returns the 8 bytes of ref's entry, for a ref that is not reserved and is mapped.
func (t *Table) entry(ref xen.GrantRef) ([]byte, error) {
	if ref < GNTTAB_NR_RESERVED_ENTRIES || uint64(ref) >= uint64(t.mapped.Load())*EntriesPerFrame {
		return nil, ErrBadRef
	}
	off := int(ref%EntriesPerFrame) * SizeofGrantEntryV1
	return t.frames[ref/EntriesPerFrame][off : off+SizeofGrantEntryV1], nil
}

// Resume maps the table's frames again after the domain was suspended and resumed in a new
// domain (xl restore, migration). The new domain's grant table starts empty, so every entry
// reads as free: a reference still allocated grants nothing until its owner grants it again,
// and revoking it succeeds. Owners of grants made before the suspension (netfront) revoke them
// and grant anew when they reconnect. Resume must run before anything grants again.
func (t *Table) Resume() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for idx, pg := range t.pages {
		if err := addToPhysmap(t.hv, uint32(idx), pg.Frame); err != nil {
			return fmt.Errorf("gnttab: resume: %w", err)
		}
	}
	return nil
}
