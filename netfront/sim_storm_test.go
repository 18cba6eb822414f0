// An event storm on the simulated Xen: a backend notifying in a tight loop with nothing on the
// rings.

package netfront

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/evtchn"
	"github.com/tamaxen/tamaxen/xen/sim"
)

// guestPorts are the guest's event channels of the vif, as it published them.
func guestPorts(t *testing.T, r *rig) []xen.Port {
	var ports []xen.Port
	for _, key := range []string{"event-channel", "event-channel-tx", "event-channel-rx"} {
		if v, ok := r.xs.Read(frontPath() + "/" + key); ok {
			var p uint32
			_, err := fmt.Sscan(v, &p)
			require.NoError(t, err)
			ports = append(ports, xen.Port(p))
		}
	}
	require.NotEmpty(t, ports)
	return ports
}

// dom0Port finds dom0's end of the interdomain channel bound to the guest's port.
func dom0Port(t *testing.T, r *rig, guestPort xen.Port) xen.Port {
	for p := xen.Port(1); p < 1024; p++ {
		st, err := r.dom0.Domain.PortStatus(p)
		if err == nil && st.Status == sim.EVTCHNSTAT_interdomain && st.Remote == guestID && st.RemotePort == guestPort {
			return p
		}
	}
	t.Fatalf("no dom0 port bound to guest port %d", guestPort)
	return 0
}

// An event storm: the backend notifies the guest's event channels in a tight loop, with
// nothing on the rings. On one CPU, as a TamaGo guest has, the guest's other goroutines (a
// ticker) keep running and the device keeps passing traffic; the storm costs no violation.
// The ticker's count and worst lateness are logged, and only its progress is asserted: the
// storm lasts at least its time and then until the ticker, the traffic and the storm itself
// have each come so far (a loaded host gives them less of that time), or a hang deadline.
func TestSimFaultEventStorm(t *testing.T) {
	for _, split := range []bool{true, false} {
		t.Run(fmt.Sprintf("split=%v", split), func(t *testing.T) {
			storm := time.Second
			if testing.Short() {
				storm = 200 * time.Millisecond
			}
			r := newRig(t, rigOpts{})
			r.echo()
			base := r.baseline(t)
			fn, rx := collector(4)
			dev := r.open(t, Config{NoSplitEventChannels: !split, Receive: fn})
			var ports []xen.Port
			for _, p := range guestPorts(t, r) {
				ports = append(ports, dom0Port(t, r, p))
			}
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))

			ctx, cancel := context.WithCancel(hangCtx(t))
			defer cancel()
			start := time.Now()
			var wg sync.WaitGroup
			var sends atomic.Int64
			notifyLoop(ctx, &wg, r, ports, &sends)
			// The guest's other work: a 10 ms ticker, and how late it runs.
			var tk lateTicker
			tk.run(ctx, &wg)
			const minSends, minEchoes = 1000, 5
			minTicks := max(int64(storm/(10*time.Millisecond)/20), 2)
			echoes := 0
			for ; time.Since(start) < storm || sends.Load() <= minSends || tk.ticks.Load() < minTicks || echoes <= minEchoes; echoes++ {
				if time.Since(start) > hangDeadline {
					break
				}
				sendEcho(t, dev, rx, 60+echoes%1400, byte(echoes))
			}
			storm = time.Since(start)
			cancel()
			wg.Wait()
			events := r.guest.Events.Stats().Events
			st := sumStats(dev.Stats())
			t.Logf("storm of %v: %d notifications, %d events delivered, %d spurious wakeups, %d pauses; %d echoes; %d ticks, worst lateness %v",
				storm, sends.Load(), events, st.Spurious, st.Throttled, echoes, tk.ticks.Load(), time.Duration(tk.worst.Load()))
			assert.Greater(t, sends.Load(), int64(minSends), "no storm")
			// Progress, not punctuality: on a loaded host the ticker runs late and drops ticks
			// (the lateness is logged above), but it must not stop.
			assert.GreaterOrEqual(t, tk.ticks.Load(), minTicks, "the ticker starved")
			assert.Greater(t, echoes, minEchoes, "traffic starved")
			require.NoError(t, dev.Err())
			assert.Zero(t, sumStats(dev.Stats()).Violations)

			// With no traffic between its events the storm is seen for what it is: the
			// driver pauses (TestStormThrottled bounds its pace on a virtual clock).
			ctx, cancel = context.WithCancel(hangCtx(t))
			notifyLoop(ctx, &wg, r, ports, nil)
			assert.Eventually(t, func() bool { return sumStats(dev.Stats()).Throttled > 0 }, hangDeadline, tick,
				"the storm was not throttled")
			cancel()
			wg.Wait()
			sendEcho(t, dev, rx, 1514, 0)
			require.NoError(t, dev.Close())
			r.checkBaseline(t, base)
		})
	}
}

// notifyLoop has dom0 notify each of ports in a tight loop, one goroutine per port, until ctx
// ends; sends, if not nil, counts the notifications that went out.
func notifyLoop(ctx context.Context, wg *sync.WaitGroup, r *rig, ports []xen.Port, sends *atomic.Int64) {
	for _, p := range ports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hv := r.dom0.Domain.Hypervisor()
			for ctx.Err() == nil {
				if evtchn.Send(hv, p) == nil && sends != nil {
					sends.Add(1)
				}
			}
		}()
	}
}

// lateTicker is a 10 ms ticker that counts its ticks and its worst lateness.
type lateTicker struct{ ticks, worst atomic.Int64 }

// run ticks on a goroutine of its own until ctx ends.
func (k *lateTicker) run(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		const period = 10 * time.Millisecond
		tk := time.NewTicker(period)
		defer tk.Stop()
		last := time.Now()
		for {
			select {
			case now := <-tk.C:
				if late := now.Sub(last) - period; late > time.Duration(k.worst.Load()) {
					k.worst.Store(int64(late))
				}
				last = now
				k.ticks.Add(1)
			case <-ctx.Done():
				return
			}
		}
	}()
}
