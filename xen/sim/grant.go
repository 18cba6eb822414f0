// Grant tables v1: the frames, their mapping into the guest, and backends mapping grants.

package sim

import (
	"encoding/binary"
	"fmt"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

var le = binary.LittleEndian

const (
	gnttabReservedConsole  = gnttab.GNTTAB_RESERVED_CONSOLE
	gnttabReservedXenstore = gnttab.GNTTAB_RESERVED_XENSTORE
)

// grantTable is a domain's grant table as Xen holds it. Each frame is either Xen's own page
// (not yet mapped by the guest) or, after XENMEM_add_to_physmap, the guest's page at that gpfn:
// the guest's gnttab package writes entries there and Xen reads them there, as with a real
// mapping. The active map is Xen's struct active_grant_entry: how many mappings pin each ref.
type grantTable struct {
	d         *Domain
	maxFrames uint32
	frames    [][]byte
	active    map[xen.GrantRef]*activeEntry
}

// activeEntry counts the mappings of one ref, readers and writers separately (GNTPIN_*).
// An entry stays in the map once created, idle at a pin count of zero, as Xen's
// active_grant_entry array does: a grant copy pins and unpins a ref per op, and the datapath
// must not allocate for it. grantee and frame are only meaningful while readers > 0.
type activeEntry struct {
	readers, writers int
	grantee          xen.DomID
	frame            xen.Frame
}

func (g *grantTable) init(d *Domain, maxFrames uint32) {
	g.d, g.maxFrames = d, maxFrames
	g.frames = [][]byte{shmem.Pages(1)}
	g.active = make(map[xen.GrantRef]*activeEntry)
}

// seed writes a grant entry from the toolstack's side (xc_dom_gnttab_seed).
func (g *grantTable) seed(ref xen.GrantRef, grantee xen.DomID, f xen.Frame) {
	e := g.entry(ref)
	le.PutUint32(e[gnttab.OffsetofGrantEntryV1Frame:], uint32(f))
	shmem.Uint32(e, gnttab.OffsetofGrantEntryV1Flags).Store(uint32(grantee)<<16 | gnttab.GTF_permit_access)
}

// entry returns ref's 8 bytes in the current frames, or nil beyond the table.
func (g *grantTable) entry(ref xen.GrantRef) []byte {
	if uint64(ref) >= uint64(len(g.frames))*gnttab.EntriesPerFrame {
		return nil
	}
	off := int(ref%gnttab.EntriesPerFrame) * gnttab.SizeofGrantEntryV1
	return g.frames[ref/gnttab.EntriesPerFrame][off : off+gnttab.SizeofGrantEntryV1]
}

// mapFrameLocked is XENMEM_add_to_physmap with XENMAPSPACE_grant_table: grow the table up to
// idx (gnttab_grow_table), then make frame idx live at gpfn. The entries move with the frame,
// so what the toolstack seeded (refs 0 and 1) is there when the guest first looks.
func (g *grantTable) mapFrameLocked(idx uint64, gpfn xen.Frame) error {
	page := g.d.Page(gpfn)
	if idx >= uint64(g.maxFrames) || page == nil {
		return xen.EINVAL
	}
	for uint64(len(g.frames)) <= idx {
		g.frames = append(g.frames, shmem.Pages(1))
	}
	copyWords(page, g.frames[idx])
	g.frames[idx] = page
	return nil
}

// Mapping is a backend's mapping of a granted page. Data aliases the granter's page: writes
// are seen by the granter at once, as with a real mapping. The simulator cannot make a
// read-only mapping fault; a backend that wrote through one would be a bug in the model.
type Mapping struct {
	Data []byte

	d        *Domain // the mapping domain
	granter  xen.DomID
	ref      xen.GrantRef
	writable bool
	done     bool
}

// MapGrant maps ref of domain granter into this domain (GNTTABOP_map_grant_ref), writable or
// read-only. As Xen's map_grant_ref and _set_status_v1 do, the first mapping checks the shared
// entry with a compare-and-swap that requires GTF_permit_access, the grantee's domid and, for
// a writable mapping, no GTF_readonly, and sets GTF_reading (and GTF_writing); they stay set
// until the last such mapping is unmapped, so the granter's EndAccess reports it in use.
// Errors are gnttab.Status values.
func (d *Domain) MapGrant(granter xen.DomID, ref xen.GrantRef, writable bool) (*Mapping, error) {
	d.x.mu.Lock()
	defer d.x.mu.Unlock()
	page, st := d.acquireLocked(granter, ref, writable)
	if st != gnttab.GNTST_okay {
		return nil, fmt.Errorf("sim: dom%d mapping dom%d ref %d: %w", d.id, granter, ref, st)
	}
	return &Mapping{Data: page, d: d, granter: granter, ref: ref, writable: writable}, nil
}

// Unmap ends the mapping (GNTTABOP_unmap_grant_ref), clearing GTF_writing when the last
// writable mapping goes and GTF_reading when the last mapping goes. Unmapping twice is a no-op.
func (m *Mapping) Unmap() {
	m.d.x.mu.Lock()
	defer m.d.x.mu.Unlock()
	if m.done {
		return
	}
	m.done = true
	m.Data = nil
	if gd := m.d.x.doms[m.granter]; gd != nil {
		gd.gt.releaseLocked(m.ref, m.writable)
	}
}

// acquireLocked pins ref of granter for domain d, for a mapping or for the duration of one
// grant copy, and returns the granted page.
func (d *Domain) acquireLocked(granter xen.DomID, ref xen.GrantRef, writable bool) ([]byte, gnttab.Status) {
	gd := d.x.domainLocked(d, granter)
	if gd == nil {
		return nil, gnttab.GNTST_bad_domain
	}
	g := &gd.gt
	e := g.entry(ref)
	if e == nil {
		return nil, gnttab.GNTST_bad_gntref
	}
	act := g.active[ref]
	idle := act == nil || act.readers == 0
	// Like Xen, the shared entry is only consulted when the pin count says its flags must
	// change: for the first mapping, or the first writable one.
	if idle || (writable && act.writers == 0) {
		if st := setStatusV1(e, d.id, writable); st != gnttab.GNTST_okay {
			return nil, st
		}
		if idle {
			if act == nil {
				act = &activeEntry{} // once per ref for the table's lifetime
				g.active[ref] = act
			}
			act.grantee = d.id
			act.frame = xen.Frame(le.Uint32(e[gnttab.OffsetofGrantEntryV1Frame:]))
		}
	} else if act.grantee != d.id {
		return nil, gnttab.GNTST_permission_denied
	}
	page := gd.Page(act.frame)
	if page == nil {
		if idle {
			clearStatus(e, writable, true)
		}
		return nil, gnttab.GNTST_bad_page
	}
	act.readers++
	if writable {
		act.writers++
	}
	return page, gnttab.GNTST_okay
}

// releaseLocked drops one pin and clears the in-use flags the pin count no longer justifies.
func (g *grantTable) releaseLocked(ref xen.GrantRef, writable bool) {
	act := g.active[ref]
	if act == nil || act.readers == 0 {
		return
	}
	act.readers--
	if writable {
		act.writers--
	}
	e := g.entry(ref)
	clearStatus(e, writable && act.writers == 0, act.readers == 0)
}

func clearStatus(e []byte, writing, reading bool) {
	if writing {
		shmem.Uint32(e, gnttab.OffsetofGrantEntryV1Flags).And(^uint32(gnttab.GTF_writing))
	}
	if reading {
		shmem.Uint32(e, gnttab.OffsetofGrantEntryV1Flags).And(^uint32(gnttab.GTF_reading))
	}
}

// setStatusV1 is Xen's _set_status_v1: compare-and-swap the flags+domid word so that the check
// and the setting of GTF_reading/GTF_writing are one step the guest cannot get between. After
// a few failed swaps Xen gives up ("shared grant entry is unstable").
func setStatusV1(e []byte, grantee xen.DomID, writable bool) gnttab.Status {
	hdr := shmem.Uint32(e, gnttab.OffsetofGrantEntryV1Flags)
	mask := uint32(gnttab.GTF_type_mask)
	if writable {
		mask |= gnttab.GTF_readonly
	}
	for retries := 0; retries < 4; retries++ {
		old := hdr.Load()
		if old&mask != gnttab.GTF_permit_access || xen.DomID(old>>16) != grantee {
			return gnttab.GNTST_permission_denied
		}
		nw := old | gnttab.GTF_reading
		if writable {
			nw |= gnttab.GTF_writing
		}
		if hdr.CompareAndSwap(old, nw) {
			return gnttab.GNTST_okay
		}
	}
	return gnttab.GNTST_general_error
}
