// Client: request/reply matching by req_id over one connection, and the reader goroutine.

// Package xenstore is a XenStore client following io/xs_wire.h: the xsd_sockmsg framing, the
// request types, the errors the daemon sends as strings, transactions and watches.
//
// It is portable Go (no TamaGo import) and transport-agnostic: a Client runs over any
// io.ReadWriter, such as a unix socket to xenstored in a test or a dom0 tool, or a
// RingTransport over the xenstore_domain_interface page a guest shares with the daemon.
//
// Many goroutines may issue requests at once: each gets its own req_id and one reader goroutine
// hands replies back by req_id and watch events to the watch that owns the token. Everything the
// daemon sends is validated; a reply that breaks the protocol fails the whole connection with an
// error wrapping xen.ErrBroken instead of being guessed at, because after one bad frame the byte
// stream can no longer be trusted to be in step.
package xenstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/tamaxen/tamaxen/xen"
)

// Client is a connection to a XenStore daemon.
type Client struct {
	t      io.ReadWriter
	closer io.Closer // t as a Closer, or nil; closing it is how Close stops the reader

	wmu sync.Mutex // serialises whole messages on t so frames of concurrent callers never interleave

	mu      sync.Mutex        // guards the fields below
	pending map[uint32]*call  // requests sent and not yet answered, by req_id
	watches map[string]*Watch // registered watches, by token
	nextReq uint32            // next req_id to try
	nextTok uint64            // suffix of the next watch token
	err     error             // why the connection failed or was closed; nil while it works
	closing bool              // Close was called
	gate    chan struct{}     // non-nil between Suspend and Resume: new requests wait for it

	closeOnce  sync.Once     // closes the transport once, on Close or the first failure
	readerDone chan struct{} // closed when the reader goroutine returns
	watchers   sync.WaitGroup
}

// call is one request waiting for its reply.
type call struct {
	op        MsgType
	done      chan result // capacity 1, so the reader never blocks handing a reply over
	abandoned bool        // the caller's ctx ended; the reply is still awaited, then dropped
}

type result struct {
	r   reply
	err error
}

// New starts a client on t and its reader goroutine. If t is also an io.Closer, Close closes it
// and waits for the reader to finish; otherwise the reader ends when t's Read fails.
func New(t io.ReadWriter) *Client {
	c := &Client{
		t:          t,
		pending:    make(map[uint32]*call),
		watches:    make(map[string]*Watch),
		nextReq:    1,
		readerDone: make(chan struct{}),
	}
	c.closer, _ = t.(io.Closer)
	go c.readLoop()
	return c
}

// Close fails every pending request and watch with xen.ErrClosed, closes the transport and
// waits for the goroutines the client started. It is safe to call more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	already := c.closing
	c.closing = true
	c.mu.Unlock()
	if already {
		return nil
	}
	err := c.fail(xen.ErrClosed)
	if c.closer != nil {
		<-c.readerDone
	}
	c.watchers.Wait()
	return err
}

// Err returns why the connection no longer works, or nil while it does.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// fail records the first connection failure and ends everything waiting on the connection. It
// also closes the transport: after a failure nothing more can be framed on it, and closing it is
// what unblocks a writer stuck in Write and the reader. It returns the transport's Close error.
func (c *Client) fail(err error) error {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	err = c.err
	pending, watches := c.pending, c.watches
	c.pending, c.watches = map[uint32]*call{}, map[string]*Watch{}
	if c.gate != nil { // requests waiting for Resume see the failure instead
		close(c.gate)
		c.gate = nil
	}
	c.mu.Unlock()
	for _, p := range pending {
		p.done <- result{err: err}
	}
	for _, w := range watches {
		w.stop(err)
	}
	var cerr error
	c.closeOnce.Do(func() {
		if c.closer != nil {
			cerr = c.closer.Close()
		}
	})
	return cerr
}

