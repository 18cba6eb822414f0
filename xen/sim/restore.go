// Restore: a domain carrying on in a new domain after xl save / xl restore (or a migration).

package sim

import (
	"fmt"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

// Restore makes domain id carry on as the new domain that xl restore builds from its saved
// memory: its RAM (and so everything its own code keeps there) is as it was, and everything
// Xen held for the old domain is gone, as the guest finds after SCHEDOP_shutdown(suspend)
// returns in a new domain.
//
//   - Every port is closed; an interdomain peer falls back to unbound, as when Xen destroys the
//     old domain. The domain's old port numbers name nothing, or later something else.
//   - shared_info is a fresh page of Xen's (nothing pending, nothing masked) until the guest
//     maps it again with XENMAPSPACE_shared_info.
//   - The grant table is a new one: one frame of Xen's, every entry free but the reserved refs
//     the domain builder seeds again, until the guest maps its frames again.
//   - No upcall runs until the guest sets its handler again (SetUpcall, as the guest sets its
//     upcall vector again); an upcall running when Restore is called is waited for.
//   - The domain builder's part: the console and XenStore pages are cleared, granted to the
//     backend domain through the reserved refs, and bound to new unbound ports named by the
//     HVM parameters. Introducing the domain to XenStore again is the xenstored model's job.
//
// The domain keeps its id (xl restore gives it a new one; nothing here depends on it).
// Restore fails with xen.EBUSY while another domain maps one of its grants: on Xen the old
// domain would linger until its backends let go, and the caller models their going (netback
// Close, xenstored Release) first.
func (x *Xen) Restore(id xen.DomID) error {
	d := x.Domain(id)
	if d == nil || id == 0 {
		return fmt.Errorf("sim: restore dom%d: %w", id, xen.ESRCH)
	}
	handler := d.upcall.Swap(nil)
	d.inUpcall.Lock() // wait for an upcall already running
	d.inUpcall.Unlock()

	x.mu.Lock()
	defer x.mu.Unlock()
	for ref, act := range d.gt.active {
		if act.readers > 0 {
			d.upcall.Store(handler)
			d.raiseLocked()
			return fmt.Errorf("sim: restore dom%d: ref %d still mapped by dom%d: %w", id, ref, act.grantee, xen.EBUSY)
		}
	}
	for p := range d.ports {
		if d.ports[p].state != portFree {
			_ = d.closeLocked(xen.Port(p))
		}
	}
	d.sharedInfo = shmem.Pages(1)
	d.gt.frames = [][]byte{shmem.Pages(1)}
	d.gt.active = make(map[xen.GrantRef]*activeEntry)
	clear(d.Page(xen.Frame(d.Pages() - 2)))
	clear(d.Page(xen.Frame(d.Pages() - 1)))
	return d.buildMagicLocked()
}
