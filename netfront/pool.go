// The pages a connection grants to its backend, and the ring buffers made of them.

package netfront

import (
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/gnttab"
)

// pagePool owns every page one connection grants to its backend: the rings and every TX and RX
// buffer, each with its grant reference. Pages are allocated (zeroed, by the platform's Memory)
// and granted at connect time, handed out as buffers that the datapath takes and gives back
// without allocating, and all given back at once when the connection ends (release).
type pagePool struct {
	mem    xen.Memory
	grants *gnttab.Table
	dom    xen.DomID // the backend's domain, the grantee of every page

	// refs[i] grants pages[i]. A page whose grant failed (the last one, since allocation
	// stops at the first failure) has no ref.
	pages []xen.Page
	refs  []xen.GrantRef
}

func newPagePool(mem xen.Memory, grants *gnttab.Table, dom xen.DomID) *pagePool {
	return &pagePool{mem: mem, grants: grants, dom: dom}
}

// grant allocates a page and grants the backend access to it.
func (p *pagePool) grant(readonly bool) (xen.Page, xen.GrantRef, error) {
	pg, err := p.mem.AllocPage()
	if err != nil {
		return xen.Page{}, 0, err
	}
	p.pages = append(p.pages, pg)
	ref, err := p.grants.Grant(p.dom, pg.Frame, readonly)
	if err != nil {
		return xen.Page{}, 0, err
	}
	p.refs = append(p.refs, ref)
	return pg, ref, nil
}

// buffers grants n pages (read-only to the backend for TX, writable for RX) as one ring
// direction's buffers. On error the pages granted so far stay in the pool, for release.
func (p *pagePool) buffers(n int, readonly bool) (buffers, error) {
	b := buffers{pages: make([]xen.Page, 0, n), refs: make([]xen.GrantRef, 0, n), free: make([]uint16, 0, n)}
	for id := 0; id < n; id++ {
		pg, ref, err := p.grant(readonly)
		if err != nil {
			return b, err
		}
		b.pages = append(b.pages, pg)
		b.refs = append(b.refs, ref)
		b.free = append(b.free, uint16(n-1-id)) // id 0 on top: taken first
	}
	return b, nil
}

// release ends every grant and frees every page. A page the backend still maps (a backend that
// has not unmapped yet, or never will) is not freed now: its grant is ended and its ref and
// page given back once the backend lets go (gnttab.Table.EndAccessDeferred, retried on a
// timer as Linux's gnttab_end_foreign_access does). Until then the page is neither reused nor
// freed, since the backend may still write it. It returns how many pages wait so, and logs
// through logf what cannot happen.
func (p *pagePool) release(logf func(format string, args ...any)) (inUse int) {
	grants, mem := p.grants, p.mem
	for i, pg := range p.pages {
		if i >= len(p.refs) {
			mem.FreePage(pg)
			continue
		}
		if err := grants.Revoke(p.refs[i]); err == nil {
			mem.FreePage(pg)
			continue
		}
		inUse++
		if err := grants.EndAccessDeferred(p.refs[i], func() { mem.FreePage(pg) }); err != nil {
			// Not a ref of ours (cannot happen): keep the page out of use for good.
			logf("netfront: deferring the end of grant %d: %v", p.refs[i], err)
		}
	}
	p.pages, p.refs = nil, nil
	return inUse
}

// buffers are one ring direction's buffer pages, each known by an id (its index) that requests
// carry, with a stack of the ids not in use. Taking and giving back ids allocates nothing.
type buffers struct {
	pages []xen.Page     // pages[id] is buffer id
	refs  []xen.GrantRef // refs[id] grants pages[id] to the backend
	free  []uint16       // ids not in use, a stack
}

// take returns an id not in use; the caller checks idle first.
func (b *buffers) take() uint16 {
	id := b.free[len(b.free)-1]
	b.free = b.free[:len(b.free)-1]
	return id
}

// give puts id back among those not in use.
func (b *buffers) give(id uint16) { b.free = append(b.free, id) }

// idle is the number of ids not in use.
func (b *buffers) idle() int { return len(b.free) }

// data is buffer id's page.
func (b *buffers) data(id uint16) []byte { return b.pages[id].Data }
