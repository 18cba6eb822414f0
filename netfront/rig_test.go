// The one rig of netfront's tests: a guest's vif on the simulated Xen host of xen/sim/machine
// (the hypervisor, dom0 with xenstored and the netback model, the guest), all in one process.
//
// Tests reach the driver on it at two depths. Most open a Device (open, openWatched) and let
// netback serve it, disturbing the host through the rig's knobs (rigOpts) and through its tap
// on the guest's XenStore requests. Ring-level tests, the driver benchmarks and the fuzz
// targets take one queue instead (handQueue), built by connect's own pieces from the guest's
// memory and grant table, and play its backend by hand: the backend's side of both rings is
// the test's, to write any response a backend could.

package netfront

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/ring"
	"github.com/tamaxen/tamaxen/xen/sim"
	"github.com/tamaxen/tamaxen/xen/sim/machine"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
	"github.com/tamaxen/tamaxen/xen/sim/xenstored"
	"github.com/tamaxen/tamaxen/xen/xenbus"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

const guestID = 7

const (
	hangDeadline = 60 * time.Second
	tick         = time.Millisecond
)

// rigOpts are the host's knobs; the zero value is a guest whose vif a default netback serves.
type rigOpts struct {
	grants    gnttab.Config   // the guest's grant table
	noBackend bool            // the toolstack adds the vif but no netback ever serves it
	backend   *netback.Config // nil: netback.DefaultConfig()
}

// rig is the simulated host, and the queue a test plays the backend of, if any (handQueue).
type rig struct {
	m     *machine.Machine
	x     *sim.Xen
	dom0  *sim.Services
	guest *sim.Services
	xs    *xenstored.Store
	gxs   *xenstore.Client
	be    *netback.Backend
	plat  Platform
	tap   *xsTap // between the guest's XenStore client and its ring
	// usedRefs is the number of grant refs in use before any device was opened.
	usedRefs int

	// The queue of handQueue: its device, the rings' pages and the backend's side of them,
	// and the frames the device received (if keep).
	t       testing.TB
	d       *Device
	q       *queue
	txPage  []byte
	rxPage  []byte
	txBack  *ring.Back
	rxBack  *ring.Back
	frames  [][]byte
	metas   []RxMeta
	keep    bool // record received frames (off for allocation and fuzz runs)
	slotBuf [][]byte
}

func hangCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newRig boots the simulated host, the guest's XenStore behind a tap. Cleanups run in
// reverse: the caller's device first, then the host.
func newRig(t testing.TB, o rigOpts) *rig {
	tap := &xsTap{}
	m, err := machine.New(machine.Config{
		GuestID: guestID, GuestPages: 1600, MAC: "00:16:3e:5a:11:01",
		Netback: o.backend, NoBackend: o.noBackend, GuestGrants: o.grants,
		WrapXenStore: func(rw io.ReadWriteCloser) io.ReadWriteCloser {
			tap.rw = rw
			return tap
		},
	})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	r := &rig{m: m, x: m.Xen, dom0: m.Dom0, guest: m.Guest, xs: m.Store, gxs: m.Platform.XenStore,
		be: m.Backend, plat: m.Platform, tap: tap}
	r.usedRefs = r.refsInUse()
	return r
}

// open opens the device; Close is registered as a cleanup (a second Close is harmless).
func (r *rig) open(t testing.TB, cfg Config) *Device {
	dev, err := Open(hangCtx(t), r.plat, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = dev.Close() })
	return dev
}

// echo makes the backend a loopback: every frame the guest sends comes back to it.
func (r *rig) echo() {
	be := r.be
	be.SetDeliver(func(f netback.Frame) { _ = be.Inject(f) })
}

// frontPath and backPath are the vif's directories, absolute.
func frontPath() string { f, _ := xenstored.VifPaths(guestID, 0, 0); return f }
func backPath() string  { _, b := xenstored.VifPaths(guestID, 0, 0); return b }

// baseline records what a test must find again at the end: goroutines and grants.
type baseline struct {
	goroutines int
	grants     int
}

