// Suspend and Resume: quiescing the connection around the domain's suspension (xl save).

package xenstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tamaxen/tamaxen/xen"
)

// ErrInterrupted is what a request still waiting for its reply when the domain resumed in a new
// domain gets: the daemon that would have answered is gone. It wraps xen.EAGAIN, so Update
// runs its transaction again.
var ErrInterrupted = fmt.Errorf("xenstore: request interrupted by the domain's suspension: %w", xen.EAGAIN)

// Resyncer is a transport whose state must be taken afresh after the domain resumed in a new
// domain (RingTransport).
type Resyncer interface{ Resync() }

// Suspender is a transport that must keep off the domain's shared memory while the domain is
// suspended (RingTransport): the toolstack may clear its page meanwhile.
type Suspender interface {
	Suspend()
	Resume()
}

// Suspend quiesces the connection before the domain suspends, as Linux's xs_suspend does: new
// requests wait until Resume, and Suspend waits until every request already sent has its reply,
// or ctx ends (then it reports how many are left; Resume(ctx, true) fails them). Watches stay
// registered. Either way the transport, if it is a Suspender, is suspended on return: nothing
// touches the ring until Resume, so the reader never takes the page the toolstack clears for a
// daemon breaking the protocol (Linux's xs_suspend holds the response mutex for that reason).
func (c *Client) Suspend(ctx context.Context) error {
	c.mu.Lock()
	if c.gate == nil {
		c.gate = make(chan struct{})
	}
	c.mu.Unlock()
	err := c.awaitReplies(ctx)
	if s, ok := c.t.(Suspender); ok {
		s.Suspend()
	}
	return err
}

// awaitReplies waits until no request is left unanswered, the connection fails or ctx ends.
func (c *Client) awaitReplies(ctx context.Context) error {
	for {
		c.mu.Lock()
		n, err := len(c.pending), c.err
		c.mu.Unlock()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("xenstore: suspend with %d requests unanswered: %w", n, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// Resume reopens the connection after Suspend. With newDomain false (the suspension was
// cancelled and the domain carries on) it only lets requests through again. With newDomain
// true (xl restore, migration) the daemon on the other side knows nothing of this connection:
// Resume takes the transport's indices afresh, fails the requests left unanswered with
// ErrInterrupted, lets requests through and registers every watch again. The daemon fires each
// watch once on registration, so watchers look at their nodes again. Either way a Suspender
// transport is resumed first.
func (c *Client) Resume(ctx context.Context, newDomain bool) error {
	var lost map[uint32]*call
	c.mu.Lock()
	if newDomain {
		if r, ok := c.t.(Resyncer); ok {
			r.Resync()
		}
		lost = c.pending
		c.pending = make(map[uint32]*call)
	}
	if s, ok := c.t.(Suspender); ok {
		s.Resume()
	}
	if c.gate != nil {
		close(c.gate)
		c.gate = nil
	}
	var watches []*Watch
	if newDomain {
		for _, w := range c.watches {
			watches = append(watches, w)
		}
	}
	c.mu.Unlock()
	for _, p := range lost {
		p.done <- result{err: ErrInterrupted}
	}
	var errs []error
	for _, w := range watches {
		if _, err := c.roundTrip(ctx, XS_WATCH, 0, w.path, cstr(w.path), cstr(w.token)); err != nil {
			errs = append(errs, fmt.Errorf("xenstore: watching %s again: %w", w.path, err))
		}
	}
	return errors.Join(errs...)
}

// waitGate blocks while the connection is suspended. Called with c.mu held; returns with it
// held, or unlocked with an error if ctx ended.
func (c *Client) waitGateLocked(ctx context.Context) error {
	for c.gate != nil {
		g := c.gate
		c.mu.Unlock()
		select {
		case <-g:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.mu.Lock()
	}
	return nil
}
