// Prepare: the first half of the handshake, and a backend that closes while the frontend waits.

package xenbus_test

import (
	"context"
	"slices"
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
	// The backend reads the frontend's state when its watch fires, and watch events coalesce,
	// so it may miss the brief Closing; it must see Closed, then Initialising last.
	states := b.frontendStates()
	require.NotEmpty(t, states)
	closed := slices.Index(states, xenbus.XenbusStateClosed)
	assert.True(t, closed >= 0 && closed < len(states)-1, "closed its side, then started over: %v", states)
	assert.Equal(t, xenbus.XenbusStateInitialising, states[len(states)-1], "started over: %v", states)
	// And the rest of the handshake goes through.
	require.NoError(t, d.Connect(ctx, be, publishRings(ctx)))
	assert.Equal(t, xenbus.XenbusStateConnected, be.Current())
}