// The daemon's goroutines for the guest's connection start as it first talks, so one round
// trip comes first, then the count must hold still for a few samples.
func (r *rig) baseline(t *testing.T) baseline {
	_, err := r.gxs.Read(context.Background(), "domid")
	require.NoError(t, err)
	n := runtime.NumGoroutine()
	for same := 0; same < 3; {
		time.Sleep(5 * time.Millisecond)
		if m := runtime.NumGoroutine(); m == n {
			same++
		} else {
			n, same = m, 0
		}
	}
	return baseline{goroutines: n, grants: r.guest.Grants.InUse()}
}

// checkBaseline is checkClean against a baseline, with Grants.InUse as the grant figure.
func (r *rig) checkBaseline(t *testing.T, b baseline) {
	t.Helper()
	require.Equal(t, b.grants, r.guest.Grants.InUse(), "grant references leaked")
	r.checkClean(t, b.goroutines)
}

// checkClean checks what Close must leave behind: every grant ended and its ref free, and the
// device's goroutines gone.
func (r *rig) checkClean(t *testing.T, goroutines int) {
	t.Helper()
	require.Equal(t, r.usedRefs, r.refsInUse(), "grant refs not returned")
	// Eventually runs the condition on a goroutine of its own: one more than before. The
	// deadline only catches a leak; a loaded host may take seconds to run the last exits.
	ok := assert.Eventually(t, func() bool { return runtime.NumGoroutine() <= goroutines+1 },
		hangDeadline, 5*time.Millisecond, "goroutines left behind")
	if !ok {
		t.Logf("goroutines: %d, before: %d", runtime.NumGoroutine(), goroutines)
		buf := make([]byte, 1<<20)
		t.Logf("%s", buf[:runtime.Stack(buf, true)])
	}
}

// refsInUse is the guest's grant refs not free (the table grows, so Free alone cannot tell).
func (r *rig) refsInUse() int {
	mapped, _ := r.guest.Grants.Frames()
	return int(mapped)*xen.PageSize/8 - r.guest.Grants.Free()
}

// xsTap sits between the guest's XenStore client and its ring, and calls hook with each
// request before it goes out. The client writes one whole message per Write.
type xsTap struct {
	rw io.ReadWriteCloser

	mu   sync.Mutex
	hook func(h xenstore.Header, payload []byte)
	n    int // requests seen
}

func (x *xsTap) Read(p []byte) (int, error) { return x.rw.Read(p) }
func (x *xsTap) Close() error               { return x.rw.Close() }

func (x *xsTap) Write(p []byte) (int, error) {
	if h, err := xenstore.DecodeHeader(p); err == nil && len(p) >= xenstore.SockmsgSize {
		x.mu.Lock()
		x.n++
		hook := x.hook
		x.mu.Unlock()
		if hook != nil {
			hook(h, p[xenstore.SockmsgSize:])
		}
	}
	return x.rw.Write(p)
}

// setHook installs fn (nil removes it).
func (x *xsTap) setHook(fn func(h xenstore.Header, payload []byte)) {
	x.mu.Lock()
	x.hook = fn
	x.mu.Unlock()
}

// requests is the number of requests the guest sent so far.
func (x *xsTap) requests() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.n
}

// reqPath is the path a request names (its first string), or "".
func reqPath(payload []byte) string {
	if i := bytes.IndexByte(payload, 0); i >= 0 {
		return string(payload[:i])
	}
	return ""
}

// watchedDev is a two-queue device whose link changes, received frames and log lines the test
// follows.
type watchedDev struct {
	*Device
	links    chan bool
	received atomic.Int64

	mu    sync.Mutex
	lines []string
}

// openWatched opens a watchedDev on r.
func (r *rig) openWatched(t *testing.T) *watchedDev {
	w := &watchedDev{links: make(chan bool, 16)}
	w.Device = r.open(t, Config{Queues: 2, Link: func(up bool) { w.links <- up }, Logf: w.logf,
		Receive: func([]byte, RxMeta) { w.received.Add(1) }})
	return w
}

