// Platform: what a frontend driver needs from the guest it runs in.

package xenbus

import (
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/evtchn"
	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// Platform is what a PV frontend driver needs from its guest to serve a XenBus device: the
// XenStore connection it finds the device and the backend through, the grant table and the
// event channel dispatcher it shares its rings with, and memory for the pages it grants. On a
// PVH guest the board's services fill it; in hosted mode and tests the simulated machine
// (xen/sim/machine) does. Drivers (netfront.Open) take it as it is and never know which.
type Platform struct {
	XenStore *xenstore.Client
	Grants   *gnttab.Table
	Events   *evtchn.Dispatcher
	Memory   xen.Memory
}
