// A simulated Xen for the tests: its own port table, and the 2-level set_pending and unmask
// algorithms of Xen's event_2l.c applied to a real shared_info page.

package evtchn

import (
	"sync"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

const fakeSelf xen.DomID = 7 // the guest's domain id in the fake

type portState uint8

const (
	stFree portState = iota
	stUnbound
	stInterdomain
	stVIRQ
)

type fakePort struct {
	state     portState
	remoteDom xen.DomID // unbound: who may bind; interdomain: the peer domain
	peer      xen.Port  // interdomain: the peer's port (a local port for a loopback)
	virq      VIRQ
}

// fakeXen implements xen.Hypervisor's EventChannelOp like Xen does for a single-vcpu guest.
// The upcall is "raised" by calling the Dispatcher's Upcall in the goroutine that made the event
// pending, as an interrupt would run on the vcpu; that makes deliveries cross goroutines.
type fakeXen struct {
	page []byte
	si   sharedInfo

	mu    sync.Mutex // guards ports, fail
	ports [EVTCHN_2L_NR_CHANNELS]fakePort
	fail  [16]error // next error to return per command

	upcall       func()
	raised       atomic.Uint64 // upcalls raised (0->1 of evtchn_upcall_pending)
	remoteEvents [EVTCHN_2L_NR_CHANNELS]atomic.Uint64
	opCount      [16]atomic.Uint64
}

// alignedPage returns a zeroed, page-aligned page.
func alignedPage() []byte { return shmem.Pages(1) }

func newFakeXen() *fakeXen {
	f := &fakeXen{page: alignedPage()}
	si, err := newSharedInfo(f.page, 0)
	if err != nil {
		panic(err) // the test's own buffer: a bug in the test
	}
	f.si = si
	return f
}

// newTestDispatcher returns a Dispatcher wired to a fresh fake.
func newTestDispatcher() (*Dispatcher, *fakeXen) {
	f := newFakeXen()
	d, err := New(f, f.page, 0)
	if err != nil {
		panic(err)
	}
	f.upcall = d.Upcall
	return d, f
}

func (f *fakeXen) failNext(cmd uint32, err error) {
	f.mu.Lock()
	f.fail[cmd] = err
	f.mu.Unlock()
}

func (f *fakeXen) resolve(d xen.DomID) xen.DomID {
	if d == xen.DOMID_SELF {
		return fakeSelf
	}
	return d
}

// allocPortLocked returns the lowest free port; port 0 is reserved as in Xen.
func (f *fakeXen) allocPortLocked() (xen.Port, error) {
	for p := 1; p < len(f.ports); p++ {
		if f.ports[p].state == stFree {
			return xen.Port(p), nil
		}
	}
	return 0, xen.ENOSPC
}

var argSize = map[uint32]int{
	EVTCHNOP_bind_interdomain: SizeofEvtchnBindInterdomain,
	EVTCHNOP_bind_virq:        SizeofEvtchnBindVirq,
	EVTCHNOP_close:            SizeofEvtchnClose,
	EVTCHNOP_send:             SizeofEvtchnSend,
	EVTCHNOP_alloc_unbound:    SizeofEvtchnAllocUnbound,
	EVTCHNOP_unmask:           SizeofEvtchnUnmask,
}

func (f *fakeXen) EventChannelOp(cmd uint32, arg []byte) error {
	if cmd >= uint32(len(f.fail)) {
		return xen.ENOSYS
	}
	f.opCount[cmd].Add(1)
	if n, ok := argSize[cmd]; !ok || len(arg) != n {
		return xen.EINVAL
	}
	f.mu.Lock()
	if err := f.fail[cmd]; err != nil {
		f.fail[cmd] = nil
		f.mu.Unlock()
		return err
	}
	raise, err := f.opLocked(cmd, arg)
	f.mu.Unlock()
	if raise != 0 {
		f.setPending(raise)
	}
	return err
}

// opLocked performs cmd and returns a port to make pending once the lock is dropped.
func (f *fakeXen) opLocked(cmd uint32, a []byte) (xen.Port, error) {
	port := xen.Port(le.Uint32(a))
	switch cmd {
	case EVTCHNOP_alloc_unbound:
		if f.resolve(xen.DomID(le.Uint16(a[OffsetofEvtchnAllocUnboundDom:]))) != fakeSelf {
			return 0, xen.EPERM
		}
		p, err := f.allocPortLocked()
		if err != nil {
			return 0, err
		}
		remote := f.resolve(xen.DomID(le.Uint16(a[OffsetofEvtchnAllocUnboundRemote:])))
		f.ports[p] = fakePort{state: stUnbound, remoteDom: remote}
		le.PutUint32(a[OffsetofEvtchnAllocUnboundPortOut:], uint32(p))
	case EVTCHNOP_bind_interdomain:
		remote := f.resolve(xen.DomID(le.Uint16(a[OffsetofEvtchnBindInterdomainRemoteDom:])))
		rport := xen.Port(le.Uint32(a[OffsetofEvtchnBindInterdomainRemotePort:]))
		if rport == 0 || rport >= EVTCHN_2L_NR_CHANNELS {
			return 0, xen.EINVAL
		}
		if remote == fakeSelf {
			if rp := f.ports[rport]; rp.state != stUnbound || rp.remoteDom != fakeSelf {
				return 0, xen.EINVAL
			}
		}
		p, err := f.allocPortLocked()
		if err != nil {
			return 0, err
		}
		f.ports[p] = fakePort{state: stInterdomain, remoteDom: remote, peer: rport}
		if remote == fakeSelf {
			f.ports[rport] = fakePort{state: stInterdomain, remoteDom: fakeSelf, peer: p}
		}
		le.PutUint32(a[OffsetofEvtchnBindInterdomainLocalPortOut:], uint32(p))
		// Xen marks the new local port pending, in case the peer sent before we bound.
		return p, nil
	case EVTCHNOP_bind_virq:
		virq := VIRQ(le.Uint32(a[OffsetofEvtchnBindVirqVirq:]))
		if virq >= NR_VIRQS || le.Uint32(a[OffsetofEvtchnBindVirqVcpu:]) != 0 {
			return 0, xen.EINVAL
		}
		for i := range f.ports {
			if f.ports[i].state == stVIRQ && f.ports[i].virq == virq {
				return 0, xen.EEXIST
			}
		}
		p, err := f.allocPortLocked()
		if err != nil {
			return 0, err
		}
		f.ports[p] = fakePort{state: stVIRQ, virq: virq}
		le.PutUint32(a[OffsetofEvtchnBindVirqPortOut:], uint32(p))
	case EVTCHNOP_close:
		if port >= EVTCHN_2L_NR_CHANNELS || f.ports[port].state == stFree {
			return 0, xen.EINVAL
		}
		if fp := f.ports[port]; fp.state == stInterdomain && fp.remoteDom == fakeSelf {
			f.ports[fp.peer] = fakePort{state: stUnbound, remoteDom: fakeSelf}
		}
		f.ports[port] = fakePort{}
	case EVTCHNOP_send:
		if port >= EVTCHN_2L_NR_CHANNELS {
			return 0, xen.EINVAL
		}
		switch fp := f.ports[port]; fp.state {
		case stInterdomain:
			if fp.remoteDom == fakeSelf {
				return fp.peer, nil
			}
			f.remoteEvents[port].Add(1)
		case stUnbound: // Xen drops it silently
		default:
			return 0, xen.EINVAL
		}
	case EVTCHNOP_unmask:
		if port >= EVTCHN_2L_NR_CHANNELS || f.ports[port].state == stFree {
			return 0, xen.EINVAL
		}
		f.unmask(port)
	}
	return 0, nil
}

// setPending is evtchn_2l_set_pending followed by vcpu_mark_events_pending.
func (f *fakeXen) setPending(p xen.Port) {
	w, m := bit(p)
	if f.si.pendingWord(w).Or(m)&m != 0 {
		return
	}
	if !f.si.masked(p) {
		f.markWord(w)
	}
}

// markWord sets the selector bit of word w and raises the upcall on a 0->1 transition.
func (f *fakeXen) markWord(w int) {
	if f.si.pendingSelWord().Or(1<<w)&(1<<w) != 0 {
		return
	}
	if f.si.upcallWord().Or(1)&1 != 0 {
		return
	}
	f.raised.Add(1)
	if f.upcall != nil {
		f.upcall()
	}
}

// unmask is evtchn_2l_unmask.
func (f *fakeXen) unmask(p xen.Port) {
	w, m := bit(p)
	if f.si.maskWord(w).And(^m)&m != 0 && f.si.isPending(p) {
		f.markWord(w)
	}
}

// remoteSend models the remote domain sending on the peer of our port p.
func (f *fakeXen) remoteSend(p xen.Port) { f.setPending(p) }

// raiseVIRQ makes the port bound to virq pending.
func (f *fakeXen) raiseVIRQ(virq VIRQ) bool {
	f.mu.Lock()
	var port xen.Port
	for i := range f.ports {
		if f.ports[i].state == stVIRQ && f.ports[i].virq == virq {
			port = xen.Port(i)
		}
	}
	f.mu.Unlock()
	if port == 0 {
		return false
	}
	f.setPending(port)
	return true
}

func (f *fakeXen) GrantTableOp(uint32, []byte, uint32) error { return xen.ENOSYS }
func (f *fakeXen) MemoryOp(uint32, []byte) (int64, error)    { return 0, xen.ENOSYS }
func (f *fakeXen) HVMOp(uint32, []byte) error                { return xen.ENOSYS }
