// Suspend and resume: the guest's half of xl save / xl restore (and of migration).

//go:build tamago && amd64

package xenpvh

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tamaxen/tamaxen/hypercall"
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/pvclock"
)

// Suspend suspends the domain for the toolstack to save it, and brings the board's side of Xen
// back when it runs again. The caller has acknowledged the toolstack's "suspend" request
// (package control) and, after Suspend returns newDomain, reconnects its devices
// (netfront.Device.Resume).
//
// Before: XenStore is quiesced (no request left in flight) and the console drained. Then
// SCHEDOP_shutdown(SHUTDOWN_suspend). When the suspension was cancelled the domain carries on
// as it was. In a new domain (xl restore), as Linux's xen_hvm_post_suspend and friends do:
// shared_info is mapped again (the clock is kept monotonic across the change of host time),
// every event channel port is forgotten and VIRQ_TIMER bound again, the upcall vector is set
// again, the console and XenStore rings (which the toolstack cleared) are taken afresh on the
// ports the toolstack bound, XenStore's watches are registered again, and the grant table's
// frames are mapped again.
func Suspend(ctx context.Context) (newDomain bool, err error) {
	xs := xsClient
	if xs != nil {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := xs.Suspend(qctx)
		cancel()
		if err != nil {
			// Whatever was left unanswered fails with ErrInterrupted on resume; suspend anyway,
			// as the toolstack is waiting.
			fmt.Printf("xenpvh: suspend: %v\n", err)
		}
	}
	flushConsole()
	before := nanotime()
	cancelled, err := hypercall.Suspend()
	if err != nil {
		if xs != nil {
			_ = xs.Resume(ctx, false)
		}
		return false, fmt.Errorf("xenpvh: SCHEDOP_shutdown(suspend): %w", err)
	}
	if cancelled {
		if xs != nil {
			return false, xs.Resume(ctx, false)
		}
		return false, nil
	}
	// A new domain. Nothing below may wait for an event before the dispatcher and the upcall
	// vector are back; nothing else runs meanwhile (one vCPU, no preemption).
	var errs []error
	if err := resumeSharedInfo(before); err != nil {
		// Without shared_info there are no events and no clock: nothing can work.
		fatal(err.Error())
	}
	if err := Events.Resume(); err != nil {
		errs = append(errs, err)
	}
	if err := hypercall.SetEvtchnUpcallVector(0, UpcallVector); err != nil {
		fatal("xenpvh: resume: upcall vector: " + err.Error())
	}
	initConsole()
	fmt.Printf("xenpvh: resumed in a new domain; events and console back, reattaching XenStore\n")
	if xs != nil {
		port, err := hypercall.GetParam(hypercall.HVM_PARAM_STORE_EVTCHN)
		if err == nil && port == 0 {
			err = errors.New("no XenStore event channel")
		}
		if err == nil {
			// The ring first: once the channel is back its reader may run, and it must not
			// find the page the toolstack cleared with the old indices (Client.Resume takes
			// them again, with nothing written in between).
			xsRing.Resync()
			err = Events.Reattach(xsChan, xen.Port(port))
		}
		if err == nil {
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err = xs.Resume(rctx, true)
			cancel()
		}
		if err == nil {
			fmt.Printf("xenpvh: XenStore back on port %d\n", port)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("xenpvh: resume: XenStore: %w", err))
		}
	}
	if gtTable != nil {
		if err := gtTable.Resume(); err != nil {
			errs = append(errs, err)
		}
	}
	return true, errors.Join(errs...)
}

// resumeSharedInfo maps shared_info again at the same frame and re-reads the wall clock. Xen's
// system time on the new host (or after its reboot) has no relation to the old one, so the
// offset that nanotime adds is chosen to keep nanotime from going backwards: the Go runtime's
// timers require a monotonic clock.
func resumeSharedInfo(before int64) error {
	p := sharedInfo
	if err := hypercall.AddToPhysmap(hypercall.XENMAPSPACE_shared_info, 0, sharedInfoFrame); err != nil {
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
