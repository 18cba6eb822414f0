// Resume: the domain suspended and came back as a new domain whose Xen knows none of its ports.

package evtchn

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
)

// newDomain models xl restore: Xen's port table starts empty and shared_info is a fresh page,
// here the same page cleared, as the platform maps it again at the same frame.
func (f *fakeXen) newDomain() {
	f.mu.Lock()
	f.ports = [EVTCHN_2L_NR_CHANNELS]fakePort{}
	clear(f.page)
	f.mu.Unlock()
}

// bindByToolstack makes a port the toolstack binds before the guest runs (XenStore, console).
func (f *fakeXen) bindByToolstack(t *testing.T) xen.Port {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.allocPortLocked()
	require.NoError(t, err)
	f.ports[p] = fakePort{state: stUnbound, remoteDom: 0}
	return p
}

func TestResumeInNewDomain(t *testing.T) {
	d, f := newTestDispatcher()
	ctx := hangCtx(t)
	storePort := f.bindByToolstack(t)
	store, err := d.Attach(storePort)
	require.NoError(t, err)
	timer, err := d.BindVIRQ(VIRQ_TIMER, 0)
	require.NoError(t, err)
	vif, err := d.AllocUnbound(0)
	require.NoError(t, err)

	// The timer's waiter is blocked across the suspension, as the board's is.
	woke := make(chan error, 1)
	go func() { woke <- timer.Wait(ctx) }()

	f.newDomain()
	// The toolstack of the new domain binds the XenStore port first: it gets the number the
	// old vif had, which must not confuse the dispatcher.
	newStore := f.bindByToolstack(t)
	require.NoError(t, d.Resume())

	select {
	case err := <-woke:
		require.NoError(t, err, "the rebound timer wakes its waiter once, so it looks again")
	case <-time.After(10 * time.Second):
		t.Fatal("timer waiter not woken after Resume")
	}
	assert.NotEqual(t, newStore, timer.Port(), "the VIRQ was bound on a port of its own")
	require.True(t, f.raiseVIRQ(VIRQ_TIMER))
	require.NoError(t, timer.Wait(ctx), "the VIRQ delivers on its new port")

	// The vif's channel is stale: no notify, and Close must not close a port it no longer owns.
	assert.ErrorIs(t, vif.Notify(), ErrStale)
	assert.True(t, vif.Stale())
	assert.False(t, timer.Stale(), "a VIRQ channel is bound again, not stale")
	closes := f.opCount[EVTCHNOP_close].Load()
	require.NoError(t, vif.Close())
	assert.Equal(t, closes, f.opCount[EVTCHNOP_close].Load(), "no EVTCHNOP_close for a stale port")

	// The XenStore channel moves to the port the new toolstack bound.
	assert.ErrorIs(t, store.Notify(), ErrStale)
	assert.True(t, store.Stale())
	require.NoError(t, d.Reattach(store, newStore))
	assert.False(t, store.Stale(), "a reattached channel is not stale")
	assert.Equal(t, newStore, store.Port())
	require.NoError(t, store.Wait(ctx), "Reattach wakes the waiter once")
	f.remoteSend(newStore)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, store.Wait(wctx), "events on the new port arrive")
	require.NoError(t, store.Notify())
}

func TestReattachRefusesWhatItCannotMove(t *testing.T) {
	d, f := newTestDispatcher()
	owned, err := d.AllocUnbound(0)
	require.NoError(t, err)
	attached, err := d.Attach(f.bindByToolstack(t))
	require.NoError(t, err)
	other, err := d.Attach(f.bindByToolstack(t))
	require.NoError(t, err)

	tests := []struct {
		name string
		c    *Channel
		port xen.Port
	}{
		{"bound by us", owned, 9},
		{"port zero", attached, 0},
		{"port out of range", attached, EVTCHN_2L_NR_CHANNELS},
		{"port in use", attached, other.Port()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Error(t, d.Reattach(tt.c, tt.port))
		})
	}
	require.NoError(t, other.Close())
	assert.Error(t, d.Reattach(other, 12), "closed")
}
