// A hostile backend: every misbehaviour knob of the netback model must leave a broken device,
// counted, with no panic, and Close must still clean up.

package netfront

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/sim"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
)

func TestSimHostileBackend(t *testing.T) {
	for _, tc := range []struct {
		fault netback.Fault
		rx    bool // triggered by a frame to the guest rather than from it
	}{
		{netback.FaultTxBadID, false},
		{netback.FaultTxDuplicate, false},
		{netback.FaultRspProdOverflow, false},
		{netback.FaultRxBadID, true},
		{netback.FaultRxOverPage, true},
		{netback.FaultRxBadExtra, true},
		{netback.FaultRspProdOverflow, true},
	} {
		name := tc.fault.String() + map[bool]string{false: "/tx", true: "/rx"}[tc.rx]
		t.Run(name, func(t *testing.T) {
			r := newRig(t, rigOpts{})
			r.be.SetDeliver(func(netback.Frame) {})
			before := r.baseline(t).goroutines
			dev := r.open(t, Config{})
			ctx := hangCtx(t)
			// Traffic that works, completed, then the fault. Set while the backend still
			// answered the first frame, a duplicate response would land in the slot the next
			// Send fills, at the same time.
			require.NoError(t, dev.Send(ctx, frame(60, 0), TxMeta{}))
			require.Eventually(t, func() bool { return sumStats(dev.Stats()).TxInFlight == 0 }, hangDeadline, tick)
			r.be.SetFault(tc.fault)
			if tc.rx {
				require.NoError(t, r.be.Inject(netback.Frame{Data: frame(1500, 0)}))
			} else if err := dev.Send(ctx, frame(1500, 0), TxMeta{}); err != nil {
				require.ErrorIs(t, err, ErrBroken)
			}
			// TX completions are reclaimed on TX events: no further Send is needed, and none is
			// made, since a hostile backend's extra responses land in ring slots the frontend
			// would be filling with new requests at the same time.
			require.Eventually(t, func() bool { return dev.Err() != nil }, hangDeadline, tick)
			require.ErrorIs(t, dev.Err(), xen.ErrBroken)
			assert.NotZero(t, sumStats(dev.Stats()).Violations)
			assert.ErrorIs(t, dev.Send(ctx, frame(60, 0), TxMeta{}), ErrBroken)
			r.be.SetFault(netback.FaultNone)
			require.NoError(t, dev.Close())
			r.checkClean(t, before)
		})
	}
}

// A stalled backend is not a protocol violation: Send waits for ring space until its context
// ends, and traffic resumes once the backend does.
func TestSimStalledBackend(t *testing.T) {
	r := newRig(t, rigOpts{})
	fn, rx := collector(16)
	r.be.SetDeliver(func(netback.Frame) {})
	before := r.baseline(t).goroutines
	dev := r.open(t, Config{TxBuffers: MinTxBuffers, Receive: fn})
	r.be.SetFault(netback.FaultStall)
	require.NoError(t, r.be.Inject(netback.Frame{Data: frame(100, 0)}))
	ctx, cancel := context.WithCancel(hangCtx(t))
	defer cancel()
	var err error
	for i := 0; err == nil && i < 1000; i++ {
		if i == MinTxBuffers {
			cancel() // every TX buffer is in flight: the next Send can only end with ctx
		}
		err = dev.Send(ctx, frame(60, 0), TxMeta{})
	}
	require.ErrorIs(t, err, context.Canceled)
	assert.NoError(t, dev.Err())
	select {
	case <-rx:
		t.Fatal("a stalled backend delivered a frame")
	default:
	}
	r.be.SetFault(netback.FaultNone)
	recv(t, rx)
	require.NoError(t, dev.Send(hangCtx(t), frame(60, 0), TxMeta{}))
	require.NoError(t, dev.Close())
	r.checkClean(t, before)
}

