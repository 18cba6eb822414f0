// The suspend sequence against a recording board and recording services.

package pvh

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/evtchn"
)

// steps records, in one list, every call the board and the services receive.
type steps struct {
	t    *testing.T
	list []string
}

func (s *steps) add(format string, args ...any) {
	s.list = append(s.list, fmt.Sprintf(format, args...))
}

// index returns where step is in the list, failing the test when it is not there.
func (s *steps) index(step string) int {
	i := slices.Index(s.list, step)
	require.GreaterOrEqual(s.t, i, 0, "%q never happened: %q", step, s.list)
	return i
}

// fakeBoard plays the platform: each method records itself and returns what the test set.
type fakeBoard struct {
	*steps
	cancelled bool
	suspend   error // from SchedSuspend
	sharedErr error
	upcallErr error
	port      xen.Port
	portErr   error
	logs      []string
}

func (b *fakeBoard) FlushConsole() { b.add("flush console") }
func (b *fakeBoard) SchedSuspend() (bool, error) {
	b.add("SCHEDOP_shutdown(suspend)")
	return b.cancelled, b.suspend
}
func (b *fakeBoard) MapSharedInfo() error   { b.add("map shared_info"); return b.sharedErr }
func (b *fakeBoard) SetUpcallVector() error { b.add("set upcall vector"); return b.upcallErr }
func (b *fakeBoard) AttachConsole()         { b.add("attach console") }
func (b *fakeBoard) StoreEvtchn() (xen.Port, error) {
	b.add("get STORE_EVTCHN")
	return b.port, b.portErr
}
func (b *fakeBoard) Fatal(msg string) { b.add("fatal: %s", msg) }
func (b *fakeBoard) Logf(format string, args ...any) {
	b.logs = append(b.logs, fmt.Sprintf(format, args...))
}

// fakeEvents plays the event channel dispatcher. Reattach delivers the event the toolstack
// left pending on the new port, so the XenStore reader runs at once: it must find the ring
// resynced, or it reads the page the toolstack cleared with the old domain's indices.
type fakeEvents struct {
	*steps
	ring        *fakeRing
	resumeErr   error
	reattachErr error
}

func (e *fakeEvents) Resume() error { e.add("events resume"); return e.resumeErr }
func (e *fakeEvents) Reattach(c *evtchn.Channel, port xen.Port) error {
	e.add("reattach XenStore channel to port %d", port)
	if e.ring != nil && !e.ring.resynced {
		e.add("XenStore reader read the cleared ring with stale indices")
	}
	return e.reattachErr
}

type fakeRing struct {
	*steps
	resynced bool
}

func (r *fakeRing) Resync() { r.add("XenStore ring resync"); r.resynced = true }

type fakeXenStore struct {
	*steps
	suspendErr error
	resumeErr  error
	deadlines  []time.Duration // how long each call was given
}

func (x *fakeXenStore) Suspend(ctx context.Context) error {
	x.add("XenStore quiesce")
	x.deadline(ctx)
	return x.suspendErr
}

func (x *fakeXenStore) Resume(ctx context.Context, newDomain bool) error {
	x.add("XenStore resume (new domain %v)", newDomain)
	x.deadline(ctx)
	if newDomain {
		return x.resumeErr
	}
	return nil
}

func (x *fakeXenStore) deadline(ctx context.Context) {
	d, ok := ctx.Deadline()
	if !ok {
		x.deadlines = append(x.deadlines, 0)
		return
	}
	x.deadlines = append(x.deadlines, time.Until(d))
}

type fakeGrants struct {
	*steps
	err error
}

func (g *fakeGrants) Resume() error { g.add("grants resume"); return g.err }

// guest is a board and the services Suspend drives, all recording into one list.
type guest struct {
	*steps
	board  *fakeBoard
	events *fakeEvents
	ring   *fakeRing
	xs     *fakeXenStore
	grants *fakeGrants
	noXS   bool // the guest never connected XenStore
	noGT   bool // nor set up a grant table
}

func newGuest(t *testing.T) *guest {
	s := &steps{t: t}
	ring := &fakeRing{steps: s}
	return &guest{
		steps:  s,
		board:  &fakeBoard{steps: s, port: 7},
		events: &fakeEvents{steps: s, ring: ring},
		ring:   ring,
		xs:     &fakeXenStore{steps: s},
		grants: &fakeGrants{steps: s},
	}
}

