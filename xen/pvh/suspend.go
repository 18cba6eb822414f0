// Suspend and resume in order: the guest's half of xl save / xl restore (and of migration).

package pvh

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/evtchn"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// How long Suspend waits for XenStore: for the replies still due before suspending (the
// toolstack is waiting meanwhile), and for the watches registered again in a new domain.
const (
	quiesceTimeout = 5 * time.Second
	resumeTimeout  = 30 * time.Second
)

// Board is the platform's side of a suspension: the hypercalls and the board's own state, each a
// step that Suspend puts in its place. board/xenpvh implements it on the CPU; the tests record
// the calls.
type Board interface {
	// FlushConsole gives the console's reader a moment to drain the ring.
	FlushConsole()
	// SchedSuspend is SCHEDOP_shutdown(SHUTDOWN_suspend). It returns once the domain runs
	// again; cancelled means the suspension was cancelled and the domain carries on as it was,
	// otherwise the domain is a new one (xl restore).
	SchedSuspend() (cancelled bool, err error)
	// MapSharedInfo maps shared_info again and takes up its clock, kept from going back.
	MapSharedInfo() error
	// SetUpcallVector has Xen raise the board's upcall vector again for pending events.
	SetUpcallVector() error
	// AttachConsole takes the console ring afresh, as the toolstack set it up again.
	AttachConsole()
	// StoreEvtchn returns the port the toolstack bound for XenStore in the new domain
	// (HVM_PARAM_STORE_EVTCHN).
	StoreEvtchn() (xen.Port, error)
	// Fatal ends the domain, and does not return on a real board.
	Fatal(msg string)
	// Logf reports a step on the console.
	Logf(format string, args ...any)
}

// Events are the guest's event channels as a suspension needs them (evtchn.Dispatcher).
type Events interface {
	Resume() error
	Reattach(c *evtchn.Channel, port xen.Port) error
}

// XenStoreClient is the guest's XenStore client as a suspension needs it (xenstore.Client).
type XenStoreClient interface {
	Suspend(ctx context.Context) error
	Resume(ctx context.Context, newDomain bool) error
}

// XenStore is the guest's one XenStore connection: the client, its ring and the event channel
// the ring's reader waits on.
type XenStore struct {
	Client  XenStoreClient
	Ring    xenstore.Resyncer // xenstore.RingTransport
	Channel *evtchn.Channel
}

// Services are the portable services that outlive a suspension. Events is required; XenStore
// and Grants are nil when the guest never connected them.
type Services struct {
	Events   Events
	XenStore *XenStore
	Grants   interface{ Resume() error } // gnttab.Table
}

// Suspend suspends the domain for the toolstack to save it, and brings the guest's side of Xen
// back when it runs again. The caller has acknowledged the toolstack's "suspend" request
// (package control) and, after Suspend returns newDomain, reconnects its devices
// (netfront.Device.Resume): by then XenStore answers and the grant table maps again.
//
// Before: XenStore is quiesced (no request left in flight) and the console drained. Then
// SCHEDOP_shutdown(SHUTDOWN_suspend). When the suspension was cancelled the domain carries on
// as it was. In a new domain (xl restore), as Linux's xen_hvm_post_suspend and friends do:
// shared_info is mapped again, every event channel port is forgotten and the VIRQs bound
// again, the upcall vector is set again, the console and XenStore rings (which the toolstack
// cleared) are taken afresh on the ports the toolstack bound, XenStore's watches are
// registered again, and the grant table's frames are mapped again. Failing to map shared_info
// or to set the upcall vector is fatal; any other failure is returned, after every other step
// ran.
func Suspend(ctx context.Context, b Board, s Services) (newDomain bool, err error) {
	xs := s.XenStore
	if xs != nil {
		qctx, cancel := context.WithTimeout(ctx, quiesceTimeout)
		err := xs.Client.Suspend(qctx)
		cancel()
		if err != nil {
			// Whatever was left unanswered fails with ErrInterrupted on resume; suspend anyway,
			// as the toolstack is waiting.
			b.Logf("suspend: %v", err)
		}
	}
	b.FlushConsole()
	cancelled, err := b.SchedSuspend()
	if err != nil {
		if xs != nil {
			_ = xs.Client.Resume(ctx, false)
		}
		return false, err
	}
	if cancelled {
		if xs != nil {
			return false, xs.Client.Resume(ctx, false)
		}
		return false, nil
	}
	// A new domain. Nothing below may wait for an event before the dispatcher and the upcall
	// vector are back; nothing else runs meanwhile (one vCPU, no preemption).
	var errs []error
	if err := b.MapSharedInfo(); err != nil {
		// Without shared_info there are no events and no clock: nothing can work.
		b.Fatal(err.Error())
		return true, err
	}
	if err := s.Events.Resume(); err != nil {
		errs = append(errs, err)
	}
	if err := b.SetUpcallVector(); err != nil {
		b.Fatal(err.Error())
		return true, err
	}
	b.AttachConsole()
	b.Logf("resumed in a new domain; events and console back, reattaching XenStore")
	if xs != nil {
		if err := resumeXenStore(ctx, b, s.Events, xs); err != nil {
			errs = append(errs, fmt.Errorf("pvh: resume: XenStore: %w", err))
		}
	}
	if s.Grants != nil {
		if err := s.Grants.Resume(); err != nil {
			errs = append(errs, err)
		}
	}
	return true, errors.Join(errs...)
}

// resumeXenStore takes XenStore's ring and channel afresh on the port the toolstack bound for
// the new domain and has the client register its watches again.
func resumeXenStore(ctx context.Context, b Board, ev Events, xs *XenStore) error {
	port, err := b.StoreEvtchn()
	if err != nil {
		return err
	}
	if port == 0 {
		return errors.New("no XenStore event channel")
	}
	// The ring first: once the channel is back its reader may run, and it must not find the
	// page the toolstack cleared with the old indices (Client.Resume takes them again, with
	// nothing written in between).
	xs.Ring.Resync()
	if err := ev.Reattach(xs.Channel, port); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, resumeTimeout)
	err = xs.Client.Resume(rctx, true)
	cancel()
	if err != nil {
		return err
	}
	b.Logf("XenStore back on port %d", port)
	return nil
}