// The backend closing mid-stream (hot-unplug). As Linux netfront's netback_changed does, the
// device reacts to Closing by closing its side, then connects again once the backend is back.
func TestSimBackendDisconnect(t *testing.T) {
	r := newRig(t, rigOpts{})
	var delivered atomic.Int64
	r.be.SetDeliver(func(netback.Frame) { delivered.Add(1) })
	before := r.baseline(t).goroutines
	links := make(chan bool, 4)
	dev := r.open(t, Config{Link: func(up bool) { links <- up }})
	ctx := hangCtx(t)
	require.NoError(t, dev.Send(ctx, frame(60, 0), TxMeta{}))
	require.Eventually(t, func() bool { return delivered.Load() == 1 }, hangDeadline, tick)

	// The backend closes mid-stream: the device notices, closes its side, and connects again
	// as soon as the backend is back in InitWait, as it is after a driver domain restart.
	r.be.Disconnect()
	assert.False(t, nextLink(t, links), "link down first")
	assert.True(t, nextLink(t, links), "then up again")
	require.Equal(t, uint64(1), dev.Reconnects())
	require.NoError(t, dev.Err())
	require.NoError(t, dev.Send(ctx, frame(60, 1), TxMeta{}))
	require.Eventually(t, func() bool { return delivered.Load() == 2 }, hangDeadline, tick,
		"traffic passes again after the reconnect")
	require.NoError(t, dev.Close())
	// Neither connection leaked a grant or a goroutine.
	r.checkClean(t, before)
}

// The backend closing mid-stream must at least leave a device that closes cleanly. Close comes
// while the device reacts to the backend (closing its side, connecting anew), at whichever
// step the scheduler lets it land (TestSimCloseDuringReconnect goes through each one): by then
// the backend may be anywhere from Closing to Connected again.
func TestSimBackendDisconnectClose(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.be.SetDeliver(func(netback.Frame) {})
	before := r.baseline(t).goroutines
	dev := r.open(t, Config{})
	ctx := hangCtx(t)
	require.NoError(t, dev.Send(ctx, frame(60, 0), TxMeta{}))
	r.be.Disconnect()
	require.NoError(t, dev.Close())
	r.checkClean(t, before)
	// And the vif can be connected again.
	dev = roundTrip(t, r, Config{}, []int{60, 1514})
	require.NoError(t, dev.Close())
}

// A backend that sends frames of more slots than any backend may use (here empty more_data
// slots after the first): each such frame is dropped and counted, the device is not broken,
// and frames pass again once the backend behaves.
func TestSimHostileBackendRxManySlots(t *testing.T) {
	r := newRig(t, rigOpts{})
	fn, rx := collector(16)
	r.be.SetDeliver(func(netback.Frame) {})
	before := r.baseline(t).goroutines
	dev := r.open(t, Config{Receive: fn})
	r.be.SetFault(netback.FaultRxManySlots)
	const frames = 5
	for i := range frames {
		require.NoError(t, r.be.Inject(netback.Frame{Data: frame(1500, byte(i))}))
	}
	require.Eventually(t, func() bool { return sumStats(dev.Stats()).RxOverSlots == frames }, hangDeadline, tick)
	require.NoError(t, dev.Err())
	s := sumStats(dev.Stats())
	assert.Equal(t, uint64(frames), s.RxErrors)
	assert.Zero(t, s.RxPackets+s.Violations)
	r.be.SetFault(netback.FaultNone)
	f := frame(1500, 9)
	require.NoError(t, r.be.Inject(netback.Frame{Data: f}))
	assert.Equal(t, f, recv(t, rx).data, "the ring goes on")
	require.NoError(t, dev.Close())
	r.checkClean(t, before)
}

