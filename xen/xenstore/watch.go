// Watches: XS_WATCH/XS_UNWATCH and delivery of XS_WATCH_EVENT to a channel per watch.

package xenstore

import (
	"context"
	"strconv"
	"sync"
)

// maxQueuedEvents bounds the events a watch holds for a consumer that does not keep up. The
// daemon decides how many events arrive, so the queue must not grow with them.
const maxQueuedEvents = 256

// WatchEvent reports that the node at Path, or something below it, changed. Path is in the form
// the watch was registered with: relative paths for a relative watch.
type WatchEvent struct {
	Path  string
	Token string
}

// Watch is a registered watch. Its events arrive on Events, starting with the one the daemon
// fires as soon as the watch is registered, so a consumer can read the state it watches on the
// first event without racing with a change made in between.
//
// Events are hints to re-read, not a log: an event for a path already queued is dropped, and
// if maxQueuedEvents pile up they are replaced by one event for the watch's own path, which
// tells the consumer to re-read everything it watches.
type Watch struct {
	c      *Client
	path   string
	token  string
	events chan WatchEvent
	kick   chan struct{} // capacity 1: the reader queued something
	quit   chan struct{} // closed when the watch ends
	done   chan struct{} // closed when the delivery goroutine returned

	mu      sync.Mutex // guards the fields below
	queue   []string   // paths not yet delivered, oldest first
	queued  map[string]bool
	stopped bool
	err     error
}

// Path is the path the watch was registered on.
func (w *Watch) Path() string { return w.path }

// Token is the token that tells this watch's events from others'; unique within the client.
func (w *Watch) Token() string { return w.token }

// Events delivers the watch's events. It is closed when the watch ends (Unwatch, or the
// connection failed or was closed; Err says which).
func (w *Watch) Events() <-chan WatchEvent { return w.events }

// Err is nil while the watch is registered and after Unwatch; otherwise it is the connection
// error that ended it.
func (w *Watch) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Watch registers a watch on path and everything below it (XS_WATCH). Paths starting with '@'
// name the daemon's special events, such as "@releaseDomain". If ctx ends before the daemon
// answers, the daemon may still register the watch; its events are then dropped as unknown.
func (c *Client) Watch(ctx context.Context, path string) (*Watch, error) {
	if err := checkPath(XS_WATCH, path); err != nil {
		return nil, err
	}
	w := &Watch{
		c:      c,
		path:   path,
		events: make(chan WatchEvent),
		kick:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		queued: make(map[string]bool),
	}
	// Register the token before the request goes out: the daemon fires the first event right
	// after its reply, and the reader must already know where it belongs.
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	c.nextTok++
	w.token = "tamaxen:" + strconv.FormatUint(c.nextTok, 10)
	c.watches[w.token] = w
	c.watchers.Add(1)
	c.mu.Unlock()
	go w.run()

	if _, err := c.roundTrip(ctx, XS_WATCH, 0, path, cstr(path), cstr(w.token)); err != nil {
		c.forget(w, nil)
		return nil, err
	}
	return w, nil
}

// Unwatch removes the watch (XS_UNWATCH) and closes its Events channel. The watch is removed
// locally even if the request fails, so its events stop either way.
func (c *Client) Unwatch(ctx context.Context, w *Watch) error {
	c.mu.Lock()
	registered := c.watches[w.token] == w
	c.mu.Unlock()
	if !registered {
		return nil
	}
	_, err := c.roundTrip(ctx, XS_UNWATCH, 0, w.path, cstr(w.path), cstr(w.token))
	c.forget(w, nil)
	return err
}

// forget unregisters w and stops its delivery.
func (c *Client) forget(w *Watch, err error) {
	c.mu.Lock()
	if c.watches[w.token] == w {
		delete(c.watches, w.token)
	}
	c.mu.Unlock()
	w.stop(err)
	<-w.done
}

// stop ends delivery; err is what Err reports afterwards.
func (w *Watch) stop(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	w.stopped, w.err = true, err
	w.queue, w.queued = nil, nil
	close(w.quit)
}

// push queues an event; called by the reader goroutine, so it never blocks on the consumer.
func (w *Watch) push(path string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped || w.queued[path] {
		return
	}
	if len(w.queue) >= maxQueuedEvents {
		clear(w.queued)
		w.queue = w.queue[:0]
		path = w.path
	}
	w.queue = append(w.queue, path)
	w.queued[path] = true
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// run moves queued events to the consumer until the watch stops.
func (w *Watch) run() {
	defer w.c.watchers.Done()
	defer close(w.done)
	defer close(w.events)
	for {
		w.mu.Lock()
		if w.stopped {
			w.mu.Unlock()
			return
		}
		if len(w.queue) == 0 {
			w.mu.Unlock()
			select {
			case <-w.kick:
				continue
			case <-w.quit:
				return
			}
		}
		path := w.queue[0]
		w.queue = w.queue[1:]
		delete(w.queued, path)
		if len(w.queue) == 0 {
			w.queue = w.queue[:0:0] // release the backing array instead of creeping through it
		}
		w.mu.Unlock()
		select {
		case w.events <- WatchEvent{Path: path, Token: w.token}:
		case <-w.quit:
			return
		}
	}
}