// roundTrip sends one request and waits for its reply. parts are the payload pieces with their
// NUL terminators; path is only used for error messages.
func (c *Client) roundTrip(ctx context.Context, op MsgType, txID uint32, path string, parts ...[]byte) (reply, error) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n > XENSTORE_PAYLOAD_MAX {
		return reply{}, refuse(op, path, xen.E2BIG)
	}
	if err := ctx.Err(); err != nil {
		return reply{}, err
	}
	p := &call{op: op, done: make(chan result, 1)}
	c.mu.Lock()
	if err := c.waitGateLocked(ctx); err != nil {
		return reply{}, err
	}
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return reply{}, err
	}
	id := c.allocReqID()
	c.pending[id] = p
	c.mu.Unlock()

	// The write does not give up when ctx ends: abandoning half a frame would leave the daemon
	// reading the next request as the rest of this one. Close unblocks it instead.
	msg := appendMessage(make([]byte, 0, SockmsgSize+n), op, id, txID, parts...)
	c.wmu.Lock()
	_, err := c.t.Write(msg)
	c.wmu.Unlock()
	if err != nil {
		// A short write leaves the daemon holding half a frame: nothing after it can be framed.
		_ = c.fail(connLost(err))
	}

	select {
	case res := <-p.done:
		if res.err != nil {
			return reply{}, res.err
		}
		if res.r.errName != "" {
			return reply{}, &Error{Op: op, Path: path, Name: res.r.errName, Errno: errnoFromName(res.r.errName)}
		}
		return res.r, nil
	case <-ctx.Done():
		c.mu.Lock()
		p.abandoned = true
		c.mu.Unlock()
		return reply{}, ctx.Err()
	}
}

// allocReqID picks a req_id not in use. Called with c.mu held. The pending map is bounded by the
// number of goroutines waiting, so the loop ends long before the u32 space is exhausted.
func (c *Client) allocReqID() uint32 {
	for {
		id := c.nextReq
		c.nextReq++
		if _, busy := c.pending[id]; !busy {
			return id
		}
	}
}

// readLoop reads frames until the transport fails or a frame breaks the protocol.
func (c *Client) readLoop() {
	defer close(c.readerDone)
	var hdr [SockmsgSize]byte
	for {
		if _, err := io.ReadFull(c.t, hdr[:]); err != nil {
			_ = c.fail(connLost(err))
			return
		}
		h, err := DecodeHeader(hdr[:])
		if err != nil {
			_ = c.fail(brokenf("%v", err))
			return
		}
		// A fresh buffer per frame: a READ reply's payload is handed to the caller as is.
		payload := make([]byte, h.Len)
		if _, err := io.ReadFull(c.t, payload); err != nil {
			_ = c.fail(connLost(err))
			return
		}
		if err := c.dispatch(h, payload); err != nil {
			_ = c.fail(err)
			return
		}
	}
}

// dispatch hands one validated frame to its watch or its caller.
func (c *Client) dispatch(h Header, payload []byte) error {
	if h.Type == XS_WATCH_EVENT {
		path, token, err := parseWatchEvent(payload)
		if err != nil {
			return brokenf("%v", err)
		}
		c.mu.Lock()
		w := c.watches[token]
		c.mu.Unlock()
		// An unknown token is not a violation: events may still be in flight after XS_UNWATCH.
		if w != nil {
			w.push(path)
		}
		return nil
	}
	c.mu.Lock()
	p := c.pending[h.ReqID]
	c.mu.Unlock()
	if p == nil {
		return brokenf("%v reply for req_id %d, which is not pending", h.Type, h.ReqID)
	}
	// tx_id is not checked: daemons differ on what they echo there for XS_TRANSACTION_START.
	r, err := decodeReply(p.op, h.Type, payload)
	if err != nil {
		// The call stays pending: fail hands it the connection error with everyone else's,
		// so no caller sees the failure before Err does.
		return brokenf("req_id %d: %v", h.ReqID, err)
	}
	c.mu.Lock()
	if c.pending[h.ReqID] != p {
		// The connection failed meanwhile and fail already answered the call.
		c.mu.Unlock()
		return nil
	}
	delete(c.pending, h.ReqID)
	abandoned := p.abandoned
	c.mu.Unlock()
	if !abandoned {
		p.done <- result{r: r}
	}
	return nil
}

// connLost wraps a transport failure. A transport that already diagnosed a broken peer (the
// ring transport's ErrBroken) keeps that diagnosis; anything else means the connection is gone.
func connLost(err error) error {
	if errors.Is(err, xen.ErrBroken) || errors.Is(err, xen.ErrClosed) {
		return err
	}
	return fmt.Errorf("xenstore: connection lost: %w: %w", xen.ErrClosed, err)
}
