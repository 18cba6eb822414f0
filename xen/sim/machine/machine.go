// Package machine assembles a whole simulated Xen host in one process: the hypervisor model,
// dom0 with xenstored and a netback, and one guest domain with a vif, ready for the real
// netfront driver. It is what hosted mode (examples built for Linux) and end-to-end tests
// of the layers above netfront (the network stack) run on.
package machine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/evtchn"
	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/sim"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
	"github.com/tamaxen/tamaxen/xen/sim/xenstored"
	"github.com/tamaxen/tamaxen/xen/xenbus"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// Config describes the host. The zero value is a 16 MiB guest (domid 1, named "guest") with one
// vif (MAC 00:16:3e:00:00:02) served by a netback offering everything Linux offers.
type Config struct {
	// GuestID and GuestName identify the guest; 0 and "" mean 1 and "guest".
	GuestID   xen.DomID
	GuestName string
	// GuestPages is the guest's memory in pages; 0 means 4096 (16 MiB).
	GuestPages int
	// MAC is the vif's MAC address; "" means 00:16:3e:00:00:02.
	MAC string
	// Netback configures the backend; nil means netback.DefaultConfig().
	Netback *netback.Config
	// NoBackend leaves the vif as the toolstack wrote it, with no netback ever serving it.
	NoBackend bool
	// GuestGrants sizes the guest's grant table; the zero value is gnttab's default.
	GuestGrants gnttab.Config
	// WrapXenStore, if set, stands between the guest's XenStore client and its ring: tests use
	// it to watch or disturb the guest's requests.
	WrapXenStore func(io.ReadWriteCloser) io.ReadWriteCloser
}

// Machine is a running simulated host.
type Machine struct {
	Xen   *sim.Xen
	Dom0  *sim.Services
	Guest *sim.Services
	// Store is dom0's xenstored; Backend serves the guest's vif 0 (nil with NoBackend).
	Store   *xenstored.Store
	Backend *netback.Backend
	// Platform is what a frontend driver (netfront.Open) needs to drive the vif from the guest.
	Platform xenbus.Platform
	// MAC is the vif's MAC address.
	MAC net.HardwareAddr

	cfg     Config
	xsChan  *evtchn.Channel // the guest's end of its XenStore channel
	xsRing  *xenstore.RingTransport
	closers []func()
}

// New boots the host. Close releases everything.
func New(cfg Config) (m *Machine, err error) {
	if cfg.GuestID == 0 {
		cfg.GuestID = 1
	}
	if cfg.GuestName == "" {
		cfg.GuestName = "guest"
	}
	if cfg.GuestPages == 0 {
		cfg.GuestPages = 4096
	}
	if cfg.MAC == "" {
		cfg.MAC = "00:16:3e:00:00:02"
	}
	m = &Machine{cfg: cfg}
	if m.MAC, err = net.ParseMAC(cfg.MAC); err != nil {
		return nil, fmt.Errorf("machine: %w", err)
	}
	defer func() {
		if err != nil {
			m.Close()
			m = nil
		}
	}()
	if err = m.boot(); err != nil {
		return m, err
	}
	g := m.Guest.Domain
	m.Store = xenstored.New(m.Dom0)
	m.closers = append(m.closers, m.Store.Close)
	if err = m.Store.MakeDomain(cfg.GuestID, cfg.GuestName); err != nil {
		return m, fmt.Errorf("machine: %w", err)
	}
	if err = m.Store.AddVif(cfg.GuestID, 0, cfg.MAC, 0); err != nil {
		return m, fmt.Errorf("machine: %w", err)
	}
	if err = m.Store.Introduce(g); err != nil {
		return m, fmt.Errorf("machine: %w", err)
	}
	gxs, err := m.connectXenStore()
	if err != nil {
		return m, err
	}
	m.closers = append(m.closers, func() {
		if m.Backend != nil {
			_ = m.Backend.Close()
		}
	})
	if err = m.startBackend(); err != nil {
		return m, err
	}
	m.Platform = xenbus.Platform{XenStore: gxs, Grants: m.Guest.Grants, Events: m.Guest.Events, Memory: g.Memory()}
	return m, nil
}

// boot starts the hypervisor, dom0 and the guest domain.
func (m *Machine) boot() error {
	m.Xen = sim.New(sim.Config{Dom0Pages: 2048})
	m.closers = append(m.closers, m.Xen.Close)
	var err error
	if m.Dom0, err = m.Xen.Dom0().Boot(gnttab.Config{}); err != nil {
		return fmt.Errorf("machine: dom0: %w", err)
	}
	m.closers = append(m.closers, m.Dom0.Grants.Close)
	g, err := m.Xen.NewDomain(m.cfg.GuestID, sim.DomainConfig{Pages: m.cfg.GuestPages})
	if err != nil {
		return fmt.Errorf("machine: guest: %w", err)
	}
	if m.Guest, err = g.Boot(m.cfg.GuestGrants); err != nil {
		return fmt.Errorf("machine: guest: %w", err)
	}
	m.closers = append(m.closers, m.Guest.Grants.Close)
	return nil
}

