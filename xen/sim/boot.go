// Boot: the board's bring-up of the core services, done against the simulated Xen.

package sim

import (
	"fmt"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/evtchn"
	"github.com/tamaxen/tamaxen/xen/gnttab"
)

// Services are a domain's core services after Boot, built from the real portable packages.
type Services struct {
	Domain *Domain
	Events *evtchn.Dispatcher
	Grants *gnttab.Table

	sharedInfo xen.Frame // where Boot mapped shared_info
}

// Boot does for d what board/xenpvh does on a real PVH guest, through d's hypercalls only:
// map shared_info at a page of its RAM (XENMAPSPACE_shared_info), create the evtchn
// Dispatcher on it and register its Upcall as the domain's upcall, and map the grant table
// (gnttab.New). Backends in dom0 boot the same way, so they use the same packages.
func (d *Domain) Boot(cfg gnttab.Config) (*Services, error) {
	pg, err := d.Memory().AllocPage()
	if err != nil {
		return nil, fmt.Errorf("sim: dom%d: shared_info page: %w", d.id, err)
	}
	if err := d.mapSharedInfo(pg.Frame); err != nil {
		return nil, err
	}
	ev, err := evtchn.New(d.hv, pg.Data, 0)
	if err != nil {
		return nil, err
	}
	d.SetUpcall(ev.Upcall)
	gt, err := gnttab.New(d.hv, d.Memory(), cfg)
	if err != nil {
		return nil, err
	}
	return &Services{Domain: d, Events: ev, Grants: gt, sharedInfo: pg.Frame}, nil
}

// Resume does for a domain that Xen.Restore made new what board/xenpvh.Suspend does once
// SCHEDOP_shutdown returns in a new domain, through the same packages: map shared_info again
// at the same page, bring the Dispatcher back (evtchn.Dispatcher.Resume: every channel stale
// but the VIRQs), set the upcall handler again, and map the grant table's frames again
// (gnttab.Table.Resume). XenStore's channel is the caller's to move to the new
// HVM_PARAM_STORE_EVTCHN (Dispatcher.Reattach) before xenstore.Client.Resume; devices resume
// last (netfront.Device.Resume).
func (s *Services) Resume() error {
	d := s.Domain
	if err := d.mapSharedInfo(s.sharedInfo); err != nil {
		return err
	}
	err := s.Events.Resume()
	d.SetUpcall(s.Events.Upcall)
	if gerr := s.Grants.Resume(); err == nil {
		err = gerr
	}
	return err
}

// mapSharedInfo is XENMEM_add_to_physmap(XENMAPSPACE_shared_info) at frame f.
func (d *Domain) mapSharedInfo(f xen.Frame) error {
	if err := xen.AddToPhysmap(d.hv, xen.XENMAPSPACE_shared_info, 0, f); err != nil {
		return fmt.Errorf("sim: dom%d: mapping shared_info: %w", d.id, err)
	}
	return nil
}
