// Dispatcher tests: set-up checks, delivery, coalescing, the unmask re-check, strays.

package evtchn

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
)

// hangCtx turns a lost wakeup, which would block forever, into a test failure.
func hangCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestNewChecksSharedInfo(t *testing.T) {
	page := alignedPage()
	tests := []struct {
		name string
		hv   xen.Hypervisor
		b    []byte
		vcpu uint32
		ok   bool
	}{
		{"page", newFakeXen(), page, 0, true},
		{"minimum size", newFakeXen(), page[:SharedInfoMinSize], 31, true},
		{"short", newFakeXen(), page[:SharedInfoMinSize-1], 0, false},
		{"empty", newFakeXen(), nil, 0, false},
		{"misaligned", newFakeXen(), page[4:], 0, false},
		{"vcpu out of range", newFakeXen(), page, XEN_LEGACY_MAX_VCPUS, false},
		{"nil hypervisor", nil, page, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(tt.hv, tt.b, tt.vcpu)
			if !tt.ok {
				assert.Error(t, err)
				assert.Nil(t, d)
				return
			}
			require.NoError(t, err)
			for p := xen.Port(0); p < EVTCHN_2L_NR_CHANNELS; p++ {
				require.True(t, d.si.masked(p), "port %d masked at start", p)
			}
		})
	}
}

// loopback returns two connected Channels of one guest and drains the event Xen posts on bind.
func loopback(t testing.TB, d *Dispatcher) (a, b *Channel) {
	a, err := d.AllocUnbound(xen.DOMID_SELF)
	require.NoError(t, err)
	b, err = d.BindInterdomain(xen.DOMID_SELF, a.Port())
	require.NoError(t, err)
	require.NoError(t, b.Wait(cancelled()), "Xen marks a freshly bound port pending")
	require.ErrorIs(t, b.Wait(cancelled()), context.Canceled)
	return a, b
}

func TestLoopbackDelivers(t *testing.T) {
	d, _ := newTestDispatcher()
	a, b := loopback(t, d)
	assert.NotEqual(t, a.Port(), b.Port())

	require.NoError(t, a.Notify())
	require.NoError(t, b.Wait(hangCtx(t)))
	require.NoError(t, b.Notify())
	require.NoError(t, a.Wait(hangCtx(t)))
	assert.ErrorIs(t, a.Wait(cancelled()), context.Canceled)
	assert.ErrorIs(t, b.Wait(cancelled()), context.Canceled)
}

// TestCoalescing: n events before a Wait produce one wakeup, plus exactly one re-delivery for
// the events that arrived after the first one masked the port. Xen raises a single upcall.
func TestCoalescing(t *testing.T) {
	for _, n := range []int{1, 2, 5, 100} {
		t.Run("", func(t *testing.T) {
			d, f := newTestDispatcher()
			c, err := d.BindInterdomain(0, 11)
			require.NoError(t, err)
			require.NoError(t, c.Wait(cancelled()))
			raised := f.raised.Load()

			for range n {
				f.remoteSend(c.Port())
			}
			assert.Equal(t, raised+1, f.raised.Load(), "masked port raises no further upcalls")
			wakeups := 0
			for c.Wait(cancelled()) == nil {
				wakeups++
			}
			want := 2
			if n == 1 {
				want = 1
			}
			assert.Equal(t, want, wakeups)
			assert.False(t, d.si.masked(c.Port()), "port unmasked after the waiter ran")
			assert.False(t, d.si.isPending(c.Port()))
		})
	}
}

// TestUnmaskRecheck: an event that arrives while the port is masked sets pending without an
// upcall (the edge is lost in Xen); the local unmask in Wait must find and deliver it.
func TestUnmaskRecheck(t *testing.T) {
	d, f := newTestDispatcher()
	c, err := d.BindInterdomain(0, 11)
	require.NoError(t, err)
	require.NoError(t, c.Wait(cancelled()))

	f.remoteSend(c.Port()) // upcall: masked, token
	require.True(t, d.si.masked(c.Port()))
	require.NoError(t, c.Wait(cancelled())) // consumes the token and unmasks
	require.ErrorIs(t, c.Wait(cancelled()), context.Canceled)

	// Mask as Upcall does and take the token away, then latch an event.
	f.remoteSend(c.Port())
	<-c.ch
	raised := f.raised.Load()
	f.remoteSend(c.Port())
	assert.Equal(t, raised, f.raised.Load(), "no upcall for a masked port")
	assert.True(t, d.si.isPending(c.Port()))

	d.unmask(c.Port())
	assert.NoError(t, c.Wait(cancelled()), "re-check delivered the latched event")
	assert.False(t, d.si.isPending(c.Port()))
}

// TestHypercallUnmask: EVTCHNOP_unmask in (fake) Xen raises the upcall for a latched event; the
// Dispatcher copes with either kind of unmask.
func TestHypercallUnmask(t *testing.T) {
	d, f := newTestDispatcher()
	c, err := d.BindInterdomain(0, 11)
	require.NoError(t, err)
	require.NoError(t, c.Wait(cancelled()))
	d.si.setMask(c.Port())
	f.remoteSend(c.Port())
	raised := f.raised.Load()
	require.NoError(t, Unmask(f, c.Port()))
	assert.Equal(t, raised+1, f.raised.Load())
	assert.NoError(t, c.Wait(cancelled()))
}

func TestStrayUpcall(t *testing.T) {
	d, f := newTestDispatcher()
	d.Upcall()
	assert.Equal(t, Stats{Upcalls: 1}, d.Stats(), "an empty upcall is normal")

	// An unmasked pending port nobody attached: masked, left pending, nobody woken.
	const port = 77
	d.si.clearMask(port)
	f.setPending(port)
	assert.Equal(t, Stats{Upcalls: 2, Stray: 1}, d.Stats())
	assert.True(t, d.si.masked(port))
	assert.True(t, d.si.isPending(port))

	// Attaching later finds it: the re-check delivers what arrived before the handler existed.
	c, err := d.Attach(port)
	require.NoError(t, err)
	assert.NoError(t, c.Wait(cancelled()))
	assert.Equal(t, uint64(1), d.Stats().Events)
}

func TestAttachRejects(t *testing.T) {
	d, _ := newTestDispatcher()
	for _, p := range []xen.Port{0, EVTCHN_2L_NR_CHANNELS} {
		_, err := d.Attach(p)
		assert.ErrorIs(t, err, ErrBadPort)
	}
	c, err := d.Attach(5)
	require.NoError(t, err)
	_, err = d.Attach(5)
	assert.ErrorIs(t, err, ErrPortInUse)
	require.NoError(t, c.Close())
	_, err = d.Attach(5)
	assert.NoError(t, err, "slot free again after Close")
}

func TestPendingReflectsUpcallFlag(t *testing.T) {
	d, f := newTestDispatcher()
	f.upcall = nil // the interrupt is "lost": nobody calls Upcall
	c, err := d.BindVIRQ(VIRQ_TIMER, 0)
	require.NoError(t, err)
	assert.False(t, d.Pending())
	require.True(t, f.raiseVIRQ(VIRQ_TIMER))
	assert.True(t, d.Pending(), "Xen flagged the upcall")
	d.Upcall() // a platform's poll
	assert.False(t, d.Pending())
	require.NoError(t, c.Wait(cancelled()), "the polled upcall delivered the event")
}
