// A hand-played frontend for conformance tests: a sim guest with its own XenStore connection
// that grants rings and buffers, writes the frontend keys and connects over xenbus, with no
// netfront involved.

package netback

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/evtchn"
	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/ring"
	"github.com/tamaxen/tamaxen/xen/shmem"
	"github.com/tamaxen/tamaxen/xen/sim"
	"github.com/tamaxen/tamaxen/xen/sim/xenstored"
	"github.com/tamaxen/tamaxen/xen/xenbus"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// hangCtx bounds waits that would otherwise block forever; it detects hangs, it times nothing.
func hangCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

const (
	waitFor = 30 * time.Second // generous: a hang detector for require.Eventually
	tick    = time.Millisecond
)

// machine is a simulated Xen with dom0 and xenstored running.
type machine struct {
	x    *sim.Xen
	dom0 *sim.Services
	xs   *xenstored.Store
}

func newMachine(t testing.TB) *machine {
	m := &machine{x: sim.New(sim.Config{Dom0Pages: 1024})}
	t.Cleanup(m.x.Close)
	var err error
	m.dom0, err = m.x.Dom0().Boot(gnttab.Config{})
	require.NoError(t, err)
	t.Cleanup(m.dom0.Grants.Close)
	m.xs = xenstored.New(m.dom0)
	t.Cleanup(m.xs.Close)
	return m
}

// guest is a booted guest with vif 0 created by the toolstack and a XenStore connection.
type guest struct {
	dom *sim.Domain
	svc *sim.Services
	xs  *xenstore.Client
}

func (m *machine) newGuest(t testing.TB, id xen.DomID, mac string) *guest {
	d, err := m.x.NewDomain(id, sim.DomainConfig{Pages: 1600})
	require.NoError(t, err)
	svc, err := d.Boot(gnttab.Config{})
	require.NoError(t, err)
	t.Cleanup(svc.Grants.Close)
	require.NoError(t, m.xs.MakeDomain(id, "guest"+strconv.Itoa(int(id))))
	require.NoError(t, m.xs.AddVif(id, 0, mac, 0))
	require.NoError(t, m.xs.Introduce(d))
	pfn, err := xen.GetParam(d.Hypervisor(), xen.HVM_PARAM_STORE_PFN)
	require.NoError(t, err)
	port, err := xen.GetParam(d.Hypervisor(), xen.HVM_PARAM_STORE_EVTCHN)
	require.NoError(t, err)
	ch, err := svc.Events.Attach(xen.Port(port))
	require.NoError(t, err)
	tr, err := xenstore.NewRingTransport(d.Page(xen.Frame(pfn)), ch)
	require.NoError(t, err)
	g := &guest{dom: d, svc: svc, xs: xenstore.New(tr)}
	t.Cleanup(func() {
		_ = g.xs.Close()
		_ = ch.Close()
	})
	return g
}

// handFront is one queue of a frontend played by hand: both rings granted, one event channel
// left masked and unattached, so that the backend's notifications show as its pending bit in
// the guest's shared_info and nothing else consumes them.
type handFront struct {
	g      *guest
	be     *Backend
	tx, rx *ring.Front
	rxPage []byte
	port   xen.Port
	bufs   []xen.Page     // RX buffer pages
	refs   []xen.GrantRef // refs[i] grants bufs[i] to dom0, writable
	posted map[uint16]int // request id -> index in bufs, for the requests posted so far
}

