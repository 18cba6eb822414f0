// Xen: the simulated hypervisor holding the domains.

package sim

import (
	"fmt"
	"sync"

	"github.com/tamaxen/tamaxen/xen"
)

// Config sizes the simulated machine. The zero value is usable.
type Config struct {
	// Dom0Pages is the size of dom0's arena, in pages; 0 means 256.
	Dom0Pages int
	// MaxGrantFrames is every domain's max_nr_frames; 0 means 32, Xen's default
	// (gnttab_max_frames).
	MaxGrantFrames uint32
}

// DomainConfig sizes a guest.
type DomainConfig struct {
	// Pages is the size of the guest's arena, in pages, including the two magic pages
	// (console and XenStore) the domain builder reserves at its top; 0 means 256.
	Pages int
	// Backend is the domain serving the guest's console and XenStore (dom0 by default): the
	// magic pages are granted to it through refs 0 and 1, and the two ports are unbound for it.
	Backend xen.DomID
}

// Xen is the simulated hypervisor. Create it with New, add guests with NewDomain, stop it with
// Close (from t.Cleanup).
type Xen struct {
	maxGrantFrames uint32

	mu     sync.Mutex // guards doms and every Domain's hypervisor-side state (ports, grants, params)
	doms   map[xen.DomID]*Domain
	closed bool

	wg sync.WaitGroup // the domains' upcall goroutines
}

// New returns a simulated Xen with dom0 already running.
func New(cfg Config) *Xen {
	if cfg.MaxGrantFrames == 0 {
		cfg.MaxGrantFrames = 32
	}
	if cfg.Dom0Pages <= 0 {
		cfg.Dom0Pages = 256
	}
	x := &Xen{maxGrantFrames: cfg.MaxGrantFrames, doms: make(map[xen.DomID]*Domain)}
	x.mu.Lock()
	x.doms[0] = x.newDomainLocked(0, cfg.Dom0Pages)
	x.mu.Unlock()
	return x
}

// Dom0 returns the control domain, where the backends and xenstored run.
func (x *Xen) Dom0() *Domain { return x.Domain(0) }

// Domain returns a running domain, or nil.
func (x *Xen) Domain(id xen.DomID) *Domain {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.doms[id]
}

// NewDomain builds a guest the way libxl's domain builder does for PVH: arena, grant table,
// magic console and XenStore pages at the top of RAM granted to the backend domain through the
// reserved refs 0 and 1, an unbound port for each (HVM_PARAM_*_EVTCHN), and the HVM parameters
// naming them. XenStore introduction is the xenstored model's job.
func (x *Xen) NewDomain(id xen.DomID, cfg DomainConfig) (*Domain, error) {
	if cfg.Pages <= 0 {
		cfg.Pages = 256
	}
	if cfg.Pages < 4 {
		return nil, fmt.Errorf("sim: domain %d: %d pages is too small", id, cfg.Pages)
	}
	if id == 0 || id >= xen.DOMID_SELF {
		return nil, fmt.Errorf("sim: domain id %d: %w", id, xen.EINVAL)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil, xen.ErrClosed
	}
	if _, ok := x.doms[id]; ok {
		return nil, fmt.Errorf("sim: domain %d: %w", id, xen.EEXIST)
	}
	if _, ok := x.doms[cfg.Backend]; !ok {
		return nil, fmt.Errorf("sim: backend domain %d: %w", cfg.Backend, xen.ESRCH)
	}
	d := x.newDomainLocked(id, cfg.Pages)
	x.doms[id] = d

	d.backend = cfg.Backend
	console, store := xen.Frame(cfg.Pages-2), xen.Frame(cfg.Pages-1)
	d.mem.reserve(console)
	d.mem.reserve(store)
	if err := d.buildMagicLocked(); err != nil {
		return nil, err
	}
	return d, nil
}

// buildMagicLocked is the domain builder's part that a restore repeats: grant the console and
// XenStore pages (the top two frames) to the backend domain through the reserved refs
// (xc_dom_gnttab_seed), allocate an unbound port for each and set the HVM parameters naming
// them.
func (d *Domain) buildMagicLocked() error {
	console, store := xen.Frame(d.Pages()-2), xen.Frame(d.Pages()-1)
	d.gt.seed(gnttabReservedConsole, d.backend, console)
	d.gt.seed(gnttabReservedXenstore, d.backend, store)
	cport, err := d.allocUnboundLocked(d.backend)
	if err != nil {
		return err
	}
	sport, err := d.allocUnboundLocked(d.backend)
	if err != nil {
		return err
	}
	d.params[xen.HVM_PARAM_CONSOLE_PFN] = uint64(console)
	d.params[xen.HVM_PARAM_CONSOLE_EVTCHN] = uint64(cport)
	d.params[xen.HVM_PARAM_STORE_PFN] = uint64(store)
	d.params[xen.HVM_PARAM_STORE_EVTCHN] = uint64(sport)
	return nil
}

// Close stops every domain's upcall goroutine and waits for them. Hypercalls after Close still
// work; events are latched in shared_info but no upcall runs.
func (x *Xen) Close() {
	x.mu.Lock()
	if !x.closed {
		x.closed = true
		for _, d := range x.doms {
			close(d.stop)
		}
	}
	x.mu.Unlock()
	x.wg.Wait()
}

// domainLocked resolves a domid from a hypercall argument: DOMID_SELF means the caller.
func (x *Xen) domainLocked(caller *Domain, id xen.DomID) *Domain {
	if id == xen.DOMID_SELF {
		return caller
	}
	return x.doms[id]
}