// connectXenStore is the guest's side of XenStore, found as a PVH guest finds it: the page and
// the port the HVM parameters name.
func (m *Machine) connectXenStore() (*xenstore.Client, error) {
	g := m.Guest.Domain
	pfn, err := xen.GetParam(g.Hypervisor(), xen.HVM_PARAM_STORE_PFN)
	if err != nil {
		return nil, fmt.Errorf("machine: store pfn: %w", err)
	}
	port, err := xen.GetParam(g.Hypervisor(), xen.HVM_PARAM_STORE_EVTCHN)
	if err != nil {
		return nil, fmt.Errorf("machine: store evtchn: %w", err)
	}
	ch, err := m.Guest.Events.Attach(xen.Port(port))
	if err != nil {
		return nil, fmt.Errorf("machine: %w", err)
	}
	tr, err := xenstore.NewRingTransport(g.Page(xen.Frame(pfn)), ch)
	if err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("machine: %w", err)
	}
	var rw io.ReadWriteCloser = tr
	if m.cfg.WrapXenStore != nil {
		rw = m.cfg.WrapXenStore(tr)
	}
	m.xsRing = tr
	gxs := xenstore.New(rw)
	m.xsChan = ch
	m.closers = append(m.closers, func() { _ = gxs.Close(); _ = ch.Close() })
	return gxs, nil
}

// startBackend starts the netback serving vif 0, unless the config says there is none.
func (m *Machine) startBackend() error {
	if m.cfg.NoBackend {
		return nil
	}
	nb := netback.DefaultConfig()
	if m.cfg.Netback != nil {
		nb = *m.cfg.Netback
	}
	be, err := netback.New(m.Dom0, m.Store, m.cfg.GuestID, 0, nb)
	if err != nil {
		return fmt.Errorf("machine: netback: %w", err)
	}
	m.Backend = be
	return nil
}

// Restore puts the guest through xl save and xl restore, and returns once the guest's platform
// is back, as board/xenpvh.Suspend returns in a new domain: the caller then resumes its
// devices (netfront.Device.Resume), as package unikernel does.
//
// Save: the guest's XenStore connection is quiesced (xenstore.Client.Suspend); the old
// domain's backend vanishes without a word and xenstored forgets the domain. Restore: Xen
// makes the domain new (sim.Xen.Restore: no ports, an empty grant table, fresh shared_info);
// the toolstack introduces it to xenstored again, writes its vif afresh (the old frontend
// and backend directories go, as with the old domain) and a new netback probes it. Then the
// guest: shared_info, event channels, upcall and grant table back (sim.Services.Resume),
// its XenStore channel moved to the new port, and its XenStore connection resumed.
//
// Guest goroutines still running (devices) may fail on the old ports and grants meanwhile,
// as they would on Xen if they ran; quiesce traffic first for a clean test.
func (m *Machine) Restore(ctx context.Context) error {
	gxs := m.Platform.XenStore
	err := gxs.Suspend(ctx)
	// The ring keeps still from here on, as the guest would while it is away: the reader must
	// not find the page the toolstack clears below. Client.Suspend suspends it too, unless
	// WrapXenStore hid it from the client.
	m.xsRing.Suspend()
	if err != nil {
		return fmt.Errorf("machine: save: %w", err)
	}
	if m.Backend != nil {
		_ = m.Backend.Close() // the old backend is torn down with the old domain
		m.Backend = nil
	}
	id := m.cfg.GuestID
	if err := m.Store.Release(id); err != nil {
		return fmt.Errorf("machine: save: %w", err)
	}
	if err := m.Xen.Restore(id); err != nil {
		return fmt.Errorf("machine: restore: %w", err)
	}
	if err := m.Store.Introduce(m.Guest.Domain); err != nil {
		return fmt.Errorf("machine: restore: %w", err)
	}
	front, back := xenstored.VifPaths(id, 0, 0)
	for _, p := range []string{front, back} {
		if err := m.Store.Rm(p); err != nil && !errors.Is(err, xen.ENOENT) {
			return fmt.Errorf("machine: restore: %w", err)
		}
	}
	if err := m.Store.AddVif(id, 0, m.MAC.String(), 0); err != nil {
		return fmt.Errorf("machine: restore: %w", err)
	}
	if err := m.startBackend(); err != nil {
		return err
	}
	if err := m.Guest.Resume(); err != nil {
		return fmt.Errorf("machine: guest resume: %w", err)
	}
	port, err := xen.GetParam(m.Guest.Domain.Hypervisor(), xen.HVM_PARAM_STORE_EVTCHN)
	if err != nil {
		return fmt.Errorf("machine: guest resume: store evtchn: %w", err)
	}
	// As on the board, the ring's indices are taken afresh before its channel is back
	// (Client.Resume takes them again, with nothing written in between), and the ring is used
	// again once the channel is back.
	m.xsRing.Resync()
	if err := m.Guest.Events.Reattach(m.xsChan, xen.Port(port)); err != nil {
		return fmt.Errorf("machine: guest resume: %w", err)
	}
	m.xsRing.Resume()
	if err := gxs.Resume(ctx, true); err != nil {
		return fmt.Errorf("machine: guest resume: %w", err)
	}
	return nil
}

// Close stops the backend, xenstored and the hypervisor, in the reverse order of New. Close the
// guest's devices first.
func (m *Machine) Close() {
	for i := len(m.closers) - 1; i >= 0; i-- {
		m.closers[i]()
	}
	m.closers = nil
}

// Events is the guest's event channel dispatcher.
func (m *Machine) Events() *evtchn.Dispatcher { return m.Guest.Events }
