// Event channels between domains, driven through the real evtchn package on both sides.

package sim

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/evtchn"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

func TestInterdomainEvents(t *testing.T) {
	x := newXen(t)
	dom0, guest := bootPair(t, x)

	// The frontend allocates, the backend binds: the netfront/netback order.
	front, err := guest.Events.AllocUnbound(0)
	require.NoError(t, err)
	st, err := guest.Domain.PortStatus(front.Port())
	require.NoError(t, err)
	assert.Equal(t, PortStatus{Status: EVTCHNSTAT_unbound, Remote: 0}, st)

	back, err := dom0.Events.BindInterdomain(7, front.Port())
	require.NoError(t, err)
	// Xen marks the freshly bound port pending.
	require.NoError(t, back.Wait(hangCtx(t)))

	st, err = guest.Domain.PortStatus(front.Port())
	require.NoError(t, err)
	assert.Equal(t, PortStatus{Status: EVTCHNSTAT_interdomain, Remote: 0, RemotePort: back.Port()}, st)

	for range 100 {
		require.NoError(t, front.Notify())
		require.NoError(t, back.Wait(hangCtx(t)))
		require.NoError(t, back.Notify())
		require.NoError(t, front.Wait(hangCtx(t)))
	}
	assert.GreaterOrEqual(t, guest.Events.Stats().Events, uint64(100))

	// Closing the backend's port leaves the frontend's unbound, reserved for dom0 again.
	require.NoError(t, back.Close())
	st, err = guest.Domain.PortStatus(front.Port())
	require.NoError(t, err)
	assert.Equal(t, uint32(EVTCHNSTAT_unbound), st.Status)
	require.NoError(t, front.Notify(), "sending on an unbound port is dropped, not an error")
	again, err := dom0.Events.BindInterdomain(7, front.Port())
	require.NoError(t, err, "a backend reconnects by binding again")
	require.NoError(t, again.Close())
}

