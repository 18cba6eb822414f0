// Restore: what the guest finds in a new domain, driven through the real evtchn and gnttab
// packages as board/xenpvh drives them after xl restore.

package sim

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/evtchn"
	"github.com/tamaxen/tamaxen/xen/gnttab"
)

func TestRestore(t *testing.T) {
	x := newXen(t)
	dom0, guest := bootPair(t, x)
	g := guest.Domain

	// Before: a backend's interdomain channel, a VIRQ, a page granted and mapped by dom0, and a
	// store page with something in it.
	front, err := guest.Events.AllocUnbound(0)
	require.NoError(t, err)
	back, err := dom0.Events.BindInterdomain(7, front.Port())
	require.NoError(t, err)
	require.NoError(t, back.Wait(hangCtx(t)))
	frontPort := front.Port()
	timer, err := guest.Events.BindVIRQ(evtchn.VIRQ_TIMER, 0)
	require.NoError(t, err)
	pg := fillPage(t, g, 0x5a)
	ref, err := guest.Grants.Grant(0, pg.Frame, false)
	require.NoError(t, err)
	m, err := dom0.Domain.MapGrant(7, ref, true)
	require.NoError(t, err)
	storePFN, _ := g.Param(xen.HVM_PARAM_STORE_PFN)
	oldStorePort, _ := g.Param(xen.HVM_PARAM_STORE_EVTCHN)
	sc, err := guest.Events.Attach(xen.Port(oldStorePort))
	require.NoError(t, err)
	g.Page(xen.Frame(storePFN))[0] = 1

	// A backend still mapping a grant keeps the old domain: Restore refuses, and the domain
	// carries on, its upcall included.
	require.ErrorIs(t, x.Restore(7), xen.EBUSY)
	require.NoError(t, back.Notify())
	require.NoError(t, front.Wait(hangCtx(t)), "upcall after a refused restore")
	m.Unmap()
	require.NoError(t, back.Close())

	require.NoError(t, x.Restore(7))

	// Xen's side: only the builder's two new ports, unbound for dom0; the store page cleared;
	// the old grant gone, the reserved ones seeded again.
	for p := xen.Port(1); p < 64; p++ {
		st, err := g.PortStatus(p)
		require.NoError(t, err)
		want := uint32(EVTCHNSTAT_closed)
		if p == 1 || p == 2 {
			want = EVTCHNSTAT_unbound
		}
		assert.Equal(t, want, st.Status, "port %d", p)
	}
	storePort, _ := g.Param(xen.HVM_PARAM_STORE_EVTCHN)
	consolePort, _ := g.Param(xen.HVM_PARAM_CONSOLE_EVTCHN)
	assert.ElementsMatch(t, []uint64{1, 2}, []uint64{storePort, consolePort})
	assert.Zero(t, g.Page(xen.Frame(storePFN))[0], "store page not cleared")
	_, err = dom0.Domain.MapGrant(7, ref, false)
	require.ErrorIs(t, err, gnttab.GNTST_permission_denied, "a grant of the old domain still maps")
	sm, err := dom0.Domain.MapGrant(7, gnttab.GNTTAB_RESERVED_XENSTORE, true)
	require.NoError(t, err, "the store page is granted again")
	sm.Unmap()

	// No upcall before the guest is back: an event Xen latches now waits for Resume.
	xs, err := dom0.Events.BindInterdomain(7, xen.Port(storePort))
	require.NoError(t, err)
	calls := guest.Events.Stats().Upcalls
	require.NoError(t, xs.Notify())
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, calls, guest.Events.Stats().Upcalls, "an upcall ran before the guest set it again")

	// The guest's side, as the board does it.
	require.NoError(t, guest.Resume())
	assert.ErrorIs(t, front.Notify(), evtchn.ErrStale)
	// The VIRQ is bound again on the lowest free port: the backend channel's old number.
	require.Equal(t, frontPort, timer.Port())
	require.NoError(t, front.Close(), "closing a stale channel leaves Xen alone")
	st, err := g.PortStatus(frontPort)
	require.NoError(t, err)
	assert.Equal(t, uint32(EVTCHNSTAT_virq), st.Status, "closing a stale channel closed the port now bound to the VIRQ")

	// The store channel moves to its new port and gets the event latched before.
	require.NoError(t, guest.Events.Reattach(sc, xen.Port(storePort)))
	require.NoError(t, sc.Wait(hangCtx(t)))
	require.NoError(t, sc.Notify())
	require.NoError(t, xs.Wait(hangCtx(t)))

	// The VIRQ channel, bound again by Resume, is the same Channel, and its waiter carries on.
	require.True(t, g.RaiseVIRQ(evtchn.VIRQ_TIMER))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = timer.Wait(ctx) // drain what Resume re-delivered, if anything
	require.True(t, g.RaiseVIRQ(evtchn.VIRQ_TIMER))
	require.NoError(t, timer.Wait(hangCtx(t)))

	// The new grant table: the old ref grants nothing, revoking it succeeds, granting works.
	require.NoError(t, guest.Grants.Revoke(ref))
	ref2, err := guest.Grants.Grant(0, pg.Frame, true)
	require.NoError(t, err)
	m2, err := dom0.Domain.MapGrant(7, ref2, false)
	require.NoError(t, err)
	assert.Equal(t, byte(0x5a), m2.Data[0], "the domain's RAM survives")
	m2.Unmap()
}

func TestRestoreRefusesDom0AndUnknown(t *testing.T) {
	x := newXen(t)
	bootPair(t, x)
	require.ErrorIs(t, x.Restore(0), xen.ESRCH)
	require.ErrorIs(t, x.Restore(9), xen.ESRCH)
}
