// StateWatch: the backend's state as the driver sees it, updated from a XenStore watch.

package xenbus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// StateWatch follows a state node, normally the backend's. It keeps the latest state read and
// lets a driver wait for a state or for any change. XenStore watches report that a node
// changed, not each value it took, so a quick Closing-then-Closed may be seen as just Closed;
// the waits are written for that.
type StateWatch struct {
	path   string
	xs     *xenstore.Client
	w      *xenstore.Watch
	cancel context.CancelFunc
	done   chan struct{} // closed when the follow goroutine returned

	mu      sync.Mutex    // guards the fields below
	cur     State         // latest state read
	bad     error         // why the latest value read as XenbusStateUnknown, if it did
	changed chan struct{} // closed and replaced whenever cur changes or the watch ends
	ended   error         // why the watch ended, once it has
}

// WatchBackend starts following the backend's state node. The state is read once before it
// returns, so Current is meaningful at once.
func (d *Device) WatchBackend(ctx context.Context) (*StateWatch, error) {
	return watchState(ctx, d.xs, d.Backend+"/state")
}

func watchState(ctx context.Context, xs *xenstore.Client, path string) (*StateWatch, error) {
	sw := newStateWatch(path)
	sw.xs = xs
	w, err := xs.Watch(ctx, path)
	if err != nil {
		return nil, err
	}
	sw.w = w
	sw.observe(xs.Read(ctx, path))
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	sw.cancel = cancel
	sw.done = make(chan struct{})
	go sw.follow(fctx)
	return sw, nil
}

func newStateWatch(path string) *StateWatch {
	return &StateWatch{path: path, changed: make(chan struct{})}
}

// follow re-reads the node on every watch event until the watch ends.
func (sw *StateWatch) follow(ctx context.Context) {
	defer close(sw.done)
	for range sw.w.Events() {
		v, err := sw.xs.Read(ctx, sw.path)
		if ctx.Err() != nil {
			break
		}
		sw.observe(v, err)
	}
	err := sw.w.Err()
	if err == nil {
		err = xen.ErrClosed // Close unwatched it
	}
	sw.mu.Lock()
	sw.ended = fmt.Errorf("xenbus: watch on %s ended: %w", sw.path, err)
	sw.broadcast()
	sw.mu.Unlock()
}

// observe records the result of reading the node. A missing node or a value that is not a
// state reads as XenbusStateUnknown: a backend that vanished or writes garbage is not in any
// state a driver can act on. A read that failed otherwise (the connection) changes nothing;
// the watch ending reports it.
func (sw *StateWatch) observe(v []byte, err error) {
	s := XenbusStateUnknown
	var bad error
	switch {
	case err == nil:
		s, bad = ParseState(v)
	case errors.Is(err, xen.ENOENT):
		bad = fmt.Errorf("xenbus: %s is gone: %w", sw.path, err)
	default:
		var xe *xenstore.Error
		if !errors.As(err, &xe) {
			return
		}
		bad = err // refused by the daemon, e.g. EACCES: no state we can see
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.bad = bad
	if s != sw.cur {
		sw.cur = s
		sw.broadcast()
	}
}

// broadcast wakes every waiter; called with sw.mu held.
func (sw *StateWatch) broadcast() {
	close(sw.changed)
	sw.changed = make(chan struct{})
}

// Path is the node watched.
func (sw *StateWatch) Path() string { return sw.path }

// Current returns the latest state read.
func (sw *StateWatch) Current() State {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.cur
}

// Err explains the current XenbusStateUnknown (node missing, unreadable or garbage), or why
// the watch ended; nil otherwise.
func (sw *StateWatch) Err() error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.ended != nil {
		return sw.ended
	}
	return sw.bad
}

// WaitFor blocks until accept(state) is true for the latest state read, which may be the
// current one, and returns that state. It fails when ctx ends or the watch ends.
func (sw *StateWatch) WaitFor(ctx context.Context, accept func(State) bool) (State, error) {
	for {
		sw.mu.Lock()
		cur, changed, ended := sw.cur, sw.changed, sw.ended
		sw.mu.Unlock()
		if accept(cur) {
			return cur, nil
		}
		if ended != nil {
			return cur, ended
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return cur, fmt.Errorf("xenbus: %s still %v: %w", sw.path, cur, ctx.Err())
		}
	}
}

// Wait blocks until the state is one of states, and returns it.
func (sw *StateWatch) Wait(ctx context.Context, states ...State) (State, error) {
	return sw.WaitFor(ctx, func(s State) bool { return slices.Contains(states, s) })
}

// WaitChange blocks until the state differs from from, and returns it: the way to follow every
// transition a driver can observe.
func (sw *StateWatch) WaitChange(ctx context.Context, from State) (State, error) {
	return sw.WaitFor(ctx, func(s State) bool { return s != from })
}

// Close stops following the node and waits for the goroutine WatchBackend started.
func (sw *StateWatch) Close() error {
	sw.cancel()
	err := sw.xs.Unwatch(context.Background(), sw.w)
	<-sw.done
	return err
}
