// The frontend handshake: Connect (to InitWait, then Connected) and Close (Closing, Closed).

package xenbus

import (
	"context"
	"errors"
	"fmt"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// ErrBackendClosed is returned by Connect when the backend closes instead of connecting.
var ErrBackendClosed = errors.New("xenbus: backend closed during connect")

// Connect runs the frontend's side of connecting, as netfront does:
//
//  1. the frontend goes (back) to Initialising if it is anywhere else, which is how a device
//     that was closed asks the backend to start over;
//  2. wait for the backend to reach InitWait, ready for the frontend's details (1 and 2 are
//     Prepare, which a driver calls first to read the backend's features);
//  3. publish runs in a transaction together with the switch to Connected, so the backend
//     sees the ring references, event channel and features and the new state at once;
//  4. wait for the backend to reach Connected.
//
// If the backend moves to Closing or Closed after step 3, Connect fails with ErrBackendClosed
// and the driver should Close. be must follow this device's backend (WatchBackend).
func (d *Device) Connect(ctx context.Context, be *StateWatch, publish func(tx *xenstore.Tx) error) error {
	// After a Prepare, reading the device's own state again would cost a round trip to learn
	// what the transaction below checks anyway; a backend that moved on since is still seen.
	if !d.prepared || be.Current() != XenbusStateInitWait {
		if err := d.Prepare(ctx, be); err != nil {
			return err
		}
	}
	d.prepared = false
	err := d.xs.Update(ctx, func(tx *xenstore.Tx) error {
		if err := publish(tx); err != nil {
			return err
		}
		return switchState(ctx, tx, d.Path, XenbusStateConnected)
	})
	if err != nil {
		return err
	}
	s, err := be.Wait(ctx, XenbusStateConnected, XenbusStateClosing, XenbusStateClosed)
	if err != nil {
		return err
	}
	if s != XenbusStateConnected {
		return fmt.Errorf("%w: %s is %v", ErrBackendClosed, be.Path(), s)
	}
	return nil
}

// Prepare runs the first two steps of Connect: the frontend goes (back) to Initialising and
// waits for the backend to reach InitWait. Only then has the backend written what it offers
// (netback_probe writes its features before switching to InitWait), so a driver reads the
// backend's features after Prepare, and calls Connect, which finds both steps done.
//
// A backend that is still Closed from a previous connection moves on to InitWait once it has
// seen Initialising, so Closed is waited through. A backend that starts closing meanwhile (a
// driver domain going away, the toolstack taking the device offline) waits for the frontend
// to close before it does anything else: the frontend closes its side and starts over, and
// fails with ErrBackendClosed if the backend vanishes on the way.
func (d *Device) Prepare(ctx context.Context, be *StateWatch) error {
	for {
		own, err := d.State(ctx)
		if err != nil {
			return fmt.Errorf("xenbus: %s: reading own state: %w", d.Path, err)
		}
		if own != XenbusStateInitialising {
			if err := d.SwitchState(ctx, XenbusStateInitialising); err != nil {
				return err
			}
		}
		s, err := be.Wait(ctx, XenbusStateInitWait, XenbusStateClosing)
		if err != nil {
			return err
		}
		if s == XenbusStateInitWait {
			d.prepared = true
			return nil
		}
		if err := d.Close(ctx, be); err != nil {
			return err
		}
		if be.Current() == XenbusStateUnknown {
			return fmt.Errorf("%w: %s vanished", ErrBackendClosed, be.Path())
		}
	}
}

// Close runs the frontend's side of closing: Closing, wait for the backend to follow, Closed,
// wait for the backend to be Closed. Backends may skip Closing and jump to Closed, may already
// be closing (when the close started on their side), and may vanish (the toolstack removing
// the device), which reads as XenbusStateUnknown; each of these lets Close go on.
func (d *Device) Close(ctx context.Context, be *StateWatch) error {
	if err := d.SwitchState(ctx, XenbusStateClosing); err != nil {
		if errors.Is(err, xen.ENOENT) {
			return nil // the device is gone with its state node; nothing left to close
		}
		return err
	}
	if _, err := be.Wait(ctx, XenbusStateClosing, XenbusStateClosed, XenbusStateUnknown); err != nil {
		return err
	}
	if err := d.SwitchState(ctx, XenbusStateClosed); err != nil {
		if errors.Is(err, xen.ENOENT) {
			return nil
		}
		return err
	}
	_, err := be.Wait(ctx, XenbusStateClosed, XenbusStateUnknown)
	return err
}

// ShouldClose reports whether the backend's state s tells the frontend to close its side: the
// backend is Closing or Closed, or gone (Unknown). It is a predicate for StateWatch.WaitFor.
func ShouldClose(s State) bool {
	return s == XenbusStateClosing || s == XenbusStateClosed || s == XenbusStateUnknown
}
