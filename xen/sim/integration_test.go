// The core services against the simulator as the platform: the real evtchn Dispatcher, gnttab
// Table, xenstore client over the store ring page, and xenbus handshake, with a backend in dom0.

package sim_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/ring"
	"github.com/tamaxen/tamaxen/xen/sim"
	"github.com/tamaxen/tamaxen/xen/sim/xenstored"
	"github.com/tamaxen/tamaxen/xen/xenbus"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

func hangCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// machine boots dom0 with xenstored and guest dom7 with a vif, and connects the guest's
// xenstore client through its store ring exactly as the board does.
func machine(t *testing.T) (x *sim.Xen, dom0, guest *sim.Services, xs *xenstored.Store, gxs *xenstore.Client) {
	x = sim.New(sim.Config{})
	t.Cleanup(x.Close)
	var err error
	dom0, err = x.Dom0().Boot(gnttab.Config{})
	require.NoError(t, err)
	g, err := x.NewDomain(7, sim.DomainConfig{Pages: 64})
	require.NoError(t, err)
	guest, err = g.Boot(gnttab.Config{})
	require.NoError(t, err)
	t.Cleanup(dom0.Grants.Close)
	t.Cleanup(guest.Grants.Close)

	xs = xenstored.New(dom0)
	t.Cleanup(xs.Close)
	require.NoError(t, xs.MakeDomain(7, "guest"))
	require.NoError(t, xs.AddVif(7, 0, "00:16:3e:5a:11:01", 0))
	require.NoError(t, xs.Introduce(g))

	// The board's side: HVM params through the hypercall, the port attached to the Dispatcher.
	pfn, err := xen.GetParam(g.Hypervisor(), xen.HVM_PARAM_STORE_PFN)
	require.NoError(t, err)
	port, err := xen.GetParam(g.Hypervisor(), xen.HVM_PARAM_STORE_EVTCHN)
	require.NoError(t, err)
	ch, err := guest.Events.Attach(xen.Port(port))
	require.NoError(t, err)
	tr, err := xenstore.NewRingTransport(g.Page(xen.Frame(pfn)), ch)
	require.NoError(t, err)
	gxs = xenstore.New(tr)
	t.Cleanup(func() {
		_ = gxs.Close()
		_ = ch.Close()
	})
	return x, dom0, guest, xs, gxs
}

func TestGuestXenstoreOverRing(t *testing.T) {
	_, _, _, xs, gxs := machine(t)
	ctx := hangCtx(t)
	id, err := xenstore.Identify(ctx, gxs)
	require.NoError(t, err)
	assert.Equal(t, xen.DomID(7), id.DomID)
	mac, err := xenstore.ReadString(ctx, gxs, "device/vif/0/mac")
	require.NoError(t, err)
	assert.Equal(t, "00:16:3e:5a:11:01", mac)
	// Big values cross the 1 KiB rings in several pieces.
	big := make([]byte, 3000)
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	require.NoError(t, gxs.Write(ctx, "data/big", big))
	v, ok := xs.Read("/local/domain/7/data/big")
	require.True(t, ok)
	assert.Equal(t, string(big), v)
	for i := range 50 {
		require.NoError(t, gxs.Write(ctx, "data/n", []byte(strconv.Itoa(i))))
	}
	_, err = gxs.Read(ctx, "/local/domain/0/backend")
	assert.ErrorIs(t, err, xen.EACCES)
}

