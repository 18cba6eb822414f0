// The fault-injection rig: the simulated host of sim_rig_test.go with knobs the faults need —
// the guest's grant table size, no backend at all, and a tap on the guest's XenStore requests.

package netfront_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/sim/machine"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
	"github.com/tamaxen/tamaxen/xen/sim/xenstored"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// faultOpts are the knobs of newFaultRig.
type faultOpts struct {
	grants    gnttab.Config   // the guest's grant table
	noBackend bool            // the toolstack adds the vif but no netback ever serves it
	bcfg      *netback.Config // nil: netback.DefaultConfig()
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

// newFaultRig is newSimRig with knobs, and the guest's XenStore behind a tap.
func newFaultRig(t testing.TB, o faultOpts) (*simRig, *xsTap) {
	tap := &xsTap{}
	m, err := machine.New(machine.Config{
		GuestID: guestID, GuestPages: 1600, MAC: "00:16:3e:5a:11:01",
		Netback: o.bcfg, NoBackend: o.noBackend, GuestGrants: o.grants,
		WrapXenStore: func(rw io.ReadWriteCloser) io.ReadWriteCloser {
			tap.rw = rw
			return tap
		},
	})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	r := &simRig{m: m, x: m.Xen, dom0: m.Dom0, guest: m.Guest, xs: m.Store, gxs: m.Platform.XenStore,
		be: m.Backend, plat: m.Platform}
	r.usedRefs = r.refsInUse()
	return r, tap
}

// frontPath and backPath are the vif's directories, absolute.
func frontPath() string { f, _ := xenstored.VifPaths(guestID, 0, 0); return f }
func backPath() string  { _, b := xenstored.VifPaths(guestID, 0, 0); return b }

// baseline records what a fault test must find again at the end: goroutines and grants.
type baseline struct {
	goroutines int
	grants     int
}

// The daemon's goroutines for the guest's connection start as it first talks, so one round
// trip comes first, then the count must hold still for a few samples.
func (r *simRig) baseline(t *testing.T) baseline {
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
func (r *simRig) checkBaseline(t *testing.T, b baseline) {
	t.Helper()
	require.Equal(t, b.grants, r.guest.Grants.InUse(), "grant references leaked")
	r.checkClean(t, b.goroutines)
}

// watchedDev is a two-queue device whose link changes, received frames and log lines the test
// follows.
type watchedDev struct {
	*netfront.Device
	links    chan bool
	received atomic.Int64

	mu    sync.Mutex
	lines []string
}

// openWatched opens a watchedDev on r.
func (r *simRig) openWatched(t *testing.T) *watchedDev {
	w := &watchedDev{links: make(chan bool, 16)}
	w.Device = r.open(t, netfront.Config{Queues: 2, Link: func(up bool) { w.links <- up }, Logf: w.logf,
		Receive: func([]byte, netfront.RxMeta) { w.received.Add(1) }})
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
