//go:build tamago && amd64

// Command netcheck brings up the guest's vif with netfront and answers ARP, ICMP echo and UDP
// echo (port 7) for the address given on its command line, printing what was negotiated with
// the backend and the queue counters. It is the real-Xen check of the driver against Linux
// netback: dom0 pings it and sends it UDP.
//
// Guest command line (extra= in the xl config):
//
//	ip=10.0.0.2     the address to answer for
//	queues=2        queues to ask for
//	timeout=60s     power off after this long
//
// The driver reconnects by itself when the vif is detached and attached again.
//
//	reconnect=1     after the first close of the backend (xl network-detach), wait for a new
//	                vif and keep answering
//
// The queue counters ("netcheck: queue N ...") are printed within 2 s of a change in what was
// answered or in the protocol violations counted, and once more, whatever changed, on `xl
// shutdown` (after "netcheck: shutdown request poweroff") and before powering off on the
// timeout or on a broken device: the last lines on the console always hold the final figures.
package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/tamaxen/tamaxen/board/xenpvh"
	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/xen/control"
)

func main() {
	if err := run(); err != nil {
		fmt.Printf("netcheck: error: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	_, _, cmdline := xenpvh.Info()
	ipStr, _ := cmdline.Get("ip")
	if ipStr == "" {
		ipStr = "10.0.0.2"
	}
	ip, err := netip.ParseAddr(ipStr)
	if err != nil || !ip.Is4() {
		return fmt.Errorf("ip=%q: want an IPv4 address", ipStr)
	}
	queues := 1
	if v, ok := cmdline.Get("queues"); ok {
		if queues, err = strconv.Atoi(v); err != nil {
			return fmt.Errorf("queues=%q: %w", v, err)
		}
	}
	timeout := 60 * time.Second
	if v, ok := cmdline.Get("timeout"); ok {
		if timeout, err = time.ParseDuration(v); err != nil {
			return fmt.Errorf("timeout=%q: %w", v, err)
		}
	}

	xs, err := xenpvh.XenStore()
	if err != nil {
		return err
	}
	gt, err := xenpvh.GrantTable()
	if err != nil {
		return err
	}
	r := &responder{ip: ip.As4()}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	start := time.Now()
	dev, err := netfront.Open(ctx, netfront.Platform{
		XenStore: xs, Grants: gt, Events: xenpvh.Events, Memory: xenpvh.Memory,
	}, netfront.Config{
		Queues:  queues,
		Receive: r.receive,
		Link: func(up bool) {
			if !up {
				fmt.Printf("netcheck: link down\n")
				return
			}
			if dev := r.dev.Load(); dev != nil {
				r.setMAC(dev.MAC())
				fmt.Printf("netcheck: link up again (reconnect %d) mac %s\n", dev.Reconnects(), dev.MAC())
			}
		},
		Logf: func(format string, args ...any) { fmt.Printf(format+"\n", args...) },
	})
	if err != nil {
		return err
	}
	r.dev.Store(dev)
	r.setMAC(dev.MAC())
	f := dev.Features()
	fmt.Printf("netcheck: connected %s mac %s mtu %d in %v\n", dev.Path(), dev.MAC(), dev.MTU(), time.Since(start).Round(time.Millisecond))
	fmt.Printf("netcheck: features rx-copy=%v sg=%v gso-tcpv4=%v gso-tcpv6=%v csum=%v ipv6-csum=%v split-evtchn=%v queues=%d\n",
		f.RxCopy, f.SG, f.GSOTCPv4, f.GSOTCPv6, f.CsumOffload, f.IPv6CsumOffload, f.SplitEventChannels, f.Queues)
	if err := control.Advertise(ctx, xs, control.Poweroff); err != nil {
		return fmt.Errorf("advertising shutdown features: %w", err)
	}
	reqs, err := control.Watch(ctx, xs, control.Poweroff)
	if err != nil {
		return fmt.Errorf("watching control/shutdown: %w", err)
	}
	fmt.Printf("netcheck: ready ip %s\n", ip)

	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	// A violation can come after the last frame answered (a late response on the ring): the
	// test reads the last counters printed, so a change in either figure prints them.
	var answered, violations uint64
	for {
		select {
		case <-ctx.Done():
			report(dev)
			fmt.Printf("netcheck: timeout, powering off\n")
			return dev.Close()
		case req, ok := <-reqs:
			if !ok {
				reqs = nil // the watch ended; the timeout still powers off
				continue
			}
			fmt.Printf("netcheck: shutdown request %s\n", req)
			report(dev)
			fmt.Printf("netcheck: powering off\n")
			return dev.Close()
		case <-tick.C:
			if err := dev.Err(); err != nil {
				report(dev)
				return err
			}
			n, v := r.answered.Load(), totalViolations(dev)
			if n != answered || v != violations {
				answered, violations = n, v
				report(dev)
			}
		}
	}
}

func totalViolations(dev *netfront.Device) uint64 {
	var v uint64
	for _, s := range dev.Stats() {
		v += s.Violations
	}
	return v
}

func report(dev *netfront.Device) {
	for i, s := range dev.Stats() {
		fmt.Printf("netcheck: queue %d tx %d pkts %d bytes %d err %d drop | rx %d pkts %d bytes %d err %d drop %d csum-blank %d gso | violations %d\n",
			i, s.TxPackets, s.TxBytes, s.TxErrors, s.TxDropped, s.RxPackets, s.RxBytes, s.RxErrors, s.RxDropped, s.RxCsumBlank, s.RxGSO, s.Violations)
	}
}
