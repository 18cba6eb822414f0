// Prepare: the first half of the handshake, and a backend that closes while the frontend waits.

package xenbus_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen/xenbus"
)

// A backend that is Closing when the frontend starts (a driver domain going away, or
// restarting) waits for the frontend to close before anything else: Prepare closes the
// frontend's side and starts over, and returns once the backend waits in InitWait.
func TestPrepareBackendClosing(t *testing.T) {
	srv, xs := setup(t)
	b := startBackend(t, srv, polite)
	require.NoError(t, srv.Write(beState, "5"))
	d, be := open(t, xs)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, d.Prepare(ctx, be))
	assert.Equal(t, xenbus.XenbusStateInitWait, be.Current())
	own, err := d.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, xenbus.XenbusStateInitialising, own)
	// The first state is what the backend's watch showed when it was registered.
	assert.Equal(t, []xenbus.State{xenbus.XenbusStateInitialising, xenbus.XenbusStateClosing,
		xenbus.XenbusStateClosed, xenbus.XenbusStateInitialising},
		b.frontendStates(), "closed its side, then started over")
	// And the rest of the handshake goes through.
	require.NoError(t, d.Connect(ctx, be, publishRings(ctx)))
	assert.Equal(t, xenbus.XenbusStateConnected, be.Current())
}
