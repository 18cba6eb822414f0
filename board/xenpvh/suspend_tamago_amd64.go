// Suspend and resume: the board's steps of xl save / xl restore, put in order by pvh.Suspend.

//go:build tamago && amd64

package xenpvh

import (
	"context"
	"fmt"

	"github.com/tamaxen/tamaxen/hypercall"
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/pvclock"
	"github.com/tamaxen/tamaxen/xen/pvh"
)

// Suspend suspends the domain for the toolstack to save it, and brings the board's side of Xen
// back when it runs again (see pvh.Suspend for the steps and their order). The caller has
// acknowledged the toolstack's "suspend" request (package control) and, after Suspend returns
// newDomain, reconnects its devices (netfront.Device.Resume).
func Suspend(ctx context.Context) (newDomain bool, err error) {
	s := pvh.Services{Events: Events}
	// Only the services the guest connected: a nil pointer in an interface would not be nil.
	if xsClient != nil {
		s.XenStore = &pvh.XenStore{Client: xsClient, Ring: xsRing, Channel: xsChan}
	}
	if gtTable != nil {
		s.Grants = gtTable
	}
	return pvh.Suspend(ctx, &suspender{}, s)
}

// suspender is the board's side of pvh.Suspend.
type suspender struct {
	// before is nanotime when the domain suspended: the clock must not go back from it.
	before int64
}

func (*suspender) FlushConsole() { flushConsole() }

func (s *suspender) SchedSuspend() (cancelled bool, err error) {
	s.before = nanotime()
	cancelled, err = hypercall.Suspend()
	if err != nil {
		return false, fmt.Errorf("xenpvh: SCHEDOP_shutdown(suspend): %w", err)
	}
	return cancelled, nil
}

func (s *suspender) MapSharedInfo() error { return resumeSharedInfo(s.before) }

func (*suspender) SetUpcallVector() error {
	if err := hypercall.SetEvtchnUpcallVector(0, UpcallVector); err != nil {
		return fmt.Errorf("xenpvh: resume: upcall vector: %w", err)
	}
	return nil
}

func (*suspender) AttachConsole() { initConsole() }

func (*suspender) StoreEvtchn() (xen.Port, error) {
	port, err := hypercall.GetParam(xen.HVM_PARAM_STORE_EVTCHN)
	return xen.Port(port), err
}

func (*suspender) Fatal(msg string) { fatal(msg) }

func (*suspender) Logf(format string, args ...any) {
	fmt.Printf("xenpvh: %s\n", fmt.Sprintf(format, args...))
}

// resumeSharedInfo maps shared_info again at the same frame and re-reads the wall clock. Xen's
// system time on the new host (or after its reboot) has no relation to the old one, so the
// offset that nanotime adds is chosen to keep nanotime from going backwards: the Go runtime's
// timers require a monotonic clock.
func resumeSharedInfo(before int64) error {
	p := sharedInfo
	if err := hypercall.AddToPhysmap(xen.XENMAPSPACE_shared_info, 0, sharedInfoFrame); err != nil {
		return fmt.Errorf("xenpvh: resume: mapping shared_info: %w", err)
	}
	sec, nsec := pvclock.Wallclock(p)
	offset := int64(sec)*1e9 + int64(nsec)
	sys := int64(pvclock.SystemTime(p, 0, rdtsc))
	if offset+sys < before {
		offset = before - sys
	}
	wallOffset = offset
	return nil
}
