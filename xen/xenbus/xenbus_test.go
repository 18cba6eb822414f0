// End-to-end tests of discovery and the handshake against the fake xenstored and backend.

package xenbus_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/sim/xenstoretest"
	"github.com/tamaxen/tamaxen/xen/xenbus"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

func publishRings(ctx context.Context) func(tx *xenstore.Tx) error {
	return func(tx *xenstore.Tx) error {
		for k, v := range map[string]string{"tx-ring-ref": "8", "rx-ring-ref": "9", "event-channel": "5"} {
			if err := xenstore.WriteString(ctx, tx, "device/vif/0/"+k, v); err != nil {
				return err
			}
		}
		return nil
	}
}

// setup returns a guest client with device vif/0 created by the toolstack.
func setup(t *testing.T) (*xenstoretest.Server, *xenstore.Client) {
	srv := xenstoretest.NewServer(guest, "guest")
	toolstack(t, srv)
	return srv, srv.NewClient(t)
}

func open(t *testing.T, xs *xenstore.Client) (*xenbus.Device, *xenbus.StateWatch) {
	t.Helper()
	ctx := context.Background()
	d, err := xenbus.Open(ctx, xs, "vif", "0")
	require.NoError(t, err)
	be, err := d.WatchBackend(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = be.Close() })
	return d, be
}

