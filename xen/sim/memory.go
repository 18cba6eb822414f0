// memory: the xen.Memory of a domain, a free list over its arena.

package sim

import (
	"sync"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

type pageState uint8

const (
	pageFree pageState = iota
	pageAllocated
	pageReserved // a magic page: never handed out, never freed
)

// memory implements xen.Memory over a domain's arena. Frames reserved by the domain builder
// (magic pages) are never handed out.
type memory struct {
	arena []byte

	mu     sync.Mutex // guards free and state
	free   []xen.Frame
	state  []pageState // by frame
	allocs int
}

var _ xen.Memory = (*memory)(nil)

func (m *memory) init(arena []byte, pages int) {
	m.arena = arena
	m.state = make([]pageState, pages)
	// Pushed in descending order so that allocation hands out ascending frames, which makes
	// test failures easier to read.
	for f := pages - 1; f >= 0; f-- {
		m.free = append(m.free, xen.Frame(f))
	}
}

// reserve takes frame f out of the free list for good.
func (m *memory) reserve(f xen.Frame) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, g := range m.free {
		if g == f {
			m.free = append(m.free[:i], m.free[i+1:]...)
			break
		}
	}
	m.state[f] = pageReserved
}

// AllocPage returns a zeroed page, or xen.ENOMEM when the domain's RAM is exhausted.
func (m *memory) AllocPage() (xen.Page, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.free) == 0 {
		return xen.Page{}, xen.ENOMEM
	}
	f := m.free[len(m.free)-1]
	m.free = m.free[:len(m.free)-1]
	m.state[f] = pageAllocated
	m.allocs++
	off := int(f) * xen.PageSize
	data := m.arena[off : off+xen.PageSize : off+xen.PageSize]
	clear(data)
	return xen.Page{Frame: f, Data: data}, nil
}

// FreePage returns a page. Frames outside the arena or already free are ignored, as are
// reserved pages: a double free must not hand one page out twice.
func (m *memory) FreePage(p xen.Page) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p.Frame >= xen.Frame(len(m.state)) || m.state[p.Frame] != pageAllocated {
		return
	}
	m.state[p.Frame] = pageFree
	m.free = append(m.free, p.Frame)
}

// Free returns the number of pages left to allocate.
func (m *memory) Free() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.free)
}

// copyWords copies the page src into the page dst one atomic 64-bit word at a time, as Xen
// fills a page the guest may be reading with locked operations (the guest's vCPU would be
// stopped; its goroutines here are not).
func copyWords(dst, src []byte) {
	for off := 0; off+8 <= len(dst) && off+8 <= len(src); off += 8 {
		shmem.Store64(dst, off, shmem.Load64(src, off))
	}
}
