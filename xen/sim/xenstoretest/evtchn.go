// A fake event channel pair for connecting the two ends of a shared ring in tests.

package xenstoretest

import (
	"context"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen"
)

// EventChannel is one end of a fake interdomain event channel. Notify on one end makes the
// next Wait on the other return; notifications sent while nobody waits coalesce into one, as
// a real port's pending bit does.
type EventChannel struct {
	port     xen.Port
	peer     *EventChannel
	pending  chan struct{} // capacity 1: the pending bit
	notifies atomic.Uint64
}

var _ xen.EventChannel = (*EventChannel)(nil)

// NewEventChannelPair connects two ends with the given local port numbers.
func NewEventChannelPair(a, b xen.Port) (*EventChannel, *EventChannel) {
	ea := &EventChannel{port: a, pending: make(chan struct{}, 1)}
	eb := &EventChannel{port: b, pending: make(chan struct{}, 1)}
	ea.peer, eb.peer = eb, ea
	return ea, eb
}

// Port is the local port number.
func (e *EventChannel) Port() xen.Port { return e.port }

// Notify sets the peer's pending bit.
func (e *EventChannel) Notify() error {
	e.notifies.Add(1)
	select {
	case e.peer.pending <- struct{}{}:
	default:
	}
	return nil
}

// Wait returns once the peer has notified since the previous Wait, or when ctx ends.
func (e *EventChannel) Wait(ctx context.Context) error {
	select {
	case <-e.pending:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Notifies counts the notifications this end has sent.
func (e *EventChannel) Notifies() uint64 { return e.notifies.Load() }
