// The guest's one XenStore connection and one grant table, shared by every driver.

//go:build tamago && amd64

package xenpvh

import (
	"fmt"
	"sync"

	"github.com/tamaxen/tamaxen/hypercall"
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/evtchn"
	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

var (
	xsOnce   sync.Once
	xsClient *xenstore.Client
	xsChan   *evtchn.Channel
	xsRing   *xenstore.RingTransport
	xsErr    error

	gtOnce  sync.Once
	gtTable *gnttab.Table
	gtErr   error
)

// XenStore returns the guest's XenStore client, connecting on first use through the ring page
// and event channel named by the HVM params STORE_PFN and STORE_EVTCHN. There is one ring per
// guest, so every caller shares this client (it multiplexes requests).
func XenStore() (*xenstore.Client, error) {
	xsOnce.Do(func() { xsClient, xsErr = connectXenStore() })
	return xsClient, xsErr
}

func connectXenStore() (*xenstore.Client, error) {
	pfn, err := hypercall.GetParam(xen.HVM_PARAM_STORE_PFN)
	if err != nil {
		return nil, fmt.Errorf("xenpvh: HVM_PARAM_STORE_PFN: %w", err)
	}
	port, err := hypercall.GetParam(xen.HVM_PARAM_STORE_EVTCHN)
	if err != nil {
		return nil, fmt.Errorf("xenpvh: HVM_PARAM_STORE_EVTCHN: %w", err)
	}
	if pfn == 0 || port == 0 {
		return nil, fmt.Errorf("xenpvh: no XenStore ring (pfn %#x, port %d)", pfn, port)
	}
	ch, err := Events.Attach(xen.Port(port))
	if err != nil {
		return nil, err
	}
	xsChan = ch
	t, err := xenstore.NewRingTransport(physPage(xen.Frame(pfn).Addr()), ch)
	if err != nil {
		return nil, err
	}
	xsRing = t
	return xenstore.New(t), nil
}

// GrantTable returns the guest's grant table, set up on first use; its frames come from Memory.
func GrantTable() (*gnttab.Table, error) {
	gtOnce.Do(func() { gtTable, gtErr = gnttab.New(hypercall.Xen{}, Memory, gnttab.Config{}) })
	return gtTable, gtErr
}
