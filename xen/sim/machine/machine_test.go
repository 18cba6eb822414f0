package machine_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/sim/machine"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
	"github.com/tamaxen/tamaxen/xen/xenbus"
)

func TestMachineRunsNetfront(t *testing.T) {
	before := runtime.NumGoroutine()
	m, err := machine.New(machine.Config{MAC: "00:16:3e:12:34:56"})
	require.NoError(t, err)
	be := m.Backend
	be.SetDeliver(func(f netback.Frame) { _ = be.Inject(f) })
	got := make(chan []byte, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dev, err := netfront.Open(ctx, m.Platform, netfront.Config{Receive: func(b []byte, _ netfront.RxMeta) {
		got <- append([]byte(nil), b...)
	}})
	require.NoError(t, err)
	assert.Equal(t, "00:16:3e:12:34:56", dev.MAC().String())
	assert.Equal(t, m.MAC, dev.MAC())
	f := make([]byte, 100)
	copy(f, "\xff\xff\xff\xff\xff\xff\x00\x16\x3e\x12\x34\x56\x88\xb5hello")
	require.NoError(t, dev.Send(ctx, f, netfront.TxMeta{}))
	select {
	case b := <-got:
		assert.Equal(t, f, b)
	case <-ctx.Done():
		t.Fatal("no echo")
	}
	require.NoError(t, dev.Close())
	m.Close()
	assert.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+1 }, 10*time.Second, 10*time.Millisecond)
}

func TestMachineRejectsBadMAC(t *testing.T) {
	_, err := machine.New(machine.Config{MAC: "nope"})
	assert.Error(t, err)
}

// Restore brings the guest's XenStore connection back on a new port, with its watches, and a
// new backend probes the vif afresh; the old frontend's keys are gone.
func TestMachineRestore(t *testing.T) {
	m, err := machine.New(machine.Config{})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	xs := m.Platform.XenStore
	require.NoError(t, xs.Write(ctx, "device/vif/0/stale-key", []byte("1")))
	w, err := xs.Watch(ctx, "data")
	require.NoError(t, err)
	<-w.Events() // the registration's own event
	oldPort, _ := m.Guest.Domain.Param(xen.HVM_PARAM_STORE_EVTCHN)
	oldBackend := m.Backend

	for range 3 {
		require.NoError(t, m.Restore(ctx))
		select {
		case <-w.Events(): // fired again on registering anew
		case <-ctx.Done():
			t.Fatal("the watch was not registered again")
		}
		require.NoError(t, xs.Write(ctx, "data/x", []byte("y")))
		select {
		case <-w.Events():
		case <-ctx.Done():
			t.Fatal("the watch does not fire after restore")
		}
	}
	newPort, _ := m.Guest.Domain.Param(xen.HVM_PARAM_STORE_EVTCHN)
	t.Logf("store port %d before, %d after", oldPort, newPort)
	_, err = xs.Read(ctx, "device/vif/0/stale-key")
	require.ErrorIs(t, err, xen.ENOENT, "the old frontend's keys survived")
	require.NotSame(t, oldBackend, m.Backend)
	assert.Eventually(t, func() bool { return m.Backend.State() == xenbus.XenbusStateInitWait }, 10*time.Second, time.Millisecond)
}
