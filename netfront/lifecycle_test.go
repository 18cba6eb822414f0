// The connection's states: the table of transitions, and the states a device's connections
// go through on the simulated host.

package netfront

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var connStates = []connState{connStarting, connRunning, connClosed, connDropped, connAbandoned}

// Every pair of states, allowed or not: a change to connTransitions must be made here too.
func TestConnTransitions(t *testing.T) {
	allowed := map[[2]connState]bool{
		{connStarting, connRunning}:   true,
		{connStarting, connAbandoned}: true,
		{connRunning, connClosed}:     true,
		{connRunning, connDropped}:    true,
	}
	for _, from := range connStates {
		for _, to := range connStates {
			t.Run(from.String()+"-to-"+to.String(), func(t *testing.T) {
				ok := allowed[[2]connState{from, to}]
				assert.Equal(t, ok, from.may(to))
				c := &conn{state: from}
				err := c.to(to)
				if ok {
					require.NoError(t, err)
					assert.Equal(t, to, c.state)
				} else {
					require.Error(t, err)
					assert.Equal(t, from, c.state, "a refused move changed the state")
				}
			})
		}
	}
}

func TestConnStateNames(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range connStates {
		assert.NotContains(t, s.String(), "connState(", "state %d has no name", s)
		assert.False(t, seen[s.String()], "two states named %s", s)
		seen[s.String()] = true
	}
	assert.Equal(t, "connState(9)", connState(9).String())
}

// A connection that has ended, or that never ran, cannot end (again) as a running one does:
// end refuses before it touches anything (this connection has no pages, watch or queues to
// touch, so any step taken would panic).
func TestConnEndRefused(t *testing.T) {
	for _, tc := range []struct{ from, to connState }{
		{connClosed, connClosed}, {connDropped, connClosed}, {connAbandoned, connDropped},
		{connStarting, connClosed}, {connStarting, connDropped}, {connRunning, connAbandoned},
	} {
		c := &conn{state: tc.from}
		assert.Error(t, c.end(context.Background(), tc.to), "%v to %v", tc.from, tc.to)
		assert.Equal(t, tc.from, c.state)
	}
}

// A device's connections on the simulated host: running while current; closed when the
// backend closes, and when the device is closed; dropped when the domain resumes elsewhere.
func TestConnStatesOnSim(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.echo()
	base := r.baseline(t)
	links := make(chan bool, 4)
	dev := r.open(t, Config{Link: func(up bool) { links <- up }})
	current := func() *conn {
		dev.mu.RLock()
		defer dev.mu.RUnlock()
		require.NotNil(t, dev.c)
		return dev.c
	}
	first := current()
	assert.Equal(t, connRunning, first.state)

	// The supervisor ends a connection before it reports the link up again.
	r.be.Disconnect()
	require.False(t, nextLink(t, links))
	require.True(t, nextLink(t, links))
	assert.Equal(t, connClosed, first.state, "after the backend closed")
	second := current()
	assert.Equal(t, connRunning, second.state)

	require.NoError(t, r.m.Restore(hangCtx(t)))
	r.be = r.m.Backend
	dev.Resume()
	require.False(t, nextLink(t, links))
	require.True(t, nextLink(t, links))
	assert.Equal(t, connDropped, second.state, "after a resume in a new domain")
	third := current()
	assert.Equal(t, connRunning, third.state)

	require.NoError(t, dev.Close())
	assert.Equal(t, connClosed, third.state, "after Close")
	r.checkBaseline(t, base)
}
