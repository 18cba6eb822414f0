// Device discovery under device/<type>/, the backend lookup and the frontend's own state.

package xenbus

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// Devices lists the ids of the guest's devices of a type ("vif", "vbd"), the names under
// device/<type>/ in its home directory. No such directory means no such devices.
func Devices(ctx context.Context, xs xenstore.Ops, typ string) ([]string, error) {
	if err := checkName("device type", typ); err != nil {
		return nil, err
	}
	ids, err := xs.Directory(ctx, "device/"+typ)
	if errors.Is(err, xen.ENOENT) {
		return nil, nil
	}
	return ids, err
}

// checkName refuses a path component that would change which node a path names.
func checkName(what, s string) error {
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\x00") {
		return fmt.Errorf("xenbus: bad %s %q", what, s)
	}
	return nil
}

// Device is one frontend device and the backend serving it.
type Device struct {
	xs *xenstore.Client
	// prepared: Prepare saw this device Initialising and its backend in InitWait, and nothing
	// has written the device's state since; Connect then skips the same checks.
	prepared bool

	Type      string    // "vif"
	ID        string    // "0"
	Path      string    // the frontend directory, relative to the guest's home: "device/vif/0"
	Backend   string    // the backend directory, absolute: "/local/domain/0/backend/vif/7/0"
	BackendID xen.DomID // the domain running the backend
}

// Open finds the backend of device/<typ>/<id>: it reads the frontend's "backend" and
// "backend-id" nodes, waiting (on a watch, until ctx ends) for the toolstack to write them if
// they are not there yet.
func Open(ctx context.Context, xs *xenstore.Client, typ, id string) (*Device, error) {
	if err := checkName("device type", typ); err != nil {
		return nil, err
	}
	if err := checkName("device id", id); err != nil {
		return nil, err
	}
	d := &Device{xs: xs, Type: typ, ID: id, Path: "device/" + typ + "/" + id}
	// The toolstack has usually written both nodes before the guest runs: read them first and
	// watch only while they are missing (the watch and its removal are two more round trips).
	found, err := d.readBackend(ctx)
	if err != nil {
		return nil, err
	}
	if found {
		return d, nil
	}
	w, err := xs.Watch(ctx, d.Path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = xs.Unwatch(context.WithoutCancel(ctx), w) }()
	for {
		// The watch fires once on registration, so the first pass reads what is there now.
		select {
		case _, ok := <-w.Events():
			if !ok {
				return nil, fmt.Errorf("xenbus: %s: watch ended: %w", d.Path, w.Err())
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("xenbus: %s: waiting for the backend: %w", d.Path, ctx.Err())
		}
		found, err := d.readBackend(ctx)
		if err != nil {
			return nil, err
		}
		if found {
			return d, nil
		}
	}
}

// readBackend reads backend and backend-id; it reports false while either is still missing.
// Both are written by the toolstack, so their form is checked before they are used to build
// paths: the backend must be an absolute path and backend-id a domain id.
func (d *Device) readBackend(ctx context.Context) (bool, error) {
	// Both requests go out together: one round trip.
	var id uint64
	var idErr error
	read := make(chan struct{})
	go func() {
		defer close(read)
		id, idErr = xenstore.ReadUint(ctx, d.xs, d.Path+"/backend-id", 16)
	}()
	be, err := xenstore.ReadString(ctx, d.xs, d.Path+"/backend")
	<-read
	if errors.Is(err, xen.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	err = idErr
	if errors.Is(err, xen.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("xenbus: %s/backend-id: %w", d.Path, err)
	}
	if !strings.HasPrefix(be, "/") || strings.HasSuffix(be, "/") || strings.Contains(be, "//") ||
		len(be) > xenstore.XENSTORE_ABS_PATH_MAX-len("/state") {
		return false, fmt.Errorf("xenbus: %s/backend %q is not an absolute path: %w", d.Path, be, xen.EINVAL)
	}
	d.Backend, d.BackendID = be, xen.DomID(id)
	return true, nil
}

func (d *Device) String() string { return d.Path }

// State reads the frontend's own state.
func (d *Device) State(ctx context.Context) (State, error) {
	return readState(ctx, d.xs, d.Path+"/state")
}

// BackendState reads the backend's state once; WatchBackend follows it.
func (d *Device) BackendState(ctx context.Context) (State, error) {
	return readState(ctx, d.xs, d.Backend+"/state")
}

func readState(ctx context.Context, xs xenstore.Ops, path string) (State, error) {
	v, err := xs.Read(ctx, path)
	if err != nil {
		return XenbusStateUnknown, err
	}
	return ParseState(v)
}

// SwitchState writes the frontend's state (xenbus_switch_state). It runs in a transaction that
// first checks the state node still exists: when the toolstack removes a device it deletes the
// directory, and a late state write must not bring the node back.
func (d *Device) SwitchState(ctx context.Context, s State) error {
	d.prepared = false
	return d.xs.Update(ctx, func(tx *xenstore.Tx) error {
		return switchState(ctx, tx, d.Path, s)
	})
}

func switchState(ctx context.Context, tx *xenstore.Tx, dir string, s State) error {
	cur, err := tx.Read(ctx, dir+"/state")
	if err != nil {
		return fmt.Errorf("xenbus: %s: switching to %v: %w", dir, s, err)
	}
	if string(cur) == s.wire() {
		return nil
	}
	return tx.Write(ctx, dir+"/state", []byte(s.wire()))
}
