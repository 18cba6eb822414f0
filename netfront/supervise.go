// The supervisor: it follows the backend and the domain, ends the connection when it must go,
// and connects again.

package netfront

import (
	"context"
	"time"

	"github.com/tamaxen/tamaxen/xen/xenbus"
)

// supervise runs from Open to Close: it waits until the current connection must end
// (awaitEnd), ends it (takeDown), and connects again once the vif is back (reconnect). Each
// step is a function of its own, with one loop at most.
func (d *Device) supervise(ctx context.Context) {
	for {
		d.mu.RLock()
		c := d.c
		d.mu.RUnlock()
		final, ok := d.awaitEnd(ctx, c)
		if !ok {
			return // Close, or the XenStore connection ended
		}
		d.takeDown(ctx, c, final)
		if !d.reconnect(ctx) {
			return
		}
	}
}

// awaitEnd waits until connection c must end, and says how: connClosed when the backend closes
// (or goes), connDropped when c was made in the domain before a suspension. ok is false if ctx
// ended (Close) or the XenStore connection did.
//
// A connection whose event channels went stale (evtchn.Dispatcher.Resume) was made in the
// domain before a suspension: its backend, channels and grants belong to that domain, so it is
// dropped without a word, whichever comes first, Resume or the backend's node changing (on
// Xen the backend watch fires again when XenStore resumes, and finds the old backend gone). A
// connection with no stale channel was made in the new domain, even if it began before the
// suspension or Resume was called after it: it is kept, and awaitEnd waits again, for the
// next Resume too (Resume replaces the channel it closes).
func (d *Device) awaitEnd(ctx context.Context, c *conn) (final connState, ok bool) {
	for {
		err := c.waitClosing(ctx)
		if err != nil && isClosed(c.resumed) && !c.stale() {
			// Resumed, and the connection is the new domain's: keep it, and wait again.
			d.mu.RLock()
			c.resumed = d.resumed
			d.mu.RUnlock()
			continue
		}
		if c.stale() {
			return connDropped, true
		}
		if err != nil {
			return 0, false
		}
		return connClosed, true
	}
}

// waitClosing waits for the backend to tell the frontend to close (nil), or for Resume (which
// closes c.resumed) or the end of ctx (an error).
func (c *conn) waitClosing(ctx context.Context) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resumed := c.resumed
	go func() {
		select {
		case <-resumed:
			cancel()
		case <-wctx.Done():
		}
	}()
	_, err := c.be.WaitFor(wctx, xenbus.ShouldClose)
	return err
}

// takeDown takes connection c from senders, reports the link down and ends c as final says.
func (d *Device) takeDown(ctx context.Context, c *conn, final connState) {
	d.setConn(nil)
	d.link(false)
	if final == connDropped {
		// The backend, the rings' grants and the event channels belonged to the domain
		// before the suspension: nothing to say to anyone, only our side to release.
		_ = c.end(ctx, connDropped)
		return
	}
	if err := c.end(context.WithoutCancel(ctx), connClosed); err != nil && ctx.Err() == nil {
		// Not cut short by Close: the handshake it interrupts is the one it would run
		// itself, with the same bound, and both sides end Closed.
		d.logf("netfront: closing %s: %v", c.dev.Path, err)
	}
}

// reconnect connects again, retrying every second, and reports the link up; false if ctx
// ended (Close). xenbus.Open waits for the toolstack to publish the device again.
//
// A device broken by this backend is mended by the next connection (connect clears the
// violation), as Linux netfront starts each connection clean: a backend that restarts, or the
// new domain's after a resume, may be a sound one.
func (d *Device) reconnect(ctx context.Context) bool {
	for {
		nc, err := d.connect(ctx)
		if ctx.Err() != nil {
			if nc != nil {
				_ = nc.end(context.Background(), connClosed)
			}
			return false
		}
		if err == nil {
			d.setConn(nc)
			d.reconnects.Add(1)
			d.link(true)
			return true
		}
		d.logf("netfront: reconnecting vif %s: %v", d.id, err)
		if !waitRetry(ctx) {
			return false
		}
	}
}

// isClosed reports whether ch is closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// waitRetry pauses between reconnection attempts; false if ctx ended.
func waitRetry(ctx context.Context) bool {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