func (g *guest) suspend() (bool, error) {
	sv := Services{Events: g.events}
	if !g.noXS {
		sv.XenStore = &XenStore{Client: g.xs, Ring: g.ring, Channel: &evtchn.Channel{}}
	}
	if !g.noGT {
		sv.Grants = g.grants
	}
	return Suspend(context.Background(), g.board, sv)
}

// newDomainSteps is the whole sequence of a save and restore that goes well.
var newDomainSteps = []string{
	"XenStore quiesce",
	"flush console",
	"SCHEDOP_shutdown(suspend)",
	"map shared_info",
	"events resume",
	"set upcall vector",
	"attach console",
	"get STORE_EVTCHN",
	"XenStore ring resync",
	"reattach XenStore channel to port 7",
	"XenStore resume (new domain true)",
	"grants resume",
}

func TestSuspendSequence(t *testing.T) {
	errHyp := errors.New("hypercall failed")
	errSome := errors.New("some step failed")
	tests := []struct {
		name      string
		setup     func(g *guest)
		newDomain bool
		wantErr   error  // errors.Is the returned error
		errText   string // or the returned error says this
		steps     []string
	}{
		{
			name:      "new domain",
			newDomain: true,
			steps:     newDomainSteps,
		},
		{
			name:  "cancelled: XenStore lets requests through again, nothing else",
			setup: func(g *guest) { g.board.cancelled = true },
			steps: []string{"XenStore quiesce", "flush console", "SCHEDOP_shutdown(suspend)", "XenStore resume (new domain false)"},
		},
		{
			name:  "cancelled without XenStore",
			setup: func(g *guest) { g.board.cancelled = true; g.noXS = true },
			steps: []string{"flush console", "SCHEDOP_shutdown(suspend)"},
		},
		{
			name:    "the hypercall fails: XenStore lets requests through again",
			setup:   func(g *guest) { g.board.suspend = errHyp },
			wantErr: errHyp,
			steps:   []string{"XenStore quiesce", "flush console", "SCHEDOP_shutdown(suspend)", "XenStore resume (new domain false)"},
		},
		{
			name:      "XenStore not quiesced in time: suspend anyway",
			setup:     func(g *guest) { g.xs.suspendErr = context.DeadlineExceeded },
			newDomain: true,
			steps:     newDomainSteps,
		},
		{
			name:    "shared_info not mapped: fatal, nothing after",
			setup:   func(g *guest) { g.board.sharedErr = errHyp },
			wantErr: errHyp, newDomain: true,
			steps: []string{"XenStore quiesce", "flush console", "SCHEDOP_shutdown(suspend)", "map shared_info", "fatal: hypercall failed"},
		},
		{
			name:    "upcall vector not set: fatal, nothing after",
			setup:   func(g *guest) { g.board.upcallErr = errHyp },
			wantErr: errHyp, newDomain: true,
			steps: []string{"XenStore quiesce", "flush console", "SCHEDOP_shutdown(suspend)", "map shared_info", "events resume", "set upcall vector", "fatal: hypercall failed"},
		},
		{
			name:    "events fail to resume: every other step still runs",
			setup:   func(g *guest) { g.events.resumeErr = errSome },
			wantErr: errSome, newDomain: true,
			steps: newDomainSteps,
		},
		{
			name:    "no XenStore port: the ring stays as it is, grants still resume",
			setup:   func(g *guest) { g.board.port = 0 },
			errText: "no XenStore event channel", newDomain: true,
			steps: append(slices.Clone(newDomainSteps[:8]), "grants resume"),
		},
		{
			name:    "STORE_EVTCHN unreadable",
			setup:   func(g *guest) { g.board.portErr = errHyp },
			wantErr: errHyp, newDomain: true,
			steps: append(slices.Clone(newDomainSteps[:8]), "grants resume"),
		},
		{
			name:    "channel not reattached: no resume on a ring nobody hears",
			setup:   func(g *guest) { g.events.reattachErr = errSome },
			wantErr: errSome, newDomain: true,
			steps: append(slices.Clone(newDomainSteps[:10]), "grants resume"),
		},
		{
			name:    "watches not registered again",
			setup:   func(g *guest) { g.xs.resumeErr = errSome },
			wantErr: errSome, newDomain: true,
			steps: newDomainSteps,
		},
		{
			name:    "grant table not mapped again",
			setup:   func(g *guest) { g.grants.err = errSome },
			wantErr: errSome, newDomain: true,
			steps: newDomainSteps,
		},
		{
			name:      "new domain without XenStore or grant table",
			setup:     func(g *guest) { g.noXS, g.noGT = true, true },
			newDomain: true,
			steps:     []string{"flush console", "SCHEDOP_shutdown(suspend)", "map shared_info", "events resume", "set upcall vector", "attach console"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGuest(t)
			if tt.setup != nil {
				tt.setup(g)
			}
			newDomain, err := g.suspend()
			assert.Equal(t, tt.newDomain, newDomain, "newDomain")
			switch {
			case tt.wantErr != nil:
				assert.ErrorIs(t, err, tt.wantErr)
			case tt.errText != "":
				assert.ErrorContains(t, err, tt.errText)
			default:
				assert.NoError(t, err)
			}
			assert.Equal(t, tt.steps, g.list)
		})
	}
}

