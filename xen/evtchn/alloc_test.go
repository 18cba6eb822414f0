// The interrupt path and the Notify/Wait hot path must not allocate; benchmarks for both.

package evtchn

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAllocsUpcall(t *testing.T) {
	d, f := newTestDispatcher()
	c, err := d.BindInterdomain(0, 11)
	require.NoError(t, err)
	require.NoError(t, c.Wait(cancelled()))
	f.upcall = nil // the measured function calls Upcall itself

	allocs := testing.AllocsPerRun(1000, func() {
		f.remoteSend(c.Port()) // pending, selector, upcall_pending, as Xen would
		d.Upcall()
		<-c.ch
		d.unmask(c.Port())
	})
	assert.Zero(t, allocs)
	assert.Zero(t, testing.AllocsPerRun(1000, d.Upcall), "empty upcall")
}

func TestAllocsNotifyWait(t *testing.T) {
	d, _ := newTestDispatcher()
	a, b := loopback(t, d)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if err := a.Notify(); err != nil {
			panic(err)
		}
		if err := b.Wait(ctx); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs)
}

func BenchmarkUpcall(b *testing.B) {
	d, f := newTestDispatcher()
	c, err := d.BindInterdomain(0, 11)
	require.NoError(b, err)
	require.NoError(b, c.Wait(cancelled()))
	f.upcall = nil
	b.ReportAllocs()
	for b.Loop() {
		f.remoteSend(c.Port())
		d.Upcall()
		<-c.ch
		d.unmask(c.Port())
	}
}

func BenchmarkUpcallEmpty(b *testing.B) {
	d, _ := newTestDispatcher()
	b.ReportAllocs()
	for b.Loop() {
		d.Upcall()
	}
}

// BenchmarkNotifyWait is a same-goroutine loopback: send, upcall, wake, unmask.
func BenchmarkNotifyWait(b *testing.B) {
	d, _ := newTestDispatcher()
	x, y := loopback(b, d)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = x.Notify()
		_ = y.Wait(ctx)
	}
}

// BenchmarkPingPong crosses goroutines each way, as a driver and its peer would.
func BenchmarkPingPong(b *testing.B) {
	d, _ := newTestDispatcher()
	x, y := loopback(b, d)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for y.Wait(ctx) == nil {
			_ = y.Notify()
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		_ = x.Notify()
		_ = x.Wait(ctx)
	}
}
