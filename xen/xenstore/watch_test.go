// Watch tests: the initial event, relative and absolute paths, removal, unwatch, slow consumers.

package xenstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/sim/xenstoretest"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

func next(t *testing.T, w *xenstore.Watch) xenstore.WatchEvent {
	t.Helper()
	ev, ok := <-w.Events()
	require.True(t, ok, "events channel closed: %v", w.Err())
	return ev
}

func TestWatchEvents(t *testing.T) {
	transports(t, func(t *testing.T, srv *xenstoretest.Server, c *xenstore.Client) {
		ctx := context.Background()
		rel, err := c.Watch(ctx, "device/vif")
		require.NoError(t, err)
		abs, err := c.Watch(ctx, "/local/domain/7/device/vif")
		require.NoError(t, err)
		assert.NotEqual(t, rel.Token(), abs.Token())
		assert.Equal(t, "device/vif", rel.Path())

		// The daemon fires each watch once on registration, before anything changed.
		assert.Equal(t, xenstore.WatchEvent{Path: "device/vif", Token: rel.Token()}, next(t, rel))
		assert.Equal(t, "/local/domain/7/device/vif", next(t, abs).Path)

		require.NoError(t, srv.Write("device/vif/0/state", "1"))
		assert.Equal(t, "device/vif/0/state", next(t, rel).Path)
		assert.Equal(t, "/local/domain/7/device/vif/0/state", next(t, abs).Path)

		// A change by the client itself fires too; a change elsewhere does not.
		require.NoError(t, srv.Write("device/vbd/0/state", "1"))
		require.NoError(t, c.Write(ctx, "device/vif/0/mac", []byte("m")))
		assert.Equal(t, "device/vif/0/mac", next(t, rel).Path)
		assert.Equal(t, "/local/domain/7/device/vif/0/mac", next(t, abs).Path)

		require.NoError(t, c.Unwatch(ctx, abs))
		_, open := <-abs.Events()
		assert.False(t, open, "Unwatch closes the channel")
		assert.NoError(t, abs.Err())
		assert.Equal(t, 1, srv.Watches())
		require.NoError(t, c.Unwatch(ctx, abs), "a second Unwatch is a no-op")

		require.NoError(t, c.Unwatch(ctx, rel))
		assert.Equal(t, 0, srv.Watches())
	})
}

func TestWatchRemovalFiresBelow(t *testing.T) {
	srv := xenstoretest.NewServer(testDomID, "guest")
	c := srv.NewClient(t)
	ctx := context.Background()
	require.NoError(t, srv.Write("/local/domain/0/backend/vif/7/0/state", "4"))
	w, err := c.Watch(ctx, "/local/domain/0/backend/vif/7/0/state")
	require.NoError(t, err)
	next(t, w)
	// Removing an ancestor fires watches set below it, with the watch's own path, which is how
	// a frontend learns its backend vanished.
	require.NoError(t, srv.Rm("/local/domain/0/backend/vif/7"))
	assert.Equal(t, "/local/domain/0/backend/vif/7/0/state", next(t, w).Path)
	_, err = c.Read(ctx, w.Path())
	assert.Error(t, err)
}

func TestWatchSpecialPath(t *testing.T) {
	srv := xenstoretest.NewServer(testDomID, "guest")
	c := srv.NewClient(t)
	w, err := c.Watch(context.Background(), "@releaseDomain")
	require.NoError(t, err)
	assert.Equal(t, "@releaseDomain", next(t, w).Path)
}

func TestWatchSlowConsumer(t *testing.T) {
	srv := xenstoretest.NewServer(testDomID, "guest")
	c := srv.NewClient(t)
	ctx := context.Background()
	w, err := c.Watch(ctx, "data")
	require.NoError(t, err)
	next(t, w)

	// Nobody reads the watch while a flood of changes arrives: requests keep working, because
	// the reader goroutine never blocks on a consumer.
	const distinct = 600
	for i := range distinct {
		require.NoError(t, c.Write(ctx, fmt.Sprintf("data/%d", i), nil))
	}
	for range 100 {
		require.NoError(t, c.Write(ctx, "data/same", nil))
	}
	require.NoError(t, c.Write(ctx, "data/marker", nil))

	seen := map[string]int{}
	n := 0
	for {
		ev := next(t, w)
		n++
		seen[ev.Path]++
		if ev.Path == "data/marker" {
			break
		}
	}
	// The queue overflowed and was replaced by the watch's own path (re-read everything), and
	// repeated changes to one node were coalesced.
	assert.Less(t, n, distinct)
	assert.GreaterOrEqual(t, seen["data"], 1)
	assert.LessOrEqual(t, seen["data/same"], 2)
	require.NoError(t, c.Unwatch(ctx, w))
}

func TestWatchEndsWhenConnectionBreaks(t *testing.T) {
	p := newRawPipe(t)
	var w *xenstore.Watch
	m, done := p.call(t, func() (err error) {
		w, err = p.c.Watch(context.Background(), "x")
		return err
	})
	assert.Equal(t, xenstore.XS_WATCH, m.typ)
	assert.Regexp(t, "^x\x00tamaxen:[0-9]+\x00$", string(m.payload))
	p.send(t, m.typ, m.reqID, 3, []byte("OK\x00"))
	require.NoError(t, <-done)
	ev := []byte("x\x00" + w.Token() + "\x00")
	p.send(t, xenstore.XS_WATCH_EVENT, 0, uint32(len(ev)), ev)
	assert.Equal(t, "x", next(t, w).Path)

	p.send(t, xenstore.XS_DIRECTORY, 999, 0, nil) // a reply nobody asked for
	for range w.Events() {
	}
	assert.ErrorIs(t, w.Err(), xen.ErrBroken)
	assert.ErrorIs(t, p.c.Err(), xen.ErrBroken)
}