// TestSuspendOrder names the orderings that matter in a new domain, and why.
func TestSuspendOrder(t *testing.T) {
	g := newGuest(t)
	newDomain, err := g.suspend()
	require.NoError(t, err)
	require.True(t, newDomain)
	g.add("devices resume") // the caller: netfront.Device.Resume
	at := g.index
	before := func(a, b, why string) {
		t.Helper()
		assert.Less(t, at(a), at(b), "%s before %s: %s", a, b, why)
	}

	before("XenStore quiesce", "SCHEDOP_shutdown(suspend)", "no request may be in flight when the daemon goes away")
	before("flush console", "SCHEDOP_shutdown(suspend)", "the last lines must reach xenconsoled")
	assert.Equal(t, at("SCHEDOP_shutdown(suspend)")+1, at("map shared_info"),
		"shared_info comes first in a new domain: without it there are no events and no clock")
	before("events resume", "reattach XenStore channel to port 7", "Reattach moves a channel that Resume marked stale")
	before("set upcall vector", "XenStore resume (new domain true)", "XenStore waits for events, which arrive through the upcall vector")
	before("XenStore ring resync", "reattach XenStore channel to port 7",
		"once its channel is back the ring's reader may run, and must not read the cleared page with the old indices")
	assert.NotContains(t, g.list, "XenStore reader read the cleared ring with stale indices")
	before("reattach XenStore channel to port 7", "XenStore resume (new domain true)", "the watches' replies arrive on the new port")
	before("XenStore resume (new domain true)", "devices resume", "devices reconnect through XenStore")
	before("grants resume", "devices resume", "devices grant their rings again")
	assert.Equal(t, []string{
		"resumed in a new domain; events and console back, reattaching XenStore",
		"XenStore back on port 7",
	}, g.board.logs)
}

// TestSuspendTimeouts: quiescing XenStore holds the toolstack up, so it is bounded tighter than
// registering the watches again in the new domain; letting requests through after a cancelled
// suspension waits for nothing.
func TestSuspendTimeouts(t *testing.T) {
	g := newGuest(t)
	_, err := g.suspend()
	require.NoError(t, err)
	require.Len(t, g.xs.deadlines, 2)
	assert.InDelta(t, quiesceTimeout, g.xs.deadlines[0], float64(time.Second))
	assert.InDelta(t, resumeTimeout, g.xs.deadlines[1], float64(time.Second))

	g = newGuest(t)
	g.board.cancelled = true
	_, err = g.suspend()
	require.NoError(t, err)
	require.Len(t, g.xs.deadlines, 2)
	assert.Zero(t, g.xs.deadlines[1], "no deadline of its own for the cancelled case")
}

// A quiesce that runs out of time is reported, and the domain suspends all the same.
func TestSuspendReportsQuiesce(t *testing.T) {
	g := newGuest(t)
	g.xs.suspendErr = context.DeadlineExceeded
	_, err := g.suspend()
	require.NoError(t, err)
	assert.Equal(t, "suspend: context deadline exceeded", g.board.logs[0])
}
