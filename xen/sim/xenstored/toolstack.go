// The toolstack's writes: a domain's home directory and a vif, laid out as libxl does.

package xenstored

import (
	"fmt"
	"strconv"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// XenbusStateInitialising is the state libxl writes for both ends of a new device.
const xenbusStateInitialising = "1"

// Defaults libxl fills in for a vif that names none (libxl__device_nic_setdefault).
const (
	DefaultBridge = "xenbr0"
	DefaultScript = "/etc/xen/scripts/vif-bridge"
	DefaultMTU    = 1500
)

func perms(owner xen.DomID, a xenstore.Access, more ...xenstore.Perm) []xenstore.Perm {
	return append([]xenstore.Perm{{Dom: owner, Access: a}}, more...)
}

// MakeDomain creates a guest's home as libxl__domain_make does: /local/domain/<id> owned by
// dom0 and readable by the guest (roperm), the read-only subdirectories, and the ones the guest
// owns (rwperm), plus name and domid. The guest can therefore write only below data, drivers,
// feature, attr, error, control/shutdown and the devices given to it.
func (s *Store) MakeDomain(domid xen.DomID, name string) error {
	home := homePath(domid)
	ro := perms(0, xenstore.AccessNone, xenstore.Perm{Dom: domid, Access: xenstore.AccessRead})
	rw := perms(domid, xenstore.AccessNone)
	return s.update(func(v view) error {
		if err := mkdirPerms(v, home, ro); err != nil {
			return err
		}
		for _, d := range []string{"cpu", "memory", "device", "control"} {
			if err := mkdirPerms(v, home+"/"+d, ro); err != nil {
				return err
			}
		}
		for _, d := range []string{"control/shutdown", "control/feature-poweroff", "control/feature-reboot",
			"control/feature-suspend", "control/sysrq", "data", "drivers", "feature", "attr", "error"} {
			if err := mkdirPerms(v, home+"/"+d, rw); err != nil {
				return err
			}
		}
		if err := opWrite(v, 0, home+"/name", []byte(name)); err != nil {
			return err
		}
		return opWrite(v, 0, home+"/domid", []byte(strconv.Itoa(int(domid))))
	})
}

func mkdirPerms(v view, p string, ps []xenstore.Perm) error {
	if err := opWrite(v, 0, p, nil); err != nil {
		return err
	}
	return opSetPerms(v, 0, p, ps)
}

func writePerms(v view, p, value string, ps []xenstore.Perm) error {
	if err := opWrite(v, 0, p, []byte(value)); err != nil {
		return err
	}
	return opSetPerms(v, 0, p, ps)
}

// VifPaths returns the frontend and backend directories of vif devid of domid.
func VifPaths(domid xen.DomID, devid int, backend xen.DomID) (front, back string) {
	return fmt.Sprintf("%s/device/vif/%d", homePath(domid), devid),
		fmt.Sprintf("%s/backend/vif/%d/%d", homePath(backend), domid, devid)
}

// AddVif creates vif devid of domid, served by domain backend, as libxl__device_nic_add and
// libxl__device_generic_add do on Xen 4.17 and 4.20, alike (testdata/vif-layout.txt is the
// reference):
//
//   - the frontend directory owned by the guest, readable by the backend, with backend,
//     backend-id, handle, mac, state and trusted; mtu goes in with read-only permissions
//     (ro_front);
//   - the backend directory owned by the backend domain, readable by the guest, with
//     frontend, frontend-id, online, state, script, mac, bridge, handle and type (no mtu:
//     the real dumps in testdata/vif-xl-4.*-real.txt have none there).
//
// Both directories appear at once (libxl writes them in one transaction).
func (s *Store) AddVif(domid xen.DomID, devid int, mac string, backend xen.DomID) error {
	front, back := VifPaths(domid, devid, backend)
	frontPerms := perms(domid, xenstore.AccessNone, xenstore.Perm{Dom: backend, Access: xenstore.AccessRead})
	backPerms := perms(backend, xenstore.AccessNone, xenstore.Perm{Dom: domid, Access: xenstore.AccessRead})
	handle := strconv.Itoa(devid)
	return s.update(func(v view) error {
		if v.get(homePath(domid)) == nil {
			return fmt.Errorf("xenstored: add vif: dom%d has no home: %w", domid, xen.ENOENT)
		}
		// libxl__device_generic_add: create the directories with their permissions first,
		// so every key below inherits them.
		if err := mkdirPerms(v, back, backPerms); err != nil {
			return err
		}
		if err := mkdirPerms(v, front, frontPerms); err != nil {
			return err
		}
		for _, kv := range [][2]string{
			{"frontend", front}, {"frontend-id", strconv.Itoa(int(domid))},
			{"online", "1"}, {"state", xenbusStateInitialising},
			{"script", DefaultScript}, {"mac", mac},
			{"bridge", DefaultBridge}, {"handle", handle}, {"type", "vif"},
		} {
			if err := writePerms(v, back+"/"+kv[0], kv[1], backPerms); err != nil {
				return err
			}
		}
		for _, kv := range [][2]string{
			{"backend", back}, {"backend-id", strconv.Itoa(int(backend))},
			{"state", xenbusStateInitialising}, {"handle", handle}, {"mac", mac}, {"trusted", "1"},
		} {
			if err := writePerms(v, front+"/"+kv[0], kv[1], frontPerms); err != nil {
				return err
			}
		}
		roFront := perms(backend, xenstore.AccessNone, xenstore.Perm{Dom: domid, Access: xenstore.AccessRead})
		return writePerms(v, front+"/mtu", strconv.Itoa(DefaultMTU), roFront)
	})
}
