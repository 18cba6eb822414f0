//go:build tamago && amd64

// Command hello is the walking skeleton of a tamaxen unikernel: it boots as a Xen PVH guest,
// talks to Xen by hypercall and to XenStore over its ring, keeps time, idles without burning CPU,
// and honours `xl shutdown` and `xl reboot`.
//
// Guest command line (extra= in the xl config):
//
//	timeout=<duration>  exit (power off) after this long, e.g. timeout=30s
//	panic=1             panic right after the report, to check that panics reach the console
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tamaxen/tamaxen/board/xenpvh"
	"github.com/tamaxen/tamaxen/hypercall"
	"github.com/tamaxen/tamaxen/xen/control"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

func main() {
	if err := run(); err != nil {
		fmt.Printf("hello: error: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	si, layout, cmdline := xenpvh.Info()

	major, minor, err := hypercall.Version()
	if err != nil {
		return fmt.Errorf("xen_version: %w", err)
	}
	extra, err := hypercall.ExtraVersion()
	if err != nil {
		return fmt.Errorf("xen_version extraversion: %w", err)
	}
	fmt.Printf("hello: xen version %d.%d%s\n", major, minor, extra)

	xs, err := xenpvh.XenStore()
	if err != nil {
		return err
	}
	id, err := xenstore.Identify(ctx, xs)
	if err != nil {
		return fmt.Errorf("xenstore identity: %w", err)
	}
	fmt.Printf("hello: domid %d\n", id.DomID)
	fmt.Printf("hello: name %s\n", id.Name)
	fmt.Printf("hello: memory %d MiB (runtime %d MiB, dma %d MiB)\n",
		xenpvh.TotalRAM(si.Memmap)>>20, layout.RAMSize>>20, layout.DMASize>>20)

	mac, err := xenstore.ReadString(ctx, xs, "device/vif/0/mac")
	if err != nil {
		fmt.Printf("hello: mac none (%v)\n", err)
	} else {
		fmt.Printf("hello: mac %s\n", mac)
	}
	fmt.Printf("hello: cmdline %q\n", cmdline.String())

	// Five samples: a wakeup can be late when the host is busy (under QEMU/TCG, very), but the
	// best sample shows whether the clock's rate and the timer wiring are right.
	best := time.Duration(1<<63 - 1)
	var samples []string
	for i := 0; i < 5; i++ {
		start := time.Now()
		time.Sleep(200 * time.Millisecond)
		d := time.Since(start)
		best = min(best, d)
		samples = append(samples, fmt.Sprintf("%.3f", float64(d.Nanoseconds())/1e6))
	}
	fmt.Printf("hello: sleep 200ms samples %s\n", strings.Join(samples, " "))
	fmt.Printf("hello: slept 200ms measured %.3fms\n", float64(best.Nanoseconds())/1e6)
	fmt.Printf("hello: uptime %v\n", xenpvh.Uptime().Round(time.Millisecond))
	fmt.Printf("hello: wallclock %s\n", time.Now().UTC().Format(time.RFC3339Nano))

	if v, ok := cmdline.Get("panic"); ok && v != "0" {
		panic("hello: deliberate panic")
	}

	if err := control.Advertise(ctx, xs, control.Poweroff, control.Reboot); err != nil {
		return fmt.Errorf("advertising shutdown features: %w", err)
	}
	reqs, err := control.Watch(ctx, xs, control.Poweroff, control.Reboot, control.Halt)
	if err != nil {
		return fmt.Errorf("watching control/shutdown: %w", err)
	}

	var timeout <-chan time.Time
	if v, ok := cmdline.Get("timeout"); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("timeout=%q: %w", v, err)
		}
		timeout = time.After(d)
	}
	fmt.Printf("hello: ready\n")

	select {
	case r := <-reqs:
		fmt.Printf("hello: shutdown request %s (upcalls %d)\n", r, xenpvh.Upcalls())
		reason := hypercall.SHUTDOWN_poweroff
		if r == control.Reboot {
			reason = hypercall.SHUTDOWN_reboot
		}
		return xenpvh.Shutdown(reason)
	case <-timeout:
		fmt.Printf("hello: timeout, powering off (upcalls %d)\n", xenpvh.Upcalls())
		return nil
	}
}
