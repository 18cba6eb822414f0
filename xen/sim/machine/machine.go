// Package machine assembles a whole simulated Xen host in one process: the hypervisor model,
// dom0 with xenstored and a netback, and one guest domain with a vif, ready for the real
// netfront driver. It is what hosted mode (examples built for Linux) and end-to-end tests
// of the layers above netfront (the network stack) run on.
package machine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/evtchn"
	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/sim"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
	"github.com/tamaxen/tamaxen/xen/sim/xenstored"
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
	// Platform is what netfront.Open needs to drive the vif from the guest.
	Platform netfront.Platform
	// MAC is the vif's MAC address.
	MAC net.HardwareAddr

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
	nb := netback.DefaultConfig()
	if cfg.Netback != nil {
		nb = *cfg.Netback
	}
	m = &Machine{}
	if m.MAC, err = net.ParseMAC(cfg.MAC); err != nil {
		return nil, fmt.Errorf("machine: %w", err)
	}
	defer func() {
		if err != nil {
			m.Close()
			m = nil
		}
	}()
	m.Xen = sim.New(sim.Config{Dom0Pages: 2048})
	m.closers = append(m.closers, m.Xen.Close)
	if m.Dom0, err = m.Xen.Dom0().Boot(gnttab.Config{}); err != nil {
		return m, fmt.Errorf("machine: dom0: %w", err)
	}
	m.closers = append(m.closers, m.Dom0.Grants.Close)
	g, err := m.Xen.NewDomain(cfg.GuestID, sim.DomainConfig{Pages: cfg.GuestPages})
	if err != nil {
		return m, fmt.Errorf("machine: guest: %w", err)
	}
	if m.Guest, err = g.Boot(cfg.GuestGrants); err != nil {
		return m, fmt.Errorf("machine: guest: %w", err)
	}
	m.closers = append(m.closers, m.Guest.Grants.Close)

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

	// The guest's side of XenStore, found as a PVH guest finds it: HVM params.
	pfn, err := getParam(g.Hypervisor(), sim.HVM_PARAM_STORE_PFN)
	if err != nil {
		return m, fmt.Errorf("machine: store pfn: %w", err)
	}
	port, err := getParam(g.Hypervisor(), sim.HVM_PARAM_STORE_EVTCHN)
	if err != nil {
		return m, fmt.Errorf("machine: store evtchn: %w", err)
	}
	ch, err := m.Guest.Events.Attach(xen.Port(port))
	if err != nil {
		return m, fmt.Errorf("machine: %w", err)
	}
	tr, err := xenstore.NewRingTransport(g.Page(xen.Frame(pfn)), ch)
	if err != nil {
		_ = ch.Close()
		return m, fmt.Errorf("machine: %w", err)
	}
	var rw io.ReadWriteCloser = tr
	if cfg.WrapXenStore != nil {
		rw = cfg.WrapXenStore(tr)
	}
	gxs := xenstore.New(rw)
	m.closers = append(m.closers, func() { _ = gxs.Close(); _ = ch.Close() })

	if !cfg.NoBackend {
		if m.Backend, err = netback.New(m.Dom0, m.Store, cfg.GuestID, 0, nb); err != nil {
			return m, fmt.Errorf("machine: netback: %w", err)
		}
		be := m.Backend
		m.closers = append(m.closers, func() { _ = be.Close() })
	}
	m.Platform = netfront.Platform{XenStore: gxs, Grants: m.Guest.Grants, Events: m.Guest.Events, Memory: g.Memory()}
	return m, nil
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

func getParam(hv xen.Hypervisor, idx uint32) (uint64, error) {
	if hv == nil {
		return 0, errors.New("no hypervisor")
	}
	var a [16]byte
	binary.LittleEndian.PutUint16(a[0:], uint16(xen.DOMID_SELF))
	binary.LittleEndian.PutUint32(a[4:], idx)
	err := hv.HVMOp(sim.HVMOP_get_param, a[:])
	return binary.LittleEndian.Uint64(a[8:]), err
}