// newHandFront connects vif 0 of a new guest to a backend with cfg. keys are written with the
// mandatory ones (tx-ring-ref, rx-ring-ref, event-channel, request-rx-copy) in the frontend's
// connect transaction.
func newHandFront(t *testing.T, cfg Config, keys map[string]string) *handFront {
	m := newMachine(t)
	g := m.newGuest(t, 7, "00:16:3e:00:00:07")
	be, err := New(m.dom0, m.xs, 7, 0, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = be.Close() })
	f := &handFront{g: g, be: be, posted: make(map[uint16]int)}

	mem := g.dom.Memory()
	txPage, err := mem.AllocPage()
	require.NoError(t, err)
	rxPage, err := mem.AllocPage()
	require.NoError(t, err)
	f.tx, err = ring.NewFront(txPage.Data, netif.TxSlotSize)
	require.NoError(t, err)
	f.rx, err = ring.NewFront(rxPage.Data, netif.RxSlotSize)
	require.NoError(t, err)
	f.rxPage = rxPage.Data
	txRef, err := g.svc.Grants.Grant(0, txPage.Frame, false)
	require.NoError(t, err)
	rxRef, err := g.svc.Grants.Grant(0, rxPage.Frame, false)
	require.NoError(t, err)
	for range 32 {
		pg, err := mem.AllocPage()
		require.NoError(t, err)
		ref, err := g.svc.Grants.Grant(0, pg.Frame, false)
		require.NoError(t, err)
		f.bufs = append(f.bufs, pg)
		f.refs = append(f.refs, ref)
	}
	// The Dispatcher masked every port when it was created; this one is never attached.
	f.port, err = evtchn.AllocUnbound(g.dom.Hypervisor(), 0)
	require.NoError(t, err)

	ctx := hangCtx(t)
	dev, err := xenbus.Open(ctx, g.xs, "vif", "0")
	require.NoError(t, err)
	bw, err := dev.WatchBackend(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bw.Close() })
	all := map[string]string{
		"tx-ring-ref":     strconv.Itoa(int(txRef)),
		"rx-ring-ref":     strconv.Itoa(int(rxRef)),
		"event-channel":   strconv.Itoa(int(f.port)),
		"request-rx-copy": "1",
	}
	for k, v := range keys {
		all[k] = v
	}
	// xenbus.Connect: Initialising, wait for InitWait, the keys and Connected in one
	// transaction, then wait for the backend's Connected.
	require.NoError(t, dev.Connect(ctx, bw, func(tx *xenstore.Tx) error {
		for k, v := range all {
			if err := tx.Write(ctx, dev.Path+"/"+k, []byte(v)); err != nil {
				return err
			}
		}
		return nil
	}))
	require.Equal(t, xenbus.XenbusStateConnected, be.State())
	require.Equal(t, 1, be.Queues())
	return f
}

// post produces one RX request per id, buffer i for ids[i] (after the buffers already
// posted), and publishes them; it reports RING_PUSH_REQUESTS_AND_CHECK_NOTIFY's answer.
func (f *handFront) post(t *testing.T, ids ...uint16) bool {
	for _, id := range ids {
		i := len(f.posted)
		require.Less(t, i, len(f.bufs), "out of RX buffers")
		slot, err := f.rx.NextRequest()
		require.NoError(t, err)
		req := netif.RxRequest{ID: id, Gref: uint32(f.refs[i])}
		req.Encode(slot)
		f.posted[id] = i
	}
	return f.rx.PushRequestsAndCheckNotify()
}

// waitResponses waits until n responses are ready and returns them as raw slots, consumed.
func (f *handFront) waitResponses(t *testing.T, n int) [][netif.RxSlotSize]byte {
	require.Eventually(t, func() bool {
		got, err := f.rx.UnconsumedResponses()
		return err == nil && int(got) >= n
	}, waitFor, tick, "waiting for %d RX responses", n)
	out := make([][netif.RxSlotSize]byte, n)
	for i := range out {
		ok, err := f.rx.ConsumeResponse(out[i][:])
		require.NoError(t, err)
		require.True(t, ok)
	}
	got, err := f.rx.UnconsumedResponses()
	require.NoError(t, err)
	require.Zero(t, got, "more responses than slots")
	return out
}

// pendingWord is the 32-bit word of the guest's shared_info evtchn_pending bitmap holding
// the frontend's port, and its bit.
func (f *handFront) pendingWord() (*atomic.Uint32, uint32) {
	off := evtchn.OffsetofSharedInfoEvtchnPending + 4*int(f.port/32)
	return shmem.Uint32(f.g.dom.SharedInfo(), off), 1 << (f.port % 32)
}

// takeEvent reports whether the backend has notified the port since the last call, and
// clears the pending bit (what the guest's upcall would do).
func (f *handFront) takeEvent() bool {
	w, m := f.pendingWord()
	return w.And(^m)&m != 0
}

func (f *handFront) eventPending() bool {
	w, m := f.pendingWord()
	return w.Load()&m != 0
}

// rxHeader is the RX ring header as the frontend sees it.
func (f *handFront) rxHeader() header { return header{f.rxPage} }

func (h header) reqEvent() uint32     { return shmem.Load32(h.page, ring.OffReqEvent) }
func (h header) setRspEvent(v uint32) { shmem.Store32(h.page, ring.OffRspEvent, v) }

// notify is the frontend's notify_remote_via_irq.
func (f *handFront) notify(t *testing.T) {
	require.NoError(t, evtchn.Send(f.g.dom.Hypervisor(), f.port))
}
