// Channel tests: no lost notifications across goroutines, VIRQs, Close, failures, concurrency.

package evtchn

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
)

// TestNoLostNotifications runs n events from another goroutine through the fake Xen.
//   - pingpong: each side waits for the other's event before sending the next one, so a single
//     lost event deadlocks;
//   - stream: the producer publishes a counter and notifies without waiting; the consumer must
//     end up seeing the final value, i.e. the last event is never lost to coalescing.
func TestNoLostNotifications(t *testing.T) {
	for _, n := range []int{100, 10000} {
		t.Run(fmt.Sprintf("pingpong/%d", n), func(t *testing.T) {
			d, _ := newTestDispatcher()
			a, b := loopback(t, d)
			ctx := hangCtx(t)
			errc := make(chan error, 1)
			go func() {
				for range n {
					if err := b.Wait(ctx); err != nil {
						errc <- err
						return
					}
					if err := b.Notify(); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			for i := range n {
				require.NoError(t, a.Notify())
				require.NoError(t, a.Wait(ctx), "round %d", i)
			}
			require.NoError(t, <-errc)
		})
		t.Run(fmt.Sprintf("stream/%d", n), func(t *testing.T) {
			d, f := newTestDispatcher()
			a, b := loopback(t, d)
			ctx := hangCtx(t)
			var produced atomic.Int64
			go func() {
				for i := 1; i <= n; i++ {
					produced.Store(int64(i))
					if err := a.Notify(); err != nil {
						panic(err)
					}
				}
			}()
			wakeups := 0
			for produced.Load() != int64(n) || wakeups == 0 {
				require.NoError(t, b.Wait(ctx))
				wakeups++
			}
			assert.LessOrEqual(t, wakeups, n+1)
			t.Logf("%d events, %d wakeups, %d upcalls", n, wakeups, f.raised.Load())
		})
	}
}

func TestBindVIRQ(t *testing.T) {
	d, f := newTestDispatcher()
	c, err := d.BindVIRQ(VIRQ_TIMER, 0)
	require.NoError(t, err)
	require.True(t, f.raiseVIRQ(VIRQ_TIMER))
	require.NoError(t, c.Wait(hangCtx(t)))

	_, err = d.BindVIRQ(VIRQ_TIMER, 0)
	assert.ErrorIs(t, err, xen.EEXIST)
	_, err = d.BindVIRQ(VIRQ_DEBUG, 1)
	assert.Error(t, err, "vcpu other than the dispatcher's")
	assert.Equal(t, uint64(2), f.opCount[EVTCHNOP_bind_virq].Load(), "no hypercall for the wrong vcpu")
}

func TestConstructorsReportHypercallErrors(t *testing.T) {
	tests := []struct {
		name string
		cmd  uint32
		call func(*Dispatcher) (*Channel, error)
	}{
		{"alloc_unbound", EVTCHNOP_alloc_unbound, func(d *Dispatcher) (*Channel, error) { return d.AllocUnbound(0) }},
		{"bind_interdomain", EVTCHNOP_bind_interdomain, func(d *Dispatcher) (*Channel, error) { return d.BindInterdomain(0, 3) }},
		{"bind_virq", EVTCHNOP_bind_virq, func(d *Dispatcher) (*Channel, error) { return d.BindVIRQ(VIRQ_DEBUG, 0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, f := newTestDispatcher()
			f.failNext(tt.cmd, xen.ENOSPC)
			c, err := tt.call(d)
			assert.ErrorIs(t, err, xen.ENOSPC)
			assert.Nil(t, c)
			for p := range d.ports {
				require.Nil(t, d.ports[p].Load())
			}
			c, err = tt.call(d)
			require.NoError(t, err, "works once the failure is gone")
			assert.NotNil(t, c)
		})
	}
}

func TestNotifyReportsErrors(t *testing.T) {
	d, f := newTestDispatcher()
	c, err := d.AllocUnbound(0)
	require.NoError(t, err)
	require.NoError(t, c.Notify(), "send on an unbound port is dropped by Xen")
	f.failNext(EVTCHNOP_send, xen.EINVAL)
	assert.ErrorIs(t, c.Notify(), xen.EINVAL)
	assert.EqualValues(t, 1, d.Stats().Notifies, "only the send that went is counted")
}

func TestClose(t *testing.T) {
	d, f := newTestDispatcher()
	a, b := loopback(t, d)

	waitErr := make(chan error)
	go func() { waitErr <- b.Wait(context.Background()) }()
	require.NoError(t, b.Close())
	assert.ErrorIs(t, <-waitErr, xen.ErrClosed, "Close releases a blocked Wait")
	assert.ErrorIs(t, b.Wait(context.Background()), xen.ErrClosed)
	assert.ErrorIs(t, b.Notify(), xen.ErrClosed)
	assert.ErrorIs(t, b.Close(), xen.ErrClosed)
	assert.Equal(t, uint64(1), f.opCount[EVTCHNOP_close].Load())
	assert.Nil(t, d.ports[b.Port()].Load())
	assert.True(t, d.si.masked(b.Port()))

	// The peer's port is unbound again in Xen: sends are dropped, nothing is delivered.
	events := d.Stats().Events
	require.NoError(t, a.Notify())
	assert.Equal(t, events, d.Stats().Events)

	// Closing a port while Xen refuses still detaches it locally and reports the error.
	f.failNext(EVTCHNOP_close, xen.EINVAL)
	assert.ErrorIs(t, a.Close(), xen.EINVAL)
	assert.Nil(t, d.ports[a.Port()].Load())

	// Attach'd ports are not closed in Xen.
	c, err := d.Attach(100)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	assert.Equal(t, uint64(2), f.opCount[EVTCHNOP_close].Load())
}

// TestConcurrentChannels runs several loopback pairs at once while other goroutines bind and
// close channels and fire empty upcalls, for the race detector.
func TestConcurrentChannels(t *testing.T) {
	d, f := newTestDispatcher()
	ctx := hangCtx(t)
	const pairs, rounds = 8, 500
	var wg sync.WaitGroup
	for range pairs {
		a, b := loopback(t, d)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range rounds {
				assert.NoError(t, b.Wait(ctx))
				assert.NoError(t, b.Notify())
			}
		}()
		go func() {
			defer wg.Done()
			for range rounds {
				assert.NoError(t, a.Notify())
				assert.NoError(t, a.Wait(ctx))
			}
		}()
	}
	stop := make(chan struct{})
	var side sync.WaitGroup
	side.Add(2)
	go func() {
		defer side.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			c, err := d.BindInterdomain(0, 9)
			if assert.NoError(t, err) {
				f.remoteSend(c.Port())
				assert.NoError(t, c.Close())
			}
		}
	}()
	go func() {
		defer side.Done()
		for {
			select {
			case <-stop:
				return
			default:
				d.Upcall()
			}
		}
	}()
	wg.Wait()
	close(stop)
	side.Wait()
}

// An Upcall that found a port's Channel, and then lost the race to its Close and to a new
// binding of the same number, hands the event it takes to the Channel on the port now: the new
// one's event, sent while that Upcall ran, must not go to the closed Channel.
func TestDeliverToTheCurrentChannel(t *testing.T) {
	d, f := newTestDispatcher()
	old, err := d.BindInterdomain(0, 9)
	require.NoError(t, err)
	require.NoError(t, old.Wait(cancelled()), "the bind's own mark")
	var c *Channel
	d.testHookBeforeTake = func(p xen.Port) {
		d.testHookBeforeTake = nil
		// The vcpu is in this Upcall: an upcall raised meanwhile waits for it.
		upcall := f.upcall
		f.upcall = func() {}
		defer func() { f.upcall = upcall }()
		require.NoError(t, old.Close())
		c, err = d.BindInterdomain(0, 9)
		require.NoError(t, err)
		require.Equal(t, p, c.Port(), "the number is reused")
		require.NoError(t, c.Wait(cancelled()), "the old event, found by attach's re-check")
		f.remoteSend(p)
	}
	f.remoteSend(old.Port())
	require.NotNil(t, c)
	assert.NoError(t, c.Wait(cancelled()), "the event sent after c attached went to the closed channel")
}

// An event taken off a port whose Channel was closed meanwhile stays pending for the next
// Channel attached to the port.
func TestDeliverWithNoChannelLeft(t *testing.T) {
	d, f := newTestDispatcher()
	old, err := d.Attach(5)
	require.NoError(t, err)
	d.testHookBeforeTake = func(xen.Port) {
		d.testHookBeforeTake = nil
		require.NoError(t, old.Close())
	}
	f.remoteSend(5)
	c, err := d.Attach(5)
	require.NoError(t, err)
	assert.NoError(t, c.Wait(cancelled()), "the event was not kept for the next channel")
}