func TestDevices(t *testing.T) {
	srv := xenstoretest.NewServer(guest, "guest")
	xs := srv.NewClient(t)
	ctx := context.Background()
	ids, err := xenbus.Devices(ctx, xs, "vif")
	require.NoError(t, err)
	assert.Empty(t, ids, "no device/vif yet")
	for _, id := range []string{"0", "1", "3"} {
		require.NoError(t, srv.Write("device/vif/"+id+"/state", "1"))
	}
	ids, err = xenbus.Devices(ctx, xs, "vif")
	require.NoError(t, err)
	assert.Equal(t, []string{"0", "1", "3"}, ids)
	for _, bad := range []string{"", "vif/0", "..", "a\x00"} {
		_, err = xenbus.Devices(ctx, xs, bad)
		assert.Error(t, err, "%q", bad)
		_, err = xenbus.Open(ctx, xs, "vif", bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestOpenWaitsForBackend(t *testing.T) {
	srv := xenstoretest.NewServer(guest, "guest")
	xs := srv.NewClient(t)
	ctx := context.Background()
	type result struct {
		d   *xenbus.Device
		err error
	}
	done := make(chan result, 1)
	go func() {
		d, err := xenbus.Open(ctx, xs, "vif", "0")
		done <- result{d, err}
	}()
	// The toolstack writes the nodes one at a time; Open must wait for both.
	require.NoError(t, srv.Write(feDir+"/backend", beDir))
	require.NoError(t, srv.Write(feDir+"/state", "1"))
	require.NoError(t, srv.Write(feDir+"/backend-id", "0"))
	r := <-done
	require.NoError(t, r.err)
	assert.Equal(t, beDir, r.d.Backend)
	assert.Equal(t, xen.DomID(0), r.d.BackendID)
	assert.Equal(t, "device/vif/0", r.d.Path)
	assert.Equal(t, "vif", r.d.Type)
	assert.Equal(t, 0, srv.Watches(), "Open removes its watch")

	// Never written: Open gives up when ctx ends.
	cctx, cancel := context.WithCancel(ctx)
	go cancel()
	_, err := xenbus.Open(cctx, xs, "vif", "1")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestOpenRejectsBadBackend(t *testing.T) {
	for _, tc := range []struct{ backend, id string }{
		{"backend/vif/7/0", "0"}, // relative
		{beDir + "/", "0"},       // trailing slash
		{"/local//domain", "0"},  // empty component
		{beDir, "dom0"},          // not a number
		{beDir, "65536"},         // not a domid
		{beDir, "-1"},            // not unsigned
	} {
		srv := xenstoretest.NewServer(guest, "guest")
		require.NoError(t, srv.Write(feDir+"/backend", tc.backend))
		require.NoError(t, srv.Write(feDir+"/backend-id", tc.id))
		_, err := xenbus.Open(context.Background(), srv.NewClient(t), "vif", "0")
		assert.ErrorIs(t, err, xen.EINVAL, "%+v", tc)
	}
}

func TestConnectAndClose(t *testing.T) {
	for _, mode := range []backendMode{polite, skipsClosing} {
		srv, xs := setup(t)
		ctx := context.Background()
		b := startBackend(t, srv, mode)
		d, be := open(t, xs)

		require.NoError(t, d.Connect(ctx, be, publishRings(ctx)))
		assert.Equal(t, xenbus.XenbusStateConnected, be.Current())
		own, err := d.State(ctx)
		require.NoError(t, err)
		assert.Equal(t, xenbus.XenbusStateConnected, own)
		ref, _ := srv.Read(feDir + "/tx-ring-ref")
		assert.Equal(t, "8", ref)

		require.NoError(t, d.Close(ctx, be))
		own, err = d.State(ctx)
		require.NoError(t, err)
		assert.Equal(t, xenbus.XenbusStateClosed, own)
		assert.Equal(t, xenbus.XenbusStateClosed, be.Current())
		// A watch reports that a node changed, not each value: the backend may miss a state
		// the frontend did not wait in. These it must have seen, because the frontend waited
		// for its answer to each (the skipping backend is Closed before it sees Closed).
		want := []xenbus.State{xenbus.XenbusStateConnected, xenbus.XenbusStateClosing}
		if mode == polite {
			want = append(want, xenbus.XenbusStateClosed)
		}
		assert.True(t, subsequence(want, b.frontendStates()), "mode %d: %v", mode, b.frontendStates())
		assert.Zero(t, srv.Transactions())
	}
}

func TestBackendInitiatedCloseAndReconnect(t *testing.T) {
	srv, xs := setup(t)
	ctx := context.Background()
	b := startBackend(t, srv, polite)
	d, be := open(t, xs)
	require.NoError(t, d.Connect(ctx, be, publishRings(ctx)))

	// The backend is unplugged: the driver, following transitions, sees it leave Connected.
	b.set(xenbus.XenbusStateClosing)
	s, err := be.WaitChange(ctx, xenbus.XenbusStateConnected)
	require.NoError(t, err)
	assert.True(t, xenbus.ShouldClose(s))
	require.NoError(t, d.Close(ctx, be))
	assert.Equal(t, xenbus.XenbusStateClosed, be.Current())

	// Reconnect: the frontend goes back to Initialising and the backend to InitWait.
	require.NoError(t, d.Connect(ctx, be, publishRings(ctx)))
	assert.Equal(t, xenbus.XenbusStateConnected, be.Current())
	assert.True(t, subsequence([]xenbus.State{xenbus.XenbusStateConnected, xenbus.XenbusStateClosed,
		xenbus.XenbusStateInitialising, xenbus.XenbusStateConnected}, b.frontendStates()), "%v", b.frontendStates())
}

// subsequence reports whether want appears in order within got.
func subsequence(want, got []xenbus.State) bool {
	for _, s := range got {
		if len(want) > 0 && s == want[0] {
			want = want[1:]
		}
	}
	return len(want) == 0
}

func TestConnectBackendRefuses(t *testing.T) {
	srv, xs := setup(t)
	startBackend(t, srv, refuses)
	d, be := open(t, xs)
	ctx := context.Background()
	err := d.Connect(ctx, be, publishRings(ctx))
	assert.ErrorIs(t, err, xenbus.ErrBackendClosed)
	require.NoError(t, d.Close(ctx, be), "backend already Closed")
}

func TestGarbageBackendState(t *testing.T) {
	srv, xs := setup(t)
	require.NoError(t, srv.Write(beState, "4"))
	_, be := open(t, xs)
	ctx := context.Background()
	assert.Equal(t, xenbus.XenbusStateConnected, be.Current())

	for _, garbage := range []string{"banana", "9", "", "44", "-1", " 4", "4\x00\x00"} {
		require.NoError(t, srv.Write(beState, garbage))
		s, err := be.WaitChange(ctx, xenbus.XenbusStateConnected)
		require.NoError(t, err)
		assert.Equal(t, xenbus.XenbusStateUnknown, s, "%q", garbage)
		assert.Error(t, be.Err(), "%q", garbage)
		require.NoError(t, srv.Write(beState, "4"))
		_, err = be.Wait(ctx, xenbus.XenbusStateConnected)
		require.NoError(t, err)
		assert.NoError(t, be.Err())
	}
	require.NoError(t, srv.Write(beState, "4\x00"))
	assert.Equal(t, xenbus.XenbusStateConnected, be.Current(), "a terminator is tolerated")
}

func TestBackendVanishes(t *testing.T) {
	srv, xs := setup(t)
	ctx := context.Background()
	startBackend(t, srv, polite)
	d, be := open(t, xs)
	require.NoError(t, d.Connect(ctx, be, publishRings(ctx)))
	require.NoError(t, srv.Rm(beDir))
	s, err := be.WaitChange(ctx, xenbus.XenbusStateConnected)
	require.NoError(t, err)
	assert.Equal(t, xenbus.XenbusStateUnknown, s)
	assert.ErrorIs(t, be.Err(), xen.ENOENT)
	require.NoError(t, d.Close(ctx, be))
}

func TestSwitchStateDoesNotRecreate(t *testing.T) {
	srv, xs := setup(t)
	d, _ := open(t, xs)
	ctx := context.Background()
	require.NoError(t, d.SwitchState(ctx, xenbus.XenbusStateInitialised))
	v, _ := srv.Read(feState)
	assert.Equal(t, "3", v)
	require.NoError(t, srv.Rm(feDir))
	err := d.SwitchState(ctx, xenbus.XenbusStateClosed)
	assert.ErrorIs(t, err, xen.ENOENT)
	_, ok := srv.Read(feState)
	assert.False(t, ok, "a removed device stays removed")
}

func TestWatchEndsWithConnection(t *testing.T) {
	srv, xs := setup(t)
	_ = srv
	_, be := open(t, xs)
	require.NoError(t, xs.Close())
	_, err := be.Wait(context.Background(), xenbus.XenbusStateConnected)
	assert.ErrorIs(t, err, xen.ErrClosed)
	assert.ErrorIs(t, be.Err(), xen.ErrClosed)
}