// backend is a minimal xenbus backend in dom0 for a one-ring device: InitWait, wait for the
// frontend to connect, map its ring and bind its port, Connected; then answer each request
// with the request's first byte + 1, until the frontend closes.
func backend(ctx context.Context, t *testing.T, dom0 *sim.Services, c *xenstore.Client, dir, front string) error {
	if err := c.Write(ctx, dir+"/state", []byte("2")); err != nil {
		return err
	}
	w, err := c.Watch(ctx, front+"/state")
	if err != nil {
		return err
	}
	defer func() { _ = c.Unwatch(context.WithoutCancel(ctx), w) }()
	state := func() string { v, _ := c.Read(ctx, front+"/state"); return string(v) }
	for state() != "4" {
		if _, ok := <-w.Events(); !ok {
			return w.Err()
		}
	}
	ref, err := xenstore.ReadUint(ctx, c, front+"/ring-ref", 32)
	if err != nil {
		return err
	}
	port, err := xenstore.ReadUint(ctx, c, front+"/event-channel", 32)
	if err != nil {
		return err
	}
	m, err := dom0.Domain.MapGrant(7, xen.GrantRef(ref), true)
	if err != nil {
		return err
	}
	defer m.Unmap()
	ch, err := dom0.Events.BindInterdomain(7, xen.Port(port))
	if err != nil {
		return err
	}
	defer func() { _ = ch.Close() }()
	back, err := ring.NewBack(m.Data, 8)
	if err != nil {
		return err
	}
	if err := c.Write(ctx, dir+"/state", []byte("4")); err != nil {
		return err
	}
	events := make(chan struct{}, 1)
	go func() {
		for ch.Wait(ctx) == nil {
			select {
			case events <- struct{}{}:
			default:
			}
		}
	}()
	var req [8]byte
	for {
		for {
			ok, err := back.ConsumeRequest(req[:])
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			slot, err := back.NextResponse()
			if err != nil {
				return err
			}
			slot[0] = req[0] + 1
			if back.PushResponsesAndCheckNotify() {
				_ = ch.Notify()
			}
		}
		if more, _ := back.FinalCheckForRequests(); more {
			continue
		}
		select {
		case <-events:
		case <-w.Events():
			if s := state(); s == "5" || s == "6" {
				_ = c.Write(ctx, dir+"/state", []byte("6"))
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func TestXenbusHandshakeAndRing(t *testing.T) {
	_, dom0, guest, xs, gxs := machine(t)
	ctx := hangCtx(t)
	front, back := xenstored.VifPaths(7, 0, 0)
	bc, err := xs.Client(0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bc.Close() })
	beDone := make(chan error, 1)
	go func() { beDone <- backend(ctx, t, dom0, bc, back, front) }()

	dev, err := xenbus.Open(ctx, gxs, "vif", "0")
	require.NoError(t, err)
	assert.Equal(t, back, dev.Backend)
	bw, err := dev.WatchBackend(ctx)
	require.NoError(t, err)
	defer bw.Close()

	pg, err := guest.Domain.Memory().AllocPage()
	require.NoError(t, err)
	fr, err := ring.NewFront(pg.Data, 8)
	require.NoError(t, err)
	ref, err := guest.Grants.Grant(dev.BackendID, pg.Frame, false)
	require.NoError(t, err)
	ch, err := guest.Events.AllocUnbound(dev.BackendID)
	require.NoError(t, err)
	err = dev.Connect(ctx, bw, func(tx *xenstore.Tx) error {
		if err := tx.Write(ctx, dev.Path+"/ring-ref", []byte(strconv.Itoa(int(ref)))); err != nil {
			return err
		}
		return tx.Write(ctx, dev.Path+"/event-channel", []byte(strconv.Itoa(int(ch.Port()))))
	})
	require.NoError(t, err)
	assert.ErrorIs(t, guest.Grants.EndAccess(ref), gnttab.ErrInUse, "the backend has the ring mapped")

	var rsp [8]byte
	for i := range 300 { // more than the ring's 256 slots: indices wrap around the ring
		slot, err := fr.NextRequest()
		require.NoError(t, err)
		slot[0] = byte(i)
		if fr.PushRequestsAndCheckNotify() {
			require.NoError(t, ch.Notify())
		}
		for {
			ok, err := fr.ConsumeResponse(rsp[:])
			require.NoError(t, err)
			if ok {
				break
			}
			if more, _ := fr.FinalCheckForResponses(); !more {
				require.NoError(t, ch.Wait(ctx))
			}
		}
		require.Equal(t, byte(i)+1, rsp[0])
	}

	require.NoError(t, dev.Close(ctx, bw))
	require.NoError(t, <-beDone)
	// The backend unmapped on its way out; the guest can take its page back.
	require.NoError(t, guest.Grants.Revoke(ref))
	require.NoError(t, ch.Close())
}
