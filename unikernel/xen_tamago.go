//go:build tamago && amd64

package unikernel

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/tamaxen/tamaxen/board/xenpvh"
	"github.com/tamaxen/tamaxen/hypercall"
	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/netstack"
	"github.com/tamaxen/tamaxen/netstack/netcfg"
	"github.com/tamaxen/tamaxen/xen/control"
)

// xenPlatform: sockets through the standard library (net.SocketFunc is hooked), shutdown
// through SCHEDOP_shutdown.
type xenPlatform struct{}

func (xenPlatform) listen(network, address string) (net.Listener, error) {
	return net.Listen(network, address)
}

func (xenPlatform) listenPacket(network, address string) (net.PacketConn, error) {
	return net.ListenPacket(network, address)
}

func (xenPlatform) close() {}

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
	gt, err := xenpvh.GrantTable()
	if err != nil {
		return nil, err
	}
	u := &Unikernel{opts: o, p: xenPlatform{}}
	began := time.Now()
	u.Net, err = netstack.Open(ctx, netfront.Platform{XenStore: xs, Grants: gt, Events: xenpvh.Events, Memory: xenpvh.Memory},
		netstack.Config{Net: nc, Device: netfront.Config{Queues: queues}, Logf: u.Logf})
	if err != nil {
		return nil, err
	}
	u.Net.Hook()
	u.Logf("network up in %v: %s, addresses %v", time.Since(began).Round(time.Millisecond), nc, u.Net.Addrs())

	life, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	u.done, u.stop = done, stop
	if err := control.Advertise(ctx, xs, control.Poweroff, control.Reboot); err != nil {
		u.Logf("cannot advertise shutdown support: %v", err)
	}
	reqs, err := control.Watch(life, xs, control.Poweroff, control.Reboot, control.Halt)
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
		if r, ok := <-reqs; ok {
			u.Logf("shutdown requested: %s", r)
		}
		close(done)
	}()
	return u, nil
}

const where = "Xen PVH"

func fatal() { _ = xenpvh.Shutdown(hypercall.SHUTDOWN_crash) }
