// The device: discovery, its current connection, Send, Resume and Close (the supervisor that
// reconnects is in supervise.go).

package netfront

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/xenbus"
)

// ErrDisconnected is returned by Send while the backend is away (between a detach and the
// next attach); the device reconnects by itself when the vif comes back.
var ErrDisconnected = errors.New("netfront: backend disconnected")

// Device is a vif. It survives its backend going away and coming back (xl network-detach and
// network-attach, a driver domain restart): each time, it negotiates and connects anew and
// keeps passing frames, with its counters carried over.
type Device struct {
	p   Platform
	cfg Config
	id  string

	mu sync.RWMutex // guards c, the current connection (nil while disconnected)
	c  *conn
	// cur is c for senders, who load it without the lock (setConn writes both).
	cur atomic.Pointer[conn]

	// resumed is closed and replaced by Resume, to wake the supervisor (see supervise).
	resumed chan struct{}

	stats      []*counters           // per queue index, kept across connections
	broken     atomic.Pointer[error] // the current connection's violation; connect clears it
	reconnects atomic.Uint64
	closing    chan struct{}
	closed     atomic.Bool // set just before closing is closed: Err's test without a select
	cancel     context.CancelFunc
	wg         sync.WaitGroup // the supervisor
	once       sync.Once
}

// Open finds the vif (cfg.ID, or the first one), negotiates with its backend and connects.
// The device then passes frames until Close, reconnecting whenever the backend comes back
// after closing. A backend that breaks the protocol leaves the device broken (ErrBroken) until
// the next connection, made once the backend has closed and come back or the domain has
// resumed, which starts clean, with the counters carried over.
func Open(ctx context.Context, p Platform, cfg Config) (*Device, error) {
	if p.XenStore == nil || p.Grants == nil || p.Events == nil || p.Memory == nil {
		return nil, errors.New("netfront: incomplete Platform")
	}
	id := cfg.ID
	if id == "" {
		ids, err := xenbus.Devices(ctx, p.XenStore, "vif")
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, errors.New("netfront: no vif in device/vif")
		}
		id = ids[0]
	}
	d := &Device{p: p, cfg: cfg, id: id, closing: make(chan struct{}), resumed: make(chan struct{})}
	c, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	d.setConn(c)
	sctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.wg.Add(1)
	go func() { defer d.wg.Done(); d.supervise(sctx) }()
	return d, nil
}

// Resume reconnects the device after the domain was suspended and resumed in a new domain (xl
// restore, migration), once the platform has brought event channels, the grant table and
// XenStore back (evtchn.Dispatcher.Resume, gnttab.Table.Resume, xenstore.Client.Resume). The
// old backend is gone: a connection made before the suspension (its event channels are stale)
// is dropped without a closing handshake, its pages are freed and its grants revoked in the
// new, empty table, and the device connects to the backend the toolstack set up for the new
// domain, as after xl network-attach. A connection already made in the new domain is kept.
// Resume returns at once; Send fails with ErrDisconnected until the link is up again
// (Config.Link reports it).
func (d *Device) Resume() {
	d.mu.Lock()
	close(d.resumed)
	d.resumed = make(chan struct{})
	d.mu.Unlock()
}

func (d *Device) link(up bool) {
	if fn := d.cfg.Link; fn != nil {
		fn(up)
	}
}

func (d *Device) logf(format string, args ...any) {
	if fn := d.cfg.Logf; fn != nil {
		fn(format, args...)
	}
}

// setConn makes c the current connection (nil: none).
func (d *Device) setConn(c *conn) {
	d.mu.Lock()
	d.c = c
	d.cur.Store(c)
	d.mu.Unlock()
}

// current returns the current connection, or the reason there is none. It is on every send's
// path: two atomic loads when the device works.
func (d *Device) current() (*conn, error) {
	if err := d.Err(); err != nil {
		return nil, err
	}
	c := d.cur.Load()
	if c == nil {
		return nil, ErrDisconnected
	}
	return c, nil
}

// queueCounters returns the counters of queue i, created on first use and kept across
// connections.
func (d *Device) queueCounters(i int) *counters {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.stats) <= i {
		d.stats = append(d.stats, &counters{})
	}
	return d.stats[i]
}

// MAC returns the vif's MAC address (nil while disconnected).
func (d *Device) MAC() net.HardwareAddr {
	if c, _ := d.current(); c != nil {
		return c.mac
	}
	return nil
}

// MTU returns the largest frame payload (Ethernet header excluded) the device passes.
func (d *Device) MTU() int {
	if c, _ := d.current(); c != nil {
		return c.mtu
	}
	return 0
}

