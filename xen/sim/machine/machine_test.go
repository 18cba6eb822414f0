package machine_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/xen/sim/machine"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
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
