// Package control answers the toolstack's requests to power off, reboot or suspend the guest,
// made through the control/shutdown XenStore node (Xen's docs/misc/xenstore-paths.pandoc).
//
// `xl shutdown` and `xl reboot` write "poweroff" or "reboot" to control/shutdown in the guest's
// home directory and wait for the domain to go away. The guest acknowledges a request it knows by
// writing "" back in the same transaction that read it, as Linux does, then acts on it; requests
// it does not know stay unacknowledged so the toolstack can tell.
package control

import (
	"context"
	"errors"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// Request is a value the toolstack writes to control/shutdown.
type Request string

// The requests a guest may be asked to honour.
const (
	Poweroff Request = "poweroff"
	Reboot   Request = "reboot"
	Halt     Request = "halt"
	Suspend  Request = "suspend"
)

// ShutdownPath is the node the toolstack writes, relative to the guest's home directory.
const ShutdownPath = "control/shutdown"

// Advertise tells the toolstack which requests the guest honours (control/feature-<request>).
func Advertise(ctx context.Context, xs *xenstore.Client, reqs ...Request) error {
	for _, r := range reqs {
		if err := xs.Write(ctx, "control/feature-"+string(r), []byte("1")); err != nil {
			return err
		}
	}
	return nil
}

// Watch delivers each shutdown request in known, after acknowledging it, until ctx ends or the
// XenStore connection fails; then the channel is closed.
func Watch(ctx context.Context, xs *xenstore.Client, known ...Request) (<-chan Request, error) {
	w, err := xs.Watch(ctx, ShutdownPath)
	if err != nil {
		return nil, err
	}
	out := make(chan Request, 1)
	go func() {
		defer close(out)
		defer func() { _ = xs.Unwatch(context.WithoutCancel(ctx), w) }()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-w.Events():
				if !ok {
					return
				}
			}
			r, err := take(ctx, xs, known)
			if err != nil || r == "" {
				continue
			}
			select {
			case out <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// take reads control/shutdown and, if it holds a known request, clears it in one transaction.
func take(ctx context.Context, xs *xenstore.Client, known []Request) (Request, error) {
	var got Request
	err := xs.Update(ctx, func(tx *xenstore.Tx) error {
		got = ""
		v, err := tx.Read(ctx, ShutdownPath)
		if errors.Is(err, xen.ENOENT) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, k := range known {
			if string(v) == string(k) {
				got = k
				return tx.Write(ctx, ShutdownPath, nil)
			}
		}
		return nil
	})
	return got, err
}
