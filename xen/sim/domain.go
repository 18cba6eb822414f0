// Domain: one simulated domain's RAM, shared_info page and upcall line.

package sim

import (
	"sync"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/evtchn"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

// Domain is one simulated domain. Its hypervisor-side state is guarded by Xen.mu.
type Domain struct {
	x     *Xen
	id    xen.DomID
	arena []byte // guest RAM: frame f is arena[f*PageSize:(f+1)*PageSize]
	mem   memory
	hv    *Hypervisor

	backend xen.DomID // serves the console and XenStore (DomainConfig.Backend)

	// Guarded by x.mu.
	ports      []port // indexed by port number; port 0 is reserved as in Xen
	sharedInfo []byte // Xen's page until the guest maps it, then the guest's page at that gpfn
	gt         grantTable
	params     map[uint32]uint64
	upcallOn   bool // the upcall goroutine is running

	upcall   atomic.Pointer[func()]
	inUpcall sync.Mutex    // held while the handler runs, so that Restore can wait it out
	raise    chan struct{} // capacity 1: the interrupt line, coalescing
	stop     chan struct{}
}

func (x *Xen) newDomainLocked(id xen.DomID, pages int) *Domain {
	d := &Domain{
		x:          x,
		id:         id,
		arena:      shmem.Pages(pages),
		ports:      make([]port, evtchn.EVTCHN_2L_NR_CHANNELS),
		sharedInfo: shmem.Pages(1),
		params:     make(map[uint32]uint64),
		raise:      make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	if x.closed {
		close(d.stop)
	}
	d.mem.init(d.arena, pages)
	d.gt.init(d, x.maxGrantFrames)
	d.hv = &Hypervisor{d: d}
	return d
}

// ID is the domain's id.
func (d *Domain) ID() xen.DomID { return d.id }

// Hypervisor is the domain's view of Xen: its hypercalls act as this domain.
func (d *Domain) Hypervisor() *Hypervisor { return d.hv }

// Memory hands out zeroed pages of the domain's RAM, excluding the magic pages.
func (d *Domain) Memory() xen.Memory { return &d.mem }

// Pages is the size of the domain's RAM in pages.
func (d *Domain) Pages() int { return len(d.arena) / xen.PageSize }

// Page returns frame f of the domain's RAM, or nil if f is beyond it. It is the domain's own
// access to its memory; other domains go through grants.
func (d *Domain) Page(f xen.Frame) []byte {
	if f >= xen.Frame(d.Pages()) {
		return nil
	}
	off := int(f) * xen.PageSize
	return d.arena[off : off+xen.PageSize : off+xen.PageSize]
}

// SharedInfo returns the domain's shared_info page as the domain sees it: the guest page it
// mapped with XENMAPSPACE_shared_info, or before that Xen's own page (which is what a dom0
// kernel uses; backends in the simulator run an evtchn.Dispatcher on it).
func (d *Domain) SharedInfo() []byte {
	d.x.mu.Lock()
	defer d.x.mu.Unlock()
	return d.sharedInfo
}

// Param returns an HVM parameter set by the domain builder.
func (d *Domain) Param(index uint32) (uint64, bool) {
	d.x.mu.Lock()
	defer d.x.mu.Unlock()
	v, ok := d.params[index]
	return v, ok
}

// SetUpcall registers the domain's upcall handler (its interrupt handler for event channels,
// e.g. evtchn.Dispatcher.Upcall) and starts the goroutine that runs it. See the package doc.
// An upcall raised before registration is delivered once a handler is set. Setting a handler
// again replaces it (after Restore, as the guest sets its upcall vector again).
func (d *Domain) SetUpcall(fn func()) {
	d.upcall.Store(&fn)
	d.x.mu.Lock()
	defer d.x.mu.Unlock()
	if d.x.closed {
		return
	}
	if !d.upcallOn {
		d.upcallOn = true
		d.x.wg.Add(1)
		go d.vcpu()
	}
	// Anything latched before the handler existed must not wait for the next edge.
	d.raiseLocked()
}

// vcpu runs the upcall handler whenever the interrupt line is raised.
func (d *Domain) vcpu() {
	defer d.x.wg.Done()
	for {
		select {
		case <-d.stop:
			return
		case <-d.raise:
			d.inUpcall.Lock()
			if fn := d.upcall.Load(); fn != nil {
				(*fn)()
			}
			d.inUpcall.Unlock()
		}
	}
}

// raiseLocked asserts the interrupt line without blocking; a token already there coalesces.
func (d *Domain) raiseLocked() {
	select {
	case d.raise <- struct{}{}:
	default:
	}
}
