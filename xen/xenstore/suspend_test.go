// Suspend and Resume over the ring: a cancelled suspension, and xl restore, where a new daemon
// connection starts on a cleared interface page.

package xenstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/shmem"
	"github.com/tamaxen/tamaxen/xen/sim/xenstoretest"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// ringGuest is a client on an interface page served by srv, whose daemon can be replaced.
type ringGuest struct {
	page   []byte
	daemon *xenstoretest.EventChannel
	stop   func()
	c      *xenstore.Client
}

func newRingGuest(t *testing.T, srv *xenstoretest.Server, start uint32) *ringGuest {
	g := &ringGuest{page: make([]byte, 4096)}
	for _, off := range []int{xenstore.InterfaceOffReqCons, xenstore.InterfaceOffReqProd,
		xenstore.InterfaceOffRspCons, xenstore.InterfaceOffRspProd} {
		g.page[off], g.page[off+1], g.page[off+2], g.page[off+3] = byte(start), byte(start>>8), byte(start>>16), byte(start>>24)
	}
	guest, daemon := xenstoretest.NewEventChannelPair(1, 2)
	g.daemon = daemon
	g.stop = srv.ServeRing(g.page, daemon)
	tr, err := xenstore.NewRingTransport(g.page, guest)
	require.NoError(t, err)
	g.c = xenstore.New(tr)
	t.Cleanup(func() {
		_ = g.c.Close()
		g.stop()
	})
	return g
}

// restore models xl restore: the old daemon connection is gone, the toolstack clears the page and
// a daemon that knows nothing of the guest serves it.
func (g *ringGuest) restore(srv *xenstoretest.Server) {
	g.stop()
	clear(g.page)
	g.stop = srv.ServeRing(g.page, g.daemon)
}

func TestSuspendCancelledCarriesOn(t *testing.T) {
	ctx := hangCtx(t)
	srv := xenstoretest.NewServer(7, "guest")
	g := newRingGuest(t, srv, 0)
	w, err := g.c.Watch(ctx, "data")
	require.NoError(t, err)
	next(t, w)

	require.NoError(t, g.c.Suspend(ctx))
	read := make(chan error, 1)
	go func() {
		_, err := g.c.Read(ctx, "data/x")
		read <- err
	}()
	select {
	case err := <-read:
		t.Fatalf("a request went out while suspended: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	require.NoError(t, g.c.Resume(ctx, false))
	assert.ErrorIs(t, <-read, xen.ENOENT, "the request waited, then went to the same daemon")
	assert.Equal(t, 1, srv.Watches(), "a cancelled suspension registers nothing again")
	require.NoError(t, srv.Write("data/x", "1"))
	assert.Equal(t, "data/x", next(t, w).Path)
}

func TestResumeInNewDomain(t *testing.T) {
	for _, start := range []uint32{0, 0xffffff00} {
		ctx := hangCtx(t)
		old := xenstoretest.NewServer(7, "guest")
		g := newRingGuest(t, old, start)
		w, err := g.c.Watch(ctx, "device/vif")
		require.NoError(t, err)
		next(t, w)
		require.NoError(t, g.c.Write(ctx, "data/before", []byte("1")))

		require.NoError(t, g.c.Suspend(ctx))
		fresh := xenstoretest.NewServer(9, "guest")
		require.NoError(t, fresh.Write("device/vif/0/state", "1"))
		g.restore(fresh)
		require.NoError(t, g.c.Resume(ctx, true))

		assert.Equal(t, 1, fresh.Watches(), "the watch was registered with the new daemon")
		assert.Equal(t, "device/vif", next(t, w).Path, "registration fires the watch once")
		require.NoError(t, fresh.Write("device/vif/0/state", "4"))
		assert.Equal(t, "device/vif/0/state", next(t, w).Path)
		v, err := g.c.Read(ctx, "device/vif/0/state")
		require.NoError(t, err)
		assert.Equal(t, "4", string(v), "requests go to the new daemon on the cleared page")
		_, err = g.c.Read(ctx, "data/before")
		assert.ErrorIs(t, err, xen.ENOENT, "the new daemon has the toolstack's tree, not the old one")
	}
}

func TestResumeFailsRequestsTheOldDaemonNeverAnswered(t *testing.T) {
	ctx := hangCtx(t)
	old := xenstoretest.NewServer(7, "guest")
	g := newRingGuest(t, old, 0)
	g.stop() // the daemon stops answering: the request below stays unanswered
	g.stop = func() {}
	read := make(chan error, 1)
	go func() {
		_, err := g.c.Read(ctx, "data/x")
		read <- err
	}()
	// The request is in the ring (its req_prod store follows the bytes) before the toolstack
	// clears the page below, as when the domain is suspended.
	require.Eventually(t, func() bool { return shmem.Load32(g.page, xenstore.InterfaceOffReqProd) != 0 }, 10*time.Second, time.Millisecond)
	sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	require.Eventually(t, func() bool {
		err := g.c.Suspend(sctx)
		return err != nil && errors.Is(err, context.DeadlineExceeded)
	}, 10*time.Second, time.Millisecond, "Suspend reports the request left unanswered")

	g.restore(xenstoretest.NewServer(9, "guest"))
	require.NoError(t, g.c.Resume(ctx, true))
	err := <-read
	assert.ErrorIs(t, err, xenstore.ErrInterrupted)
	assert.ErrorIs(t, err, xen.EAGAIN, "Update retries it")
	require.NoError(t, g.c.Write(ctx, "data/y", []byte("1")), "the connection works afterwards")
}

// While the connection is suspended its ring stays untouched: the old daemon's last event,
// arriving after the toolstack cleared the page, must not have the reader take the cleared
// indices for a daemon breaking the protocol.
func TestSuspendKeepsOffTheClearedPage(t *testing.T) {
	ctx := hangCtx(t)
	g := newRingGuest(t, xenstoretest.NewServer(7, "guest"), 0)
	require.NoError(t, g.c.Write(ctx, "data/x", []byte("1")), "the indices move off zero")
	require.NoError(t, g.c.Suspend(ctx))
	g.stop()
	g.stop = func() {}
	clear(g.page)
	require.NoError(t, g.daemon.Notify())
	assert.Never(t, func() bool { return g.c.Err() != nil }, 50*time.Millisecond, time.Millisecond,
		"the reader looked at the cleared page")

	g.restore(xenstoretest.NewServer(9, "guest"))
	require.NoError(t, g.c.Resume(ctx, true))
	v, err := g.c.Read(ctx, "name")
	require.NoError(t, err)
	assert.Equal(t, "guest", string(v))
}

func TestCloseReleasesRequestsWaitingForResume(t *testing.T) {
	ctx := hangCtx(t)
	g := newRingGuest(t, xenstoretest.NewServer(7, "guest"), 0)
	require.NoError(t, g.c.Suspend(ctx))
	read := make(chan error, 1)
	go func() {
		_, err := g.c.Read(ctx, "data/x")
		read <- err
	}()
	require.NoError(t, g.c.Close())
	assert.ErrorIs(t, <-read, xen.ErrClosed)
}

// hangCtx is a context that ends, failing the test, if something hangs.
func hangCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