// Features returns what was negotiated with the backend (zero while disconnected).
func (d *Device) Features() Features {
	if c, _ := d.current(); c != nil {
		return c.features
	}
	return Features{}
}

// Path returns the frontend's XenStore directory.
func (d *Device) Path() string { return "device/vif/" + d.id }

// Reconnects returns how many times the device connected again after its backend closed.
func (d *Device) Reconnects() uint64 { return d.reconnects.Load() }

// Stats returns each queue's counters, cumulative over connections.
func (d *Device) Stats() []QueueStats {
	d.mu.RLock()
	defer d.mu.RUnlock()
	s := make([]QueueStats, len(d.stats))
	for i, c := range d.stats {
		s[i] = c.snapshot()
	}
	return s
}

// Send queues a frame on the queue its flow hashes to, waiting for ring space while ctx allows.
// The frame is copied: the caller may reuse it as soon as Send returns. While the backend is
// away it returns ErrDisconnected at once.
func (d *Device) Send(ctx context.Context, frame []byte, m TxMeta) error {
	parts := [1][]byte{frame}
	return d.SendBuffers(ctx, parts[:], m)
}

// SendBuffers is Send for a frame held in several pieces (a network stack's headers and
// payload, say), gathered straight into the ring's pages without an intermediate copy. The
// flow hash reads the headers from parts[0], so it should hold at least the Ethernet, IP and
// transport headers for multi-queue spreading; otherwise the frame goes to queue 0.
func (d *Device) SendBuffers(ctx context.Context, parts [][]byte, m TxMeta) error {
	frames := [1]TxFrame{{Parts: parts, Meta: m}}
	_, err := d.SendBatch(ctx, frames[:])
	return err
}

// SendBatch is SendBuffers for several frames, queued in order (per queue: frames of
// different flows may go to different queues). The frames that fit are published together,
// with one push of the ring and at most one notification of the backend per queue, where
// sending them one by one costs a push and possibly a notification each: a network stack
// handing over a burst (gVisor's WritePackets) should use it. It returns how many frames were
// queued; on an error, the frames from there on were not.
func (d *Device) SendBatch(ctx context.Context, frames []TxFrame) (int, error) {
	c, err := d.current()
	if err != nil {
		return 0, err
	}
	sent := 0
	for sent < len(frames) {
		// The run of frames from sent on that go to the same queue.
		q, end := c.queueFor(frames[sent].Parts), sent+1
		for len(c.queues) > 1 && end < len(frames) && c.queueFor(frames[end].Parts) == q {
			end++
		}
		if len(c.queues) == 1 {
			end = len(frames)
		}
		n, err := q.tx.send(ctx, frames[sent:end])
		sent += n
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// queueFor is the queue a frame's flow hashes to (parts[0] holds its headers).
func (c *conn) queueFor(parts [][]byte) *queue {
	if len(c.queues) > 1 && len(parts) > 0 {
		return c.queues[netif.FlowHash(parts[0])%uint32(len(c.queues))]
	}
	return c.queues[0]
}

// violation records a backend protocol violation: the device is broken until its next
// connection.
func (d *Device) violation(q *queue, format string, args ...any) error {
	q.stats.violations.Add(1)
	err := fmt.Errorf("%w: netfront queue %d: %s", ErrBroken, q.index, fmt.Sprintf(format, args...))
	d.broken.CompareAndSwap(nil, &err)
	return err
}

// Err reports why the device no longer works at all, or nil: it broke (ErrBroken, with the
// violation; until the next connection) or was closed (ErrClosed).
func (d *Device) Err() error {
	if p := d.broken.Load(); p != nil {
		return *p
	}
	if d.closed.Load() {
		return ErrClosed
	}
	return nil
}

// downErr is what a sender blocked on a connection that went away gets.
func (d *Device) downErr() error {
	if err := d.Err(); err != nil {
		return err
	}
	return ErrDisconnected
}

// Close disconnects from the backend, stops the device's goroutines, ends access to every page
// granted and frees them. A page the backend still maps is freed, and its grant reference with
// it, once the backend unmaps it (gnttab.Table.EndAccessDeferred); never before.
func (d *Device) Close() error {
	var err error
	d.once.Do(func() {
		d.closed.Store(true)
		close(d.closing)
		d.cancel()
		d.wg.Wait()
		d.mu.Lock()
		c := d.c
		d.c = nil
		d.cur.Store(nil)
		d.mu.Unlock()
		if c != nil {
			err = c.end(context.Background(), connClosed)
		}
	})
	return err
}