// Events sent while nobody waits coalesce; none is lost across many concurrent senders.
func TestEventsNotLostUnderConcurrency(t *testing.T) {
	x := newXen(t)
	dom0, guest := bootPair(t, x)
	front, err := guest.Events.AllocUnbound(0)
	require.NoError(t, err)
	back, err := dom0.Events.BindInterdomain(7, front.Port())
	require.NoError(t, err)
	require.NoError(t, back.Wait(hangCtx(t)))

	// Ping-pong with a counter protected by a mutex that each side holds while it notifies,
	// which would deadlock if the simulator ran the receiver's upcall on the sender's stack
	// with a handler that takes the same lock.
	var mu sync.Mutex
	count := 0
	done := make(chan error, 1)
	go func() {
		for range 500 {
			if err := back.Wait(hangCtx(t)); err != nil {
				done <- err
				return
			}
			mu.Lock()
			count++
			err := back.Notify()
			mu.Unlock()
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range 500 {
		mu.Lock()
		err := front.Notify()
		mu.Unlock()
		require.NoError(t, err)
		require.NoError(t, front.Wait(hangCtx(t)))
	}
	require.NoError(t, <-done)
	assert.Equal(t, 500, count)
}

func TestLoopbackAndVIRQ(t *testing.T) {
	x := newXen(t)
	_, guest := bootPair(t, x)
	a, err := guest.Events.AllocUnbound(xen.DOMID_SELF)
	require.NoError(t, err)
	b, err := guest.Events.BindInterdomain(xen.DOMID_SELF, a.Port())
	require.NoError(t, err)
	require.NoError(t, b.Wait(hangCtx(t)))
	require.NoError(t, a.Notify())
	require.NoError(t, b.Wait(hangCtx(t)))

	assert.False(t, guest.Domain.RaiseVIRQ(evtchn.VIRQ_DEBUG))
	v, err := guest.Events.BindVIRQ(evtchn.VIRQ_DEBUG, 0)
	require.NoError(t, err)
	_, err = evtchn.BindVIRQ(guest.Domain.Hypervisor(), evtchn.VIRQ_DEBUG, 0)
	assert.ErrorIs(t, err, xen.EEXIST)
	assert.True(t, guest.Domain.RaiseVIRQ(evtchn.VIRQ_DEBUG))
	require.NoError(t, v.Wait(hangCtx(t)))
	st, err := guest.Domain.PortStatus(v.Port())
	require.NoError(t, err)
	assert.Equal(t, PortStatus{Status: EVTCHNSTAT_virq, VIRQ: evtchn.VIRQ_DEBUG}, st)
}

// A masked port latches its event without an upcall; EVTCHNOP_unmask then posts it (2l unmask).
func TestUnmaskHypercallPostsLatchedEvent(t *testing.T) {
	x := newXen(t)
	g, err := x.NewDomain(3, DomainConfig{Pages: 16})
	require.NoError(t, err)
	raised := make(chan struct{}, 16)
	g.SetUpcall(func() { raised <- struct{}{} })
	<-raised // SetUpcall raises once for anything latched before registration

	hv := g.Hypervisor()
	a, err := evtchn.AllocUnbound(hv, xen.DOMID_SELF)
	require.NoError(t, err)
	// Mask every port as the Dispatcher would, directly in shared_info.
	si := g.SharedInfo()
	for w := range evtchnWords {
		shmem.Store64(si, evtchn.OffsetofSharedInfoEvtchnMask+8*w, ^uint64(0))
	}
	b, err := evtchn.BindInterdomain(hv, xen.DOMID_SELF, a)
	require.NoError(t, err)
	require.NoError(t, evtchn.Send(hv, a))
	assert.Empty(t, raised, "a masked port raises nothing")
	require.NoError(t, evtchn.Unmask(hv, b))
	<-raised
	assert.Equal(t, uint64(1), shmem.Load64(si, offsetofVcpu0PendingSel)&1, "selector bit of word 0")
}

func TestEventChannelErrors(t *testing.T) {
	x := newXen(t)
	g7, err := x.NewDomain(7, DomainConfig{Pages: 16})
	require.NoError(t, err)
	g8, err := x.NewDomain(8, DomainConfig{Pages: 16})
	require.NoError(t, err)
	hv7, hv8 := g7.Hypervisor(), g8.Hypervisor()

	p, err := evtchn.AllocUnbound(hv7, 0) // reserved for dom0
	require.NoError(t, err)
	_, err = evtchn.BindInterdomain(hv8, 7, p)
	assert.ErrorIs(t, err, xen.EINVAL, "a port reserved for dom0 cannot be bound by dom8")
	_, err = evtchn.BindInterdomain(hv8, 99, 1)
	assert.ErrorIs(t, err, xen.ESRCH)

	var a [evtchn.SizeofEvtchnAllocUnbound]byte
	le.PutUint16(a[evtchn.OffsetofEvtchnAllocUnboundDom:], 8)
	assert.ErrorIs(t, hv7.EventChannelOp(evtchn.EVTCHNOP_alloc_unbound, a[:]), xen.EPERM,
		"only a privileged domain allocates in another")
	assert.NoError(t, x.Dom0().Hypervisor().EventChannelOp(evtchn.EVTCHNOP_alloc_unbound, a[:]))

	assert.ErrorIs(t, evtchn.Close(hv7, 4000), xen.EINVAL)
	assert.ErrorIs(t, hv7.EventChannelOp(evtchn.EVTCHNOP_send, []byte{1}), xen.EINVAL)
	assert.ErrorIs(t, hv7.EventChannelOp(99, nil), xen.ENOSYS)
	assert.ErrorIs(t, hv7.EventChannelOp(evtchn.EVTCHNOP_send, []byte{0, 0, 0, 0}), xen.EINVAL)
}

// The upcall goroutines end with Close, and events after it are latched, not delivered.
func TestCloseStopsUpcalls(t *testing.T) {
	x := New(Config{})
	g, err := x.NewDomain(5, DomainConfig{Pages: 16})
	require.NoError(t, err)
	calls := make(chan struct{}, 4)
	g.SetUpcall(func() { calls <- struct{}{} })
	x.Close()
	x.Close()
	_, err = x.NewDomain(6, DomainConfig{})
	assert.ErrorIs(t, err, xen.ErrClosed)
}