// A backend that still maps some of the device's pages when it is closed (it unmaps late, or
// a driver domain hangs on to them): those pages are neither freed nor reused while mapped,
// and their grant references and pages come back once the backend lets go.
func TestSimTeardownGrantStillMapped(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.be.SetDeliver(func(netback.Frame) {})
	base := r.baseline(t)
	mem := r.guest.Domain.Memory().(interface{ Free() int })
	freePages := mem.Free()
	logs := make(chan string, 16)
	dev := r.open(t, Config{Logf: func(format string, args ...any) {
		select {
		case logs <- fmt.Sprintf(format, args...):
		default:
		}
	}})
	require.NoError(t, dev.Send(hangCtx(t), frame(60, 0), TxMeta{}))
	var maps []*sim.Mapping
	for _, key := range []string{"tx-ring-ref", "rx-ring-ref"} {
		v, err := r.gxs.Read(hangCtx(t), frontPath()+"/"+key)
		require.NoError(t, err)
		ref, err := strconv.ParseUint(string(v), 10, 32)
		require.NoError(t, err)
		m, err := r.dom0.Domain.MapGrant(guestID, xen.GrantRef(ref), true)
		require.NoError(t, err)
		maps = append(maps, m)
	}
	assert.NoError(t, dev.Close(), "a late unmap is not the caller's failure")
	// Still mapped: out of use, waiting.
	assert.Equal(t, len(maps), r.guest.Grants.Deferred())
	assert.Equal(t, len(maps), r.guest.Grants.RetryDeferred())
	assert.Equal(t, base.grants+len(maps), r.guest.Grants.InUse())
	assert.Equal(t, freePages-len(maps), mem.Free())
	for _, m := range maps {
		m.Data[0] = 0xff // the backend may still write: the page is still ours to lose
	}
	// Unmapped late: everything comes back.
	for _, m := range maps {
		m.Unmap()
	}
	assert.Zero(t, r.guest.Grants.RetryDeferred())
	assert.Equal(t, freePages, mem.Free(), "pages back")
	r.checkBaseline(t, base)
	assert.NotEmpty(t, logs, "the late unmap was logged")
}

// A device broken by its backend stays broken only as long as that connection: when the
// backend restarts (closes and comes back) or the domain resumes with a new one, the new
// connection starts clean, as Linux netfront's does, and the counters carry on.
func TestSimBrokenDeviceReconnects(t *testing.T) {
	for _, how := range []string{"backend restart", "resume"} {
		t.Run(how, func(t *testing.T) {
			r := newRig(t, rigOpts{})
			r.echo()
			base := r.baseline(t)
			links := make(chan bool, 4)
			fn, rx := collector(16)
			dev := r.open(t, Config{Link: func(up bool) { links <- up }, Receive: fn})
			sendEcho(t, dev, rx, 100, 1)

			r.be.SetFault(netback.FaultRxBadID)
			require.NoError(t, r.be.Inject(netback.Frame{Data: frame(100, 2)}))
			require.Eventually(t, func() bool { return dev.Err() != nil }, hangDeadline, tick)
			require.ErrorIs(t, dev.Err(), ErrBroken)
			require.ErrorIs(t, dev.Send(hangCtx(t), frame(60, 0), TxMeta{}), ErrBroken)
			r.be.SetFault(netback.FaultNone)

			switch how {
			case "backend restart":
				r.be.Disconnect()
			case "resume":
				require.NoError(t, r.m.Restore(hangCtx(t)))
				r.be = r.m.Backend
				r.echo()
				dev.Resume()
			}
			require.False(t, nextLink(t, links), "link down")
			require.True(t, nextLink(t, links), "link up on the new connection")
			require.NoError(t, dev.Err(), "a new connection is not broken")
			assert.EqualValues(t, 1, dev.Reconnects())
			sendEcho(t, dev, rx, 1500, 3)
			assert.Equal(t, uint64(1), sumStats(dev.Stats()).Violations, "the counters are kept")
			require.NoError(t, dev.Close())
			r.checkBaseline(t, base)
		})
	}
}

// nextLink waits for the next link change reported through Config.Link.
func nextLink(t *testing.T, links chan bool) bool {
	t.Helper()
	select {
	case up := <-links:
		return up
	case <-time.After(hangDeadline):
		t.Fatal("no link change")
		return false
	}
}