func (w *watchedDev) logf(format string, args ...any) {
	w.mu.Lock()
	w.lines = append(w.lines, fmt.Sprintf(format, args...))
	w.mu.Unlock()
}

// logs returns what the device logged so far.
func (w *watchedDev) logs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.lines)
}

// newQueueRig is a host with no backend and one queue whose backend the test plays.
func newQueueRig(t testing.TB, f Features, nrx, ntx int) *rig {
	return newRig(t, rigOpts{noBackend: true}).handQueue(t, f, nrx, ntx, 0)
}

// handQueue makes the test the backend of one queue, on a host with no netback (one rig may
// give several in turn, as a fuzz target does): a connection of one queue with features f,
// whose rings and nrx RX and ntx TX buffers are granted from the guest's memory as connect
// grants them, both rings starting at index start (so that a test crosses the u32 wrap), and
// its RX buffers posted. Its event channels are fakes the test drives, and no goroutine runs:
// the test polls and reclaims itself. The pages go back at cleanup.
func (r *rig) handQueue(t testing.TB, f Features, nrx, ntx int, start uint32) *rig {
	d := &Device{p: r.plat, closing: make(chan struct{}), resumed: make(chan struct{})}
	c := &conn{d: d, dev: &xenbus.Device{}, features: f, done: make(chan struct{}),
		pool: newPagePool(r.plat.Memory, r.plat.Grants, 0)}
	t.Cleanup(c.release)
	q := c.emptyQueue(0)
	c.queues = []*queue{q}
	require.NoError(t, q.makeRings(c.pool))
	txPage, rxPage := c.pool.pages[0].Data, c.pool.pages[1].Data
	var err error
	if start != 0 {
		for _, pg := range [][]byte{txPage, rxPage} {
			clear(pg)
			binary.LittleEndian.PutUint32(pg[ring.OffReqProd:], start)
			binary.LittleEndian.PutUint32(pg[ring.OffReqEvent:], start+1)
			binary.LittleEndian.PutUint32(pg[ring.OffRspProd:], start)
			binary.LittleEndian.PutUint32(pg[ring.OffRspEvent:], start+1)
		}
		q.tx.ring, err = ring.AttachFront(txPage, netif.TxSlotSize, start)
		require.NoError(t, err)
		q.rx.ring, err = ring.AttachFront(rxPage, netif.RxSlotSize, start)
		require.NoError(t, err)
	}
	require.NoError(t, q.makeBuffers(c.pool, ntx, nrx))
	q.tx.ch, q.rx.ch = newFakeChan(), newFakeChan()
	d.setConn(c)

	r.t, r.d, r.q, r.txPage, r.rxPage = t, d, q, txPage, rxPage
	r.frames, r.metas, r.keep = nil, nil, true
	d.cfg.Receive = func(frame []byte, m RxMeta) {
		if r.keep {
			r.frames = append(r.frames, append([]byte(nil), frame...))
			r.metas = append(r.metas, m)
		}
	}
	r.txBack, err = ring.AttachBack(txPage, netif.TxSlotSize, start)
	require.NoError(t, err)
	r.rxBack, err = ring.AttachBack(rxPage, netif.RxSlotSize, start)
	require.NoError(t, err)
	require.NoError(t, q.rx.post())
	return r
}

// fakeChan is an event channel that counts notifications; tests drive the queues directly.
type fakeChan struct {
	notifies atomic.Int64
	wakeups  atomic.Int64 // Waits that returned an event
	ev       chan struct{}
}

func newFakeChan() *fakeChan       { return &fakeChan{ev: make(chan struct{}, 1)} }
func (c *fakeChan) Port() xen.Port { return 7 }
func (c *fakeChan) Notify() error  { c.notifies.Add(1); return nil }
func (c *fakeChan) Close() error   { return nil }
func (c *fakeChan) Wait(ctx context.Context) error {
	select {
	case <-c.ev:
		c.wakeups.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
