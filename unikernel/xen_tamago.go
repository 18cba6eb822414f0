//go:build tamago && amd64

package unikernel

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/tamaxen/tamaxen/board/xenpvh"
	"github.com/tamaxen/tamaxen/hypercall"
	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/netstack"
	"github.com/tamaxen/tamaxen/netstack/netcfg"
	"github.com/tamaxen/tamaxen/xen/control"
	"github.com/tamaxen/tamaxen/xen/xenbus"
)

// heapCapacity estimates how far the Go heap can grow: the runtime takes its heap from the RAM
// past the image's data, up to the initial stack, in 4 MiB arenas aligned to 4 MiB and
// interleaved with its own metadata, which costs about two arenas of that span. On the
// QEMU/Xen image at memory = 32, httpd (a 9.7 MiB image, 17 MiB past it) ran out asking for a
// third arena and echo (5.7 MiB, 21 MiB past it) for a fourth: 8 and 12 MiB, as estimated.
// Never less than one arena.
func heapCapacity() uint64 {
	const arena = 4 << 20
	_, end := runtime.MemRegion()
	_, data := runtime.DataRegion()
	n := uint64(1)
	if end > data && (end-data)/arena > 3 {
		n = (end-data)/arena - 2
	}
	return n * arena
}

// xenPlatform: sockets through the standard library (net.SocketFunc is hooked), shutdown
// through SCHEDOP_shutdown.
type xenPlatform struct{}

func (xenPlatform) listen(_ *netstack.Stack, network, address string) (net.Listener, error) {
	return net.Listen(network, address)
}

func (xenPlatform) close() {}

// stats: upcalls serviced, those the backstop timer rescued (an interrupt Xen never
// delivered), how often the scheduler went idle, and the vCPU's time as Xen accounted it:
// running, runnable while other domains ran (steal), halted.
func (xenPlatform) stats() string {
	s := fmt.Sprintf("upcalls %d rescued %d idle %d", xenpvh.Upcalls(), xenpvh.Rescued(), xenpvh.Idles())
	if r, err := xenpvh.CPUTime(); err == nil {
		s += fmt.Sprintf(" | cpu run %.3fs steal %.3fs halt %.3fs", float64(r.Time[hypercall.RUNSTATE_running])/1e9,
			float64(r.Time[hypercall.RUNSTATE_runnable])/1e9, float64(r.Time[hypercall.RUNSTATE_blocked])/1e9)
	}
	return s
}

func (xenPlatform) exit(err error) {
	reason := hypercall.SHUTDOWN_poweroff
	if err != nil {
		reason = hypercall.SHUTDOWN_crash
	}
	_ = xenpvh.Shutdown(reason)
}

func start(ctx context.Context, o Options) (*Unikernel, error) {
	_, _, cmdline := xenpvh.Info()
	nc, err := netcfg.Parse(cmdline.String())
	if err != nil {
		return nil, err
	}
	queues := 1
	if v, ok := cmdline.Get("queues"); ok {
		if queues, err = strconv.Atoi(v); err != nil || queues < 1 {
			return nil, fmt.Errorf("queues=%q: want a positive number", v)
		}
	}
	xs, err := xenpvh.XenStore()
	if err != nil {
		return nil, err
	}
	o.timeline.Mark(netstack.StageXenStore)
	gt, err := xenpvh.GrantTable()
	if err != nil {
		return nil, err
	}
	heap := heapCapacity()
	// Short of it, the collector works harder rather than let the heap ask for an arena that
	// does not fit (which is a crash): a guest near its memory slows down instead of dying.
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	debug.SetMemoryLimit(memoryLimit(heap, &ms))
	u := &Unikernel{opts: o, p: xenPlatform{}}
	began := time.Now()
	u.Net, err = netstack.Open(ctx, xenbus.Platform{XenStore: xs, Grants: gt, Events: xenpvh.Events, Memory: xenpvh.Memory},
		netstack.Config{Net: nc, Device: netfront.Config{Queues: queues}, Logf: u.Logf, Memory: heap, Timeline: o.timeline})
	if err != nil {
		return nil, err
	}
	u.Net.Hook()
	u.Logf("network up in %v: %s, addresses %v", time.Since(began).Round(time.Millisecond), nc, u.Net.Addrs())

	life, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	u.done, u.stop = done, stop
	if err := control.Advertise(ctx, xs, control.Poweroff, control.Reboot, control.Suspend); err != nil {
		u.Logf("cannot advertise shutdown support: %v", err)
	}
	reqs, err := control.Watch(life, xs, control.Poweroff, control.Reboot, control.Halt, control.Suspend)
	if err != nil {
		stop()
		return nil, err
	}
	if v, ok := cmdline.Get("stats"); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			stop()
			return nil, fmt.Errorf("stats=%q: %w", v, err)
		}
		u.report(d)
	}
	go func() {
		defer close(done)
		for r := range reqs {
			if r != control.Suspend {
				u.Logf("shutdown requested: %s", r)
				return
			}
			u.suspend(life)
		}
	}()
	return u, nil
}

// suspend answers xl save: the board suspends the domain and, once it runs again in a new
// domain (xl restore), the network device reconnects to the new backend. Sockets stay open:
// TCP retransmits what was in flight while the domain was away.
func (u *Unikernel) suspend(ctx context.Context) {
	u.Logf("suspending")
	began := time.Now()
	newDomain, err := xenpvh.Suspend(ctx)
	if err != nil {
		u.Logf("resume: %v", err)
	}
	if !newDomain {
		u.Logf("suspension cancelled; carrying on")
		return
	}
	u.Net.Device().Resume()
	if xs, err := xenpvh.XenStore(); err == nil {
		// The new domain's XenStore tree is the toolstack's: say again what we honour.
		if err := control.Advertise(ctx, xs, control.Poweroff, control.Reboot, control.Suspend); err != nil {
			u.Logf("cannot advertise shutdown support: %v", err)
		}
	}
	u.Logf("resumed in a new domain after %v away", time.Since(began).Round(time.Millisecond))
}

const where = "Xen PVH"

func fatal() { _ = xenpvh.Shutdown(hypercall.SHUTDOWN_crash) }
